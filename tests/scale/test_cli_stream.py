"""The command line: a .zarr output streams; --memory-limit / --scheduler; one-line errors."""

import numpy as np
from typer.testing import CliRunner

from operando.cli import app
from operando.io import read

runner = CliRunner()


def test_predict_to_zarr_streams_and_equals_in_memory(stream_setup, tmp_path):
    folder, _, expected = stream_setup
    out = tmp_path / "o.zarr"
    args = ["predict", str(folder / "in.zarr"), "--model", str(folder / "model"), "-o", str(out),
            "--memory-limit", "300KB", "--keep-float", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 chunk(s)" in result.output and "frames/s" in result.output
    assert np.abs(read(out).to_numpy() - expected).max() <= 1e-6
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "6 finished chunk(s) kept" in again.output


def test_denoise_big_zarr_end_to_end_and_refusals(stream_setup, tmp_path):
    folder = stream_setup[0]
    out = tmp_path / "d.zarr"
    result = runner.invoke(app, ["denoise", str(folder / "in.zarr"), "-o", str(out), "--method", "gaussian",
                                 "--memory-limit", "1MB"])
    assert result.exit_code == 0, result.output
    assert read(out).shape == (23, 40, 36)
    other = runner.invoke(app, ["denoise", str(folder / "in.zarr"), "-o", str(out), "--method", "median",
                                "--memory-limit", "1MB"])
    assert other.exit_code == 2
    assert "another run (different settings)" in other.output
    bad = runner.invoke(app, ["predict", str(folder / "in.zarr"), "--model", str(folder / "model"), "-o",
                              str(tmp_path / "o.tif"), "--scheduler", "local:2"])
    assert bad.exit_code == 2 and "give an output ending in .zarr" in bad.output
    unknown = runner.invoke(app, ["predict", str(folder / "in.zarr"), "--model", str(folder / "model"), "-o",
                                  str(tmp_path / "u.zarr"), "--scheduler", "mpi"])
    assert unknown.exit_code == 2 and "unknown scheduler 'mpi'" in unknown.output


def test_denoise_trains_a_network_on_a_sample_and_streams(stream_setup, tmp_path):
    from operando.denoise import load_model

    folder = stream_setup[0]
    out = tmp_path / "n.zarr"
    result = runner.invoke(app, ["denoise", str(folder / "in.zarr"), "-o", str(out), "--method", "n2v2",
                                 "--time-budget", "2", "--memory-limit", "300KB", "--device", "cpu",
                                 "--save-model", str(tmp_path / "net")])
    assert result.exit_code == 0, result.output
    assert read(out).shape == (23, 40, 36) and read(out).dtype == np.float32
    assert load_model(tmp_path / "net").config.method == "n2v2"
