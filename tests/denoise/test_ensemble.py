import numpy as np
import pytest

from operando._errors import InputError
from operando.denoise import denoise


@pytest.fixture
def short_training(monkeypatch):
    """denoise() trains by time budget; cap the steps so that runs are short and repeatable."""
    from operando.denoise import _training

    real = _training.train_denoiser
    monkeypatch.setattr(_training, "train_denoiser", lambda *a, **k: real(*a, **{**k, "max_steps": 8}))


def test_ensemble_averages_runs_with_consecutive_seeds(noisy_video, short_training):
    video = noisy_video.to_numpy().astype(np.float32)
    singles = [denoise(video, axes="TYX", method="n2v", rng=seed) for seed in (3, 4)]
    assert not np.allclose(singles[0], singles[1])  # the seeds differ, so the runs do
    both = denoise(video, axes="TYX", method="n2v", rng=3, ensemble=2)
    np.testing.assert_allclose(both, (singles[0] + singles[1]) / 2, atol=1e-5)
    assert both.shape == video.shape and both.dtype == video.dtype


def test_ensemble_keeps_an_integer_input_type_and_records_itself(noisy_video, short_training):
    from operando._stack import Stack

    counts = Stack(np.clip(noisy_video.to_numpy() * 1000, 0, None).astype(np.uint16), axes=noisy_video.axes,
                   metadata=noisy_video.metadata)
    out = denoise(counts, method="n2v", rng=0, ensemble=2)
    assert out.dtype == np.uint16 and out.shape == counts.shape and out.axes == counts.axes
    assert out.metadata.extra["denoise"] == {"method": "n2v", "ensemble": 2}


@pytest.mark.parametrize("method, ensemble", [("median", 2), ("video", 0)])
def test_ensemble_refuses_filters_and_empty_ensembles(noisy_video, method, ensemble):
    with pytest.raises(InputError, match="ensemble"):
        denoise(noisy_video, method=method, ensemble=ensemble)
