"""shaped and pixel_shuffle stream chunk by chunk and equal the in-memory path; GPU workers get one GPU each."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import InputError, Stack
from operando.io import STREAM_MANIFEST, read, write
from operando.noise import add_correlated_noise
from operando.workflows.scale import denoise_large, denoised_dask_array

LIMIT = "200KB"  # 9 frames of 56 x 60: chunks of 2 frames (5 chunks)


@pytest.fixture(scope="module")
def correlated(tmp_path_factory):
    """9 frames of 56 x 60 with spatially correlated noise (rho 0.4) in Zarr (large enough to measure it)."""
    folder = tmp_path_factory.mktemp("spatial")
    clean = np.linspace(0.2, 0.8, 60, dtype=np.float32)[None, :].repeat(56, 0)
    x = np.stack([add_correlated_noise(clean, sigma=0.1, rho=0.4, rng=i) for i in range(9)]).astype(np.float32)
    write(Stack(x, axes="TYX"), folder / "in.zarr")
    return folder, x


def _whole_stack_sample(monkeypatch):
    """Let training see the whole stack (as in memory) while the chunks stay small: the model is the same."""
    monkeypatch.setattr("operando.workflows.scale._api.TRAIN_COPIES", 1)


def test_streamed_shaped_equals_in_memory(correlated, tmp_path, monkeypatch):
    from operando.denoise import load_model, predict, train_denoiser

    folder, x = correlated
    _whole_stack_sample(monkeypatch)
    result = denoise_large(folder / "in.zarr", tmp_path / "o.zarr", method="shaped", max_steps=2, rng=0,
                           memory_limit=LIMIT, dtype="float32", device="cpu")
    assert result.n_chunks >= 2 and result.manifest["plan"]["halo"] == 0
    assert result.manifest["training_sample"] == {"sample": "whole stack"}
    stored = load_model(tmp_path / "o.zarr" / "operando_stream" / "model")
    assert stored.config.method == "shaped" and stored.config.blind_spot_radius_px >= 1  # measured: rho 0.4
    in_memory = predict(train_denoiser(Stack(x, axes="TYX"), method="shaped", max_steps=2, rng=0, device="cpu"),
                        Stack(x, axes="TYX"), device="cpu").to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - in_memory).max() <= 1e-6


def test_streamed_pixel_shuffle_equals_in_memory_and_records_its_settings(correlated, tmp_path, monkeypatch):
    from operando.denoise import TrainConfig, denoise_pixel_shuffle

    folder, x = correlated
    _whole_stack_sample(monkeypatch)
    kwargs = dict(method="pixel_shuffle", max_steps=2, rng=0, memory_limit=LIMIT, dtype="float32", device="cpu")
    result = denoise_large(folder / "in.zarr", tmp_path / "o.zarr", **kwargs)
    assert result.n_chunks >= 2
    in_memory = denoise_pixel_shuffle(Stack(x, axes="TYX"), config=TrainConfig(max_steps=2), rng=0, device="cpu")
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - in_memory.to_numpy()).max() <= 1e-6
    recorded = json.loads((tmp_path / "o.zarr" / STREAM_MANIFEST).read_text())["pixel_shuffle"]
    expect = in_memory.metadata.extra["denoise"]
    assert recorded["train_stride"] == expect["train_stride"] >= 2 and recorded["infer_stride"] == 1
    assert recorded["refine_passes"] == 4 and recorded["refine_seed"] == 1
    again = denoise_large(folder / "in.zarr", tmp_path / "o.zarr", **kwargs)
    assert again.skipped == again.n_chunks and again.manifest["model_sha256"] == result.manifest["model_sha256"]
    before = read(tmp_path / "o.zarr").to_numpy().copy()
    with pytest.raises(InputError, match="another run .different model, settings"):
        denoise_large(folder / "in.zarr", tmp_path / "o.zarr", **{**kwargs, "refine_passes": 2})
    with pytest.raises(InputError, match="another run"):
        denoise_large(folder / "in.zarr", tmp_path / "o.zarr", **{**kwargs, "train_stride": 3})
    np.testing.assert_array_equal(read(tmp_path / "o.zarr").to_numpy(), before)


def test_pixel_shuffle_trained_on_a_sample_streams_its_recorded_model_exactly(correlated, tmp_path):
    from operando.denoise import apply_pixel_shuffle, load_model

    folder, x = correlated
    result = denoise_large(folder / "in.zarr", tmp_path / "o.zarr", method="pixel_shuffle", max_steps=2, rng=3,
                           memory_limit=LIMIT, dtype="float32", device="cpu", refine_passes=2, infer_stride=2)
    assert result.n_chunks >= 2 and result.manifest["training_sample"]["sample"] == "blocks"
    found = result.manifest["pixel_shuffle"]
    assert found["infer_stride"] == 2 and found["refine_passes"] == 2 and found["refine_seed"] == 4
    model = load_model(tmp_path / "o.zarr" / "operando_stream" / "model")
    whole = apply_pixel_shuffle(model, Stack(x, axes="TYX"), infer_stride=2, refine_passes=2,
                                refine_fraction=found["refine_fraction"], seed=4, device="cpu").to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - whole).max() <= 1e-6
    arr = denoised_dask_array(read(folder / "in.zarr", lazy=True), model=tmp_path / "o.zarr/operando_stream/model",
                              memory_limit="100KB", device="cpu", pixel_shuffle=found)
    assert arr.numblocks[0] > 1 and np.abs(arr.compute(scheduler="threads") - whole).max() <= 1e-6


def test_refinement_draws_depend_on_the_frame_not_on_the_chunk():
    from operando.denoise._pixel_shuffle import refine_generators

    whole = refine_generators(7, 2, 0, 9)
    part = refine_generators(7, 2, 3, 4)
    for b in range(2):
        for s in range(4):
            np.testing.assert_array_equal(part[b][s].random(5), whole[b][3 + s].random(5))
    assert not np.array_equal(whole[0][0].random(5), whole[0][1].random(5))
    assert not np.array_equal(refine_generators(7, 2, 0, 1)[1][0].random(5), whole[0][0].random(5))


def test_bad_pixel_shuffle_settings_are_refused_before_training(correlated, tmp_path):
    folder, _ = correlated
    with pytest.raises(InputError, match="refine_fraction 1.5") as info:
        denoise_large(folder / "in.zarr", tmp_path / "o.zarr", method="pixel_shuffle", refine_fraction=1.5,
                      memory_limit=LIMIT, device="cpu")
    assert "\n" not in str(info.value) and not (tmp_path / "o.zarr").exists()


def test_cli_auto_picks_pixel_shuffle_for_single_images_and_streams(correlated, tmp_path):
    from operando.cli import app

    folder, x = correlated
    write(Stack(x[:4], axes="TYX"), tmp_path / "four.zarr")  # < 5 frames: single images, correlated noise
    out = tmp_path / "o.zarr"
    result = CliRunner().invoke(app, ["denoise", str(tmp_path / "four.zarr"), "-o", str(out), "--time-budget", "1",
                                      "--memory-limit", LIMIT, "--device", "cpu", "--keep-float"])
    assert result.exit_code == 0, result.output
    # pixel_shuffle is chosen, or bm3d_refine (with the bm3d extra) falls back to it: it does not stream
    assert ("method auto -> pixel_shuffle" in result.output or "bm3d_refine does not stream chunk by chunk; using "
            "pixel_shuffle" in " ".join(result.output.split()))
    manifest = json.loads((out / STREAM_MANIFEST).read_text())
    assert manifest["settings"]["method"] == "pixel_shuffle" and manifest["plan"]["chunk_frames"] < 4
    assert read(out).shape == (4, 56, 60)


def test_processes_scheduler_starts_one_worker_per_gpu(monkeypatch):
    import os

    import torch

    from operando.workflows.scale._run import local_workers

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert local_workers("processes", "auto") == 3 and local_workers("processes", "cuda") == 3
    assert local_workers("processes", "cpu") == (os.cpu_count() or 1)
    assert local_workers("local:5", "auto") == 5  # asked for: worker i uses GPU i mod 3
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert local_workers("processes", "auto") == (os.cpu_count() or 1)
