"""Streamed auto: denoise_large(method="auto") chooses once on a sample, streams it and records the choice."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import Stack
from operando.denoise import _diagnose
from operando.io import STREAM_MANIFEST, read, write
from operando.workflows.scale import denoise_large

LIMIT = "300KB"  # 9 frames of 40 x 44 with the video halo: chunks of 3 frames


@pytest.fixture(scope="module")
def video_zarr(tmp_path_factory):
    """9 frames of 40 x 44 with white noise in Zarr: auto picks the video denoiser."""
    folder = tmp_path_factory.mktemp("stream_auto")
    rng = np.random.default_rng(0)
    clean = np.linspace(0.2, 0.8, 44, dtype=np.float32)[None, None, :].repeat(40, 1).repeat(9, 0)
    write(Stack((clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32), axes="TYX"),
          folder / "in.zarr")
    return folder


@pytest.fixture
def measured(monkeypatch):
    calls = []
    measure = _diagnose.measure
    monkeypatch.setattr(_diagnose, "measure", lambda *a, **k: calls.append(1) or measure(*a, **k))
    return calls


def test_denoise_large_auto_from_python_records_the_choice(video_zarr, tmp_path, measured, monkeypatch):
    from operando.denoise import load_model

    monkeypatch.setattr("operando.workflows.scale._api.TRAIN_COPIES", 1)  # the whole stack is the sample
    events = []
    result = denoise_large(video_zarr / "in.zarr", tmp_path / "o.zarr", method="auto", max_steps=2, rng=0,
                           memory_limit=LIMIT, dtype="float32", device="cpu", progress=events.append)
    assert len(measured) == 1  # one diagnosis: the choice and the training share it
    auto = result.manifest["auto"]
    assert auto["method"] == "video" and "neighbour correlation" in auto["reason"]
    assert result.manifest["settings"]["method"] == "video" and result.n_chunks >= 2
    on_disk = json.loads((tmp_path / "o.zarr" / STREAM_MANIFEST).read_text())
    assert on_disk["auto"] == auto
    assert load_model(tmp_path / "o.zarr" / "operando_stream" / "model").auto == auto
    assert any(e.message.startswith("auto -> video") and e.fields["auto"] == auto for e in events)
    assert read(tmp_path / "o.zarr").shape == (9, 40, 44)
    # the same run again resumes (the choice is the same; it is not part of what must match)
    again = denoise_large(video_zarr / "in.zarr", tmp_path / "o.zarr", method="auto", max_steps=2, rng=0,
                          memory_limit=LIMIT, dtype="float32", device="cpu")
    assert again.skipped == result.n_chunks and again.manifest["auto"] == auto


def test_streamed_auto_equals_the_named_method(video_zarr, tmp_path, monkeypatch):
    monkeypatch.setattr("operando.workflows.scale._api.TRAIN_COPIES", 1)
    auto = denoise_large(video_zarr / "in.zarr", tmp_path / "a.zarr", method="auto", max_steps=2, rng=0,
                         memory_limit=LIMIT, dtype="float32", device="cpu")
    named = denoise_large(video_zarr / "in.zarr", tmp_path / "n.zarr", method="video", max_steps=2, rng=0,
                          memory_limit=LIMIT, dtype="float32", device="cpu")
    assert auto.manifest["auto"]["method"] == "video" and "auto" not in named.manifest
    np.testing.assert_array_equal(read(tmp_path / "a.zarr").to_numpy(), read(tmp_path / "n.zarr").to_numpy())


def test_cli_streamed_auto_records_the_choice_in_the_manifest(video_zarr, tmp_path, measured):
    from operando.cli import app

    out = tmp_path / "o.zarr"
    result = CliRunner().invoke(app, ["denoise", str(video_zarr / "in.zarr"), "-o", str(out), "--method", "auto",
                                      "--time-budget", "1", "--memory-limit", LIMIT, "--device", "cpu",
                                      "--keep-float"])
    assert result.exit_code == 0, result.output
    assert len(measured) == 1
    manifest = json.loads((out / STREAM_MANIFEST).read_text())
    assert manifest["auto"]["method"] == "video" and manifest["auto"]["reason"]
    assert "method auto -> video (diagnosed on a sample of frames)" in result.output


def test_a_method_that_does_not_stream_is_refused_naming_those_that_do(video_zarr, tmp_path):
    from operando import InputError

    with pytest.raises(InputError, match="does not stream chunk by chunk; use auto or one of video") as info:
        denoise_large(video_zarr / "in.zarr", tmp_path / "o.zarr", method="bm3d_refine",
                      memory_limit=LIMIT, device="cpu")
    assert "\n" not in str(info.value) and not (tmp_path / "o.zarr").exists()
