"""bm3d_refine: BM3D with the measured spectrum, refined by a network trained on re-noised BM3D output."""

import numpy as np
import pytest
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio as psnr
from skimage.transform import resize

from operando import InputError, Stack
from operando.denoise import TrainConfig, denoise, train_denoiser
from operando.noise import add_correlated_noise, measure_noise_correlation, psd_from_autocovariance

pytest.importorskip("bm3d")


def _scene(n=96):
    """A textured natural image (part of scikit-image's camera), in [0, 1]."""
    return resize(skdata.camera()[40:296, 120:376] / 255.0, (n, n), anti_aliasing=True).astype(np.float32)


def test_correlated_gaussian_has_the_spectrum_it_is_given():
    from operando.denoise._bm3d_refine import correlated_gaussian

    noisy = add_correlated_noise(np.zeros((128, 128), np.float32), sigma=0.1, rho=0.4, rng=0)
    acov = measure_noise_correlation(noisy).autocovariance()
    draws = np.stack([correlated_gaussian(psd_from_autocovariance(acov, (128, 128)), np.random.default_rng(s))
                      for s in range(8)])
    centre = acov.shape[0] // 2
    assert draws.var() == pytest.approx(acov[centre, centre], rel=0.05)
    neighbour = np.mean(draws[..., 1:] * draws[..., :-1]) / draws.var()
    assert neighbour == pytest.approx(acov[centre, centre + 1] / acov[centre, centre], abs=0.03)


def test_refinement_beats_bm3d_on_correlated_noise():
    """The claim of the method, small: a few hundred steps already take BM3D's output closer to the truth."""
    from operando.denoise import denoise_bm3d
    from operando.denoise._bm3d_refine import denoise_bm3d_refined

    clean = _scene()
    noisy = add_correlated_noise(clean, sigma=0.1, rho=0.4, rng=1)
    first = denoise_bm3d(noisy)
    refined = denoise_bm3d_refined(noisy, config=TrainConfig(max_steps=300, time_budget_s=600), pairs=8, rng=0)
    assert psnr(clean, refined, data_range=1) > psnr(clean, first, data_range=1) + 0.1


def test_a_run_repeats_exactly_and_records_what_it_did():
    from operando.denoise._bm3d_refine import denoise_bm3d_refined

    noisy = Stack(add_correlated_noise(_scene(48), sigma=0.1, rho=0.4, rng=2), axes="YX")
    config = TrainConfig(max_steps=10, time_budget_s=600, patch=32)
    one = denoise_bm3d_refined(noisy, config=config, pairs=3, rng=5)
    two = denoise_bm3d_refined(noisy, config=config, pairs=3, rng=5)
    other = denoise_bm3d_refined(noisy, config=config, pairs=3, rng=6)
    # equal up to the bm3d package's own run-to-run wobble (its threads: up to ~1e-5 on small images)
    np.testing.assert_allclose(one.to_numpy(), two.to_numpy(), atol=5e-4)
    assert np.abs(one.to_numpy() - other.to_numpy()).max() > 2e-3
    record = one.metadata.extra["denoise"]
    assert record["method"] == "bm3d_refine" and record["seed"] == 5 and record["psd"] == "measured"
    assert record["images"][0]["pairs"] == 3 and record["images"][0]["steps"] == 10
    assert one.shape == noisy.shape and one.dtype == noisy.dtype


def test_registry_row_runs_through_denoise_with_the_budget_shared_by_the_frames():
    noisy = add_correlated_noise(np.repeat(_scene(48)[None], 2, axis=0), sigma=0.1, rho=0.4, rng=3)
    config = TrainConfig(method="bm3d_refine", max_steps=5, patch=32, seed=1, time_budget_s=2)
    out = denoise(Stack(noisy, axes="TYX"), config=config)
    record = out.metadata.extra["denoise"]
    assert out.shape == noisy.shape and len(record["images"]) == 2
    # 1 s per frame: the fewest pairs (4) unless they are quick, then training until the budget or max_steps
    assert all(4 <= r["pairs"] <= 64 and 1 <= r["steps"] <= 5 and r["seconds"] < 10 for r in record["images"])
    assert record["config"]["method"] == "bm3d_refine" and record["seed"] == 1


def test_bad_input_is_refused_in_one_line():
    from operando.denoise._bm3d_refine import denoise_bm3d_refined

    with pytest.raises(InputError, match="at least 16 px"):
        denoise_bm3d_refined(np.random.default_rng(0).random((12, 12)).astype(np.float32))
    with pytest.raises(InputError, match="pairs >= 1"):
        denoise_bm3d_refined(_scene(32), pairs=0)
    with pytest.raises(InputError, match="keeps none to save"):
        train_denoiser(_scene(32), method="bm3d_refine", max_steps=1)
