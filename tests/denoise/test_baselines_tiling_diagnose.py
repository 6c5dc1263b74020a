import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from operando.denoise import denoise, diagnose
from operando.denoise._tiling import tiled_apply
from operando.noise import corrupt

from .conftest import gain_db


@pytest.mark.parametrize("method", ["gaussian", "median", "tv", "nlm"])
def test_baselines_raise_psnr(clean_video, noisy_video, method):
    out = denoise(noisy_video, method=method)
    assert out.shape == noisy_video.shape and out.dtype == noisy_video.dtype
    assert gain_db(clean_video, noisy_video, out) > 3.0
    assert out.metadata.extra["denoise"]["method"] == method


def test_median_beats_gaussian_on_impulse_noise(clean_video):
    noisy = corrupt(clean_video, "impulse:0.2", rng=0)
    assert gain_db(clean_video, noisy, denoise(noisy, method="median")) > gain_db(
        clean_video, noisy, denoise(noisy, method="gaussian")) + 3


def test_bm4d_without_the_extra_says_how_to_install(noisy_video):
    pytest.importorskip("torch")
    try:
        import bm4d  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"operando\[bm3d\]"):
            denoise(noisy_video, method="bm4d")


@settings(max_examples=25, deadline=None)
@given(h=st.integers(5, 70), w=st.integers(5, 70), tile=st.integers(8, 40), overlap=st.integers(0, 12))
def test_tile_and_stitch_is_the_identity(h, w, tile, overlap):
    x = torch.rand(2, 3, h, w)
    out = tiled_apply(lambda t: t, x, out_channels=3, tile=tile, overlap=overlap, multiple=4)
    torch.testing.assert_close(out, x)


def test_tiled_matches_untiled_in_the_interior(noisy_video, tiny_config):
    from operando.denoise import predict, train_denoiser

    big = np.tile(noisy_video.to_numpy(), (1, 3, 3))  # 96 x 96 frames
    model = train_denoiser(big, axes="TYX", config=tiny_config.model_copy(update={"max_steps": 20}), rng=0)
    whole = predict(model, big, axes="TYX", tile=512)
    tiled = predict(model, big, axes="TYX", tile=48, overlap=16)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert np.max(np.abs(whole[inner] - tiled[inner])) < 0.02 * np.ptp(whole)


def test_exact_impulse_pixels_finds_fixed_values_only(clean_video, rng):
    from operando.denoise._measured import exact_impulse_pixels

    clean = clean_video.to_numpy()
    gauss = clean + rng.normal(0, 0.05, clean.shape).astype(np.float32)
    assert exact_impulse_pixels(gauss) is None
    salted = gauss.copy()
    hit = rng.random(clean.shape) < 0.05
    salted[hit] = 0.5  # inside the data's range, not at its extremes
    np.testing.assert_array_equal(exact_impulse_pixels(salted), hit)
    counts = rng.poisson(10 * clean).astype(np.float32)  # discrete data repeat values without any impulses
    assert exact_impulse_pixels(counts) is None


def test_diagnose_recognises_noise_types(clean_video):
    assert diagnose(corrupt(clean_video, "gaussian:0.1", rng=0)).noise_sigma == pytest.approx(0.1, rel=0.25)
    imp = diagnose(corrupt(clean_video, "impulse:0.1", rng=0))
    assert imp.impulses_known and imp.recommended_loss == "mse" and imp.impulse_fraction > 0.02
    hidden = diagnose(corrupt(clean_video, "mixed:10,0.02,0.1", rng=0))  # impulses inside strong count noise
    assert hidden.impulses_known and hidden.impulse_fraction == pytest.approx(0.1, abs=0.02)
    spikes = clean_video.to_numpy() + 0.0
    spikes[:, ::7, ::5] += 0.6  # outliers at values that never repeat: only a robust loss handles them
    odd = diagnose(spikes, axes="TYX")
    assert not odd.impulses_known and odd.recommended_loss == "l1"
    stripes = diagnose(corrupt(clean_video, "scanline:0.1+gaussian:0.02", rng=0))
    assert stripes.stripes and stripes.recommended_method == "video"
    fixed = diagnose(corrupt(clean_video, "fixed:0.1", rng=0))
    assert fixed.static_in_time and fixed.recommended_method != "video"
    few = diagnose(corrupt(clean_video, "gaussian:0.1", rng=0).to_numpy()[:3], axes="TYX")
    assert few.recommended_method in ("n2v2", "structn2v")


def test_bm4d_refuses_a_stack_smaller_than_its_block_in_one_line():
    pytest.importorskip("bm4d")
    from operando import InputError
    from operando.denoise import denoise

    with pytest.raises(InputError, match="at least 8 frames"):
        denoise(np.zeros((4, 16, 16), np.float32), axes="TYX", method="bm4d")
