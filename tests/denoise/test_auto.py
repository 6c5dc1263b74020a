"""method="auto": chosen from the measured noise; never a correlated-noise scheme on white noise."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import Stack
from operando.denoise import TrainConfig, choose_method, denoise, diagnose, train_denoiser
from operando.denoise._bm3d import bm3d_available
from operando.noise import add_correlated_noise, add_poisson_noise


def _image(n=96):
    yy, xx = np.mgrid[:n, :n] / n
    return (0.5 + 0.3 * np.sin(7 * xx) * np.cos(5 * yy) + 0.15 * (xx > 0.6)).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.03, 0.1, 0.2])
@pytest.mark.parametrize("seed", [0, 1])
def test_auto_never_picks_a_correlated_scheme_on_white_noise(sigma, seed):
    noisy = _image() + sigma * np.random.default_rng(seed).standard_normal((96, 96)).astype(np.float32)
    choice = choose_method(noisy)
    assert choice.method == "n2v2", choice.reason
    assert "neighbour correlation" in choice.reason


def test_auto_on_white_poisson_noise_and_white_video():
    assert choose_method(add_poisson_noise(_image(), peak=20, rng=0)).method == "n2v2"
    video = np.repeat(_image(64)[None], 8, axis=0) + 0.1 * np.random.default_rng(0).standard_normal((8, 64, 64))
    choice = choose_method(video.astype(np.float32), axes="TYX")
    assert choice.method == "video" and choice.settings == {"blind_spot": True, "blind_spot_radius_px": 0}


def test_auto_on_correlated_noise():
    noisy = add_correlated_noise(_image(), sigma=0.1, rho=0.4, rng=0)
    choice = choose_method(noisy)
    assert choice.method == ("bm3d_refine" if bm3d_available() else "pixel_shuffle")
    d = diagnose(noisy)  # the right sign and size (a median-filter residual read about -0.1 here)
    assert d.spatial_corr_x == pytest.approx(0.4, abs=0.07) and d.correlation_length_px >= 1
    assert not d.spatially_white
    video = add_correlated_noise(np.repeat(_image(64)[None], 8, axis=0), sigma=0.1, rho=0.4, rng=1)
    choice = choose_method(video, axes="TYX")
    assert choice.method == "video" and choice.settings["blind_spot_radius_px"] >= 1


def test_video_donut_hole_follows_the_measured_correlation():
    video = add_correlated_noise(np.repeat(_image(64)[None], 8, axis=0), sigma=0.1, rho=0.4, rng=1)
    model = train_denoiser(video, axes="TYX", method="video", max_steps=2, rng=0)
    r = model.config.blind_spot_radius_px
    assert model.config.blind_spot and r >= 1
    hole = model.module.donut.hole[0, 0]
    c = hole.shape[-1] // 2
    assert float(hole[c - r:c + r + 1, c - r:c + r + 1].sum()) == 0.0 and float(hole.sum()) > 0


@pytest.mark.parametrize("installed", [True, False])
def test_auto_takes_bm3d_refine_for_a_correlated_image_only_with_the_extra(installed, monkeypatch):
    monkeypatch.setattr("operando.denoise._auto.method_available", lambda name: installed)
    choice = choose_method(add_correlated_noise(_image(), sigma=0.1, rho=0.4, rng=0))
    assert choice.method == ("bm3d_refine" if installed else "pixel_shuffle")
    assert "neighbour correlation" in choice.reason and ("operando[bm3d]" in choice.reason) != installed
    video = add_correlated_noise(np.repeat(_image(64)[None], 8, axis=0), sigma=0.1, rho=0.4, rng=1)
    assert choose_method(video, axes="TYX").method == "video"  # videos keep temporal masking
    white = _image() + 0.1 * np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32)
    assert choose_method(white).method == "n2v2"


def test_shaped_and_pixel_shuffle_run_and_record(monkeypatch):
    monkeypatch.setattr("operando.denoise._auto.method_available", lambda name: False)
    noisy = add_correlated_noise(_image(64), sigma=0.1, rho=0.4, rng=0)
    cfg = TrainConfig(method="shaped", max_steps=3, base=8, seed=0)
    out = denoise(Stack(noisy, axes="YX"), config=cfg)
    assert out.shape == noisy.shape and out.dtype == noisy.dtype
    assert out.metadata.extra["denoise"]["config"]["blind_spot_radius_px"] >= 1
    auto = denoise(Stack(noisy, axes="YX"), method="auto", config=TrainConfig(method="pixel_shuffle", max_steps=3,
                                                                             base=8, seed=0))
    record = auto.metadata.extra["denoise"]
    assert record["auto"]["method"] == "pixel_shuffle" and "neighbour correlation" in record["auto"]["reason"]
    assert record["train_stride"] >= 2 and auto.shape == noisy.shape


def test_cli_denoise_single_image_with_the_default_method(tmp_path):
    import tifffile

    from operando.cli import app
    from operando.io import read

    noisy = _image(64) + 0.1 * np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    tifffile.imwrite(tmp_path / "image.tif", noisy)
    r = CliRunner().invoke(app, ["denoise", str(tmp_path / "image.tif"), "-o", str(tmp_path / "out.tif"),
                                 "--time-budget", "2"])
    assert r.exit_code == 0, r.output
    assert "method auto -> n2v2" in r.output and "neighbour correlation" in r.output
    assert read(tmp_path / "out.tif").shape == (64, 64)
    r = CliRunner().invoke(app, ["diagnose", str(tmp_path / "image.tif"), "--denoised", str(tmp_path / "out.tif"),
                                 "--json", str(tmp_path / "d.json")])
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "d.json").read_text())
    assert record["recommended_method"] == "n2v2" and "residual_check" in record
    assert abs(record["noise_correlation"]["acf_x"][1]) < 0.1
