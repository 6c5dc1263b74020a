"""The noise measurements report progress and stop when their callback raises Cancelled."""

import numpy as np
import pytest

from operando import Cancelled, ProgressEvent
from operando.noise import add_correlated_noise, measure_noise_correlation, noise_autocorrelation


def _video():
    return add_correlated_noise(np.full((6, 72, 72), 0.5), sigma=0.1, rho=0.3, rng=0)


def test_measure_noise_correlation_reports_each_frame_pair_and_stops_on_cancel():
    events: list[ProgressEvent] = []
    plain = measure_noise_correlation(_video(), axes="TYX")
    reported = measure_noise_correlation(_video(), axes="TYX", progress=events.append)
    assert reported.acf_x == plain.acf_x and reported.temporal_corr == plain.temporal_corr  # same numbers
    pairs = [e for e in events if "frame pair" in e.message]
    assert len(pairs) == 5 and all(0.0 <= e.fraction <= 1.0 for e in events)
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)

    def stop(event):
        if "frame pair 2" in event.message:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        measure_noise_correlation(_video(), axes="TYX", progress=stop)


def test_noise_autocorrelation_reports_its_lag_rows_and_stops_on_cancel():
    events: list[ProgressEvent] = []
    img = np.random.default_rng(1).standard_normal((32, 32))
    assert np.array_equal(noise_autocorrelation(img, max_lag=3, progress=events.append).acf_2d,
                          noise_autocorrelation(img, max_lag=3).acf_2d, equal_nan=True)
    assert len(events) == 4 and events[-1].fraction == 0.75

    def stop(event):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        noise_autocorrelation(img, max_lag=3, progress=stop)
