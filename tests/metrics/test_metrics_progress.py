"""The residual check and evaluate report progress and stop when their callback raises Cancelled."""

import numpy as np
import pytest
from scipy import ndimage

from operando import Cancelled, ProgressEvent
from operando.metrics import check_residual, evaluate


def test_check_residual_reports_the_noise_measurement_then_the_spectra():
    rng = np.random.default_rng(0)
    noisy = 0.5 + 0.1 * rng.standard_normal((4, 64, 64))
    denoised = ndimage.gaussian_filter(noisy, (0, 1, 1))
    events: list[ProgressEvent] = []
    reported = check_residual(noisy, denoised, axes="TYX", progress=events.append)
    assert reported == check_residual(noisy, denoised, axes="TYX")
    assert any(e.message.startswith("residual noise correlation") for e in events)
    assert events[-1].message == "residual check: spectra" and events[-1].fraction == 0.7

    def stop(event):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        check_residual(noisy, denoised, axes="TYX", progress=stop)


def test_evaluate_reports_each_candidate():
    clean = np.zeros((4, 16, 16))
    events: list[ProgressEvent] = []
    out = evaluate(clean, {"a": clean + 0.1, "b": clean + 0.2}, data_range=1.0, axes="TYX", progress=events.append)
    assert [e.fraction for e in events] == [0.0, 0.5, 1.0] and "b" in events[1].message and len(out) == 2

    def stop(event):
        if "b" in event.message:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        evaluate(clean, {"a": clean + 0.1, "b": clean + 0.2}, data_range=1.0, axes="TYX", progress=stop)
