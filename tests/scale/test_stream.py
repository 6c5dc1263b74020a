"""Streamed inference: equal to in-memory, resumable, refuses to mix runs, bounded training sample."""

import errno
import json

import numpy as np
import pytest

from operando import InputError, Stack
from operando.io import STREAM_MANIFEST, read, write
from operando.workflows.scale import (
    denoise_large,
    denoised_dask_array,
    parse_memory,
    plan_chunks,
    predict_large,
    training_sample,
)

TINY = "300KB"  # 4 frames of 40 x 36 per chunk: the 23-frame test video streams in 6 chunks


def _stream(folder, name, **kwargs):
    return predict_large(folder / "in.zarr", folder / name, model=folder / "model", memory_limit=TINY,
                         dtype="float32", device="cpu", **kwargs)


def test_streamed_video_prediction_equals_in_memory(stream_setup):
    folder, _, expected = stream_setup
    result = _stream(folder, "a.zarr")
    assert result.n_chunks == 6 and result.skipped == 0 and result.frames_computed == 23
    assert result.manifest["plan"]["halo"] == 2 and result.manifest["complete"] is True
    out = read(folder / "a.zarr")
    assert out.axes == "TYX" and out.dtype == np.float32
    assert np.abs(out.to_numpy() - expected).max() <= 1e-6
    assert sum(result.model_loads.values()) == 1  # loaded once, not once per chunk


@pytest.mark.parametrize("method", ["n2v2", pytest.param("structn2v", marks=pytest.mark.slow)])
def test_streamed_image_models_equal_in_memory(tmp_path, method):
    from operando.denoise import predict, save_model, train_denoiser

    x = np.random.default_rng(1).random((9, 32, 40)).astype(np.float32)
    stack = Stack(x, axes="TYX")
    write(stack, tmp_path / "in.h5")
    save_model(train_denoiser(stack, method=method, max_steps=2, rng=0, device="cpu"), tmp_path / "m")
    result = predict_large(tmp_path / "in.h5", tmp_path / "o.zarr", model=tmp_path / "m", memory_limit="200KB",
                           dtype="float32", device="cpu")
    assert result.n_chunks > 1 and result.manifest["plan"]["halo"] == 0
    expected = predict(__import__("operando.denoise", fromlist=["load_model"]).load_model(tmp_path / "m"), stack,
                       device="cpu").to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6


def test_integer_input_is_written_back_in_its_dtype(stream_setup, tmp_path):
    from operando.denoise import load_model, predict

    folder = stream_setup[0]
    x = (np.random.default_rng(2).random((11, 40, 36)) * 4000).astype(np.uint16)
    write(Stack(x, axes="TYX"), tmp_path / "in.tif")
    predict_large(tmp_path / "in.tif", tmp_path / "o.zarr", model=folder / "model", memory_limit=TINY, device="cpu")
    out = read(tmp_path / "o.zarr")
    expected = predict(load_model(folder / "model"), Stack(x, axes="TYX"), device="cpu").to_numpy()
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out.to_numpy(), expected)


def test_rerun_skips_verified_chunks_and_redoes_a_damaged_one(stream_setup):
    folder, _, expected = stream_setup
    _stream(folder, "b.zarr")
    again = _stream(folder, "b.zarr")
    assert again.skipped == 6 and again.frames_computed == 0
    import zarr

    arr = zarr.open_array(str(folder / "b.zarr"), path="data", mode="r+")
    arr[5:7] = 0.0  # damage chunk 1 (frames 4-7) behind the records' back
    third = _stream(folder, "b.zarr")
    assert third.skipped == 5 and third.frames_computed == 4
    assert np.abs(read(folder / "b.zarr").to_numpy() - expected).max() <= 1e-6


def test_interrupted_output_is_not_a_finished_one_and_resumes(stream_setup):
    folder, _, expected = stream_setup

    def stop_after_two(event):
        if event.message.startswith("8/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _stream(folder, "c.zarr", progress=stop_after_two)
    assert json.loads((folder / "c.zarr" / STREAM_MANIFEST).read_text())["complete"] is False
    with pytest.raises(InputError, match="interrupted run"):
        read(folder / "c.zarr")
    resumed = _stream(folder, "c.zarr")
    assert resumed.skipped == 2 and resumed.frames_computed == 15
    assert np.abs(read(folder / "c.zarr").to_numpy() - expected).max() <= 1e-6


def test_another_runs_output_is_refused_and_left_alone(stream_setup, tmp_path):
    from operando.denoise import save_model, train_denoiser

    folder, x, _ = stream_setup
    _stream(folder, "d.zarr")
    before = read(folder / "d.zarr").to_numpy().copy()
    other = train_denoiser(Stack(x, axes="TYX"), method="video", max_steps=1, rng=5, device="cpu")
    save_model(other, tmp_path / "other")
    with pytest.raises(InputError, match="another run .different model.*nothing was overwritten") as info:
        predict_large(folder / "in.zarr", folder / "d.zarr", model=tmp_path / "other", memory_limit=TINY,
                      dtype="float32", device="cpu")
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(read(folder / "d.zarr").to_numpy(), before)
    write(Stack(x[::-1].copy(), axes="TYX"), tmp_path / "other_input.zarr")
    with pytest.raises(InputError, match="different input"):
        predict_large(tmp_path / "other_input.zarr", folder / "d.zarr", model=folder / "model", memory_limit=TINY,
                      dtype="float32", device="cpu")
    write(Stack(x, axes="TYX"), tmp_path / "plain.zarr")  # a store that is no streamed output
    with pytest.raises(InputError, match="holds no operando manifest"):
        predict_large(folder / "in.zarr", tmp_path / "plain.zarr", model=folder / "model", device="cpu")


def test_disk_full_gives_one_line_error_and_keeps_finished_chunks(stream_setup, monkeypatch):
    import zarr

    folder, _, expected = stream_setup
    original = zarr.Array.__setitem__
    calls = [0]

    def full_disk(self, key, value):
        calls[0] += 1
        if calls[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, key, value)

    monkeypatch.setattr(zarr.Array, "__setitem__", full_disk)
    with pytest.raises(InputError, match="No space left on device.*3 finished chunk.*are kept") as info:
        _stream(folder, "e.zarr")
    assert "\n" not in str(info.value)
    monkeypatch.setattr(zarr.Array, "__setitem__", original)
    resumed = _stream(folder, "e.zarr")
    assert resumed.skipped == 3
    assert np.abs(read(folder / "e.zarr").to_numpy() - expected).max() <= 1e-6


def test_dask_array_api_equals_in_memory(stream_setup):
    folder, _, expected = stream_setup
    arr = denoised_dask_array(read(folder / "in.zarr", lazy=True), model=folder / "model", memory_limit=TINY,
                              device="cpu")
    assert arr.shape == expected.shape and arr.numblocks[0] > 1
    assert np.abs(arr.compute(scheduler="threads") - expected).max() <= 1e-6


def test_denoise_large_trains_on_a_bounded_sample_and_resumes_without_retraining(tmp_path):
    x = np.random.default_rng(3).random((64, 24, 24)).astype(np.float32)
    write(Stack(x, axes="TYX"), tmp_path / "big.zarr")
    kwargs = dict(method="video", max_steps=2, time_budget_s=60, memory_limit="400KB", dtype="float32",
                  device="cpu")
    first = denoise_large(tmp_path / "big.zarr", tmp_path / "out.zarr", **kwargs)
    sample = first.manifest["training_sample"]
    assert sample["sample"] == "blocks" and sample["frames"] < 64  # 64 x 24 x 24 float32 > 400 KB / 6
    assert sample["frames"] * 24 * 24 * 4 <= parse_memory("400KB") // 6
    assert read(tmp_path / "out.zarr").shape == x.shape
    again = denoise_large(tmp_path / "big.zarr", tmp_path / "out.zarr", **kwargs)
    assert again.skipped == again.n_chunks and again.manifest["model_sha256"] == first.manifest["model_sha256"]


def test_training_sample_is_whole_stack_when_it_fits_else_spread_blocks():
    x = np.arange(200 * 4 * 4, dtype=np.float32).reshape(200, 4, 4)
    whole, record = training_sample(Stack(x, axes="TYX"), budget_bytes=x.nbytes, window=5)
    assert record["sample"] == "whole stack" and whole.shape == x.shape
    part, record = training_sample(Stack(x, axes="TYX"), budget_bytes=x.nbytes // 2, window=5)
    assert part.axes == "ZTYX" and part.data.nbytes <= x.nbytes // 2 and part.shape[0] == 5
    assert record["starts"][0] == 0 and record["starts"][-1] + record["block_frames"] == 200
    np.testing.assert_array_equal(part.data[1], x[record["starts"][1]:record["starts"][1] + record["block_frames"]])


def test_memory_sizes_and_plans():
    assert parse_memory("2GB") == 2 * 10**9 and parse_memory("1.5GiB") == int(1.5 * 2**30)
    with pytest.raises(InputError, match="not a size"):
        parse_memory("lots")
    plan = plan_chunks((2000, 512, 512), "TYX", halo=2, memory_limit=parse_memory("500MB"))
    assert 1 < plan.chunk_frames < 2000 and plan.chunk_frames % plan.store_chunks[0] == 0
    with pytest.raises(InputError, match="too small"):
        plan_chunks((10, 4096, 4096), "TYX", halo=2, memory_limit=parse_memory("100MB"))


@pytest.mark.slow
def test_one_frame_chunks_still_see_the_whole_window(stream_setup, tmp_path):
    from operando.denoise import load_model, predict

    folder, x, _ = stream_setup
    write(Stack(x[:9], axes="TYX"), tmp_path / "short.zarr")
    result = predict_large(tmp_path / "short.zarr", tmp_path / "o.zarr", model=folder / "model", memory_limit="200KB",
                           dtype="float32", device="cpu")
    assert result.manifest["plan"]["chunk_frames"] == 1 and result.n_chunks == 9
    expected = predict(load_model(folder / "model"), Stack(x[:9], axes="TYX"), device="cpu").to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6


@pytest.mark.parametrize("method", ["gaussian", pytest.param("median", marks=pytest.mark.slow),
                                    pytest.param("tv", marks=pytest.mark.slow)])
def test_streamed_baselines_equal_in_memory(stream_setup, tmp_path, method):
    from operando.denoise import denoise_baseline, denoise_with_params

    folder, x, _ = stream_setup
    stack = Stack(x, axes="TYX")
    in_memory = denoise_baseline(stack, method=method)
    params = in_memory.metadata.extra["denoise"]["params"]
    np.testing.assert_array_equal(denoise_with_params(stack, method=method, params=params).to_numpy(),
                                  in_memory.to_numpy())
    limit = "1MB" if method == "gaussian" else TINY  # the Gaussian's halo: up to 12 frames
    result = denoise_large(folder / "in.zarr", tmp_path / "o.zarr", method=method, memory_limit=limit,
                           dtype="float32")
    assert result.n_chunks > 1  # the calibration saw a bounded sample: its parameters are in the manifest
    used = result.manifest["settings"]["params"]
    expected = denoise_with_params(stack, method=method, params=used).to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6
