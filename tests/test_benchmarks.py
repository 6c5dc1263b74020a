import csv

import numpy as np
from typer.testing import CliRunner

from operando.cli import app


def test_denoise_benchmark_cli_tiny(tmp_path):
    out = tmp_path / "bd"
    r = CliRunner().invoke(app, ["benchmark", "denoise", "-o", str(out), "--size", "32", "--frames", "12",
                                 "--noise", "gaussian:0.1", "--noise", "impulse:0.2",
                                 "--method", "gaussian", "--method", "median", "--time-budget", "2"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(out / "denoise_benchmark.csv")))
    # noisy + 2 methods on 2 cases + the scan-line case
    assert len(rows) == 9
    by = {(row["noise"], row["method"]): float(row["psnr_db"]) for row in rows}
    assert by[("impulse:0.2", "median")] > by[("impulse:0.2", "noisy")] + 5
    assert (out / "report.md").exists() and (out / "frames.png").exists()
    import json

    summary = json.loads((out / "denoise_benchmark.json").read_text())  # a run can be repeated from its output
    assert summary["settings"]["seed"] == 0 and summary["settings"]["noise_seed"] == 1
    median = [r for r in summary["runs"] if r["method"] == "median"][0]["denoise"]
    assert median["method"] == "median" and median["params"]


def test_denoise_benchmark_refuses_unknown_methods_before_running(tmp_path):
    r = CliRunner().invoke(app, ["benchmark", "denoise", "-o", str(tmp_path / "bd"), "--size", "32", "--frames", "12",
                                 "--method", "gaussian", "--method", "nope"])
    assert r.exit_code == 2 and "unknown benchmark method(s) nope" in r.output
    assert not (tmp_path / "bd" / "denoise_benchmark.csv").exists()


def test_physics_benchmark_tiny(tmp_path):
    from operando.bench.physics import benchmark_physics

    rows = benchmark_physics(tmp_path / "bp", size=32, n_frames=12, noises=["gaussian:0.05"], denoisers=["gaussian"],
                             n_mu=1, n_d=2, window=2, bootstrap=0, inversion_dt=8e-5, denoise_ensemble=2)
    data = {r["data"]: r for r in rows}
    assert set(data) == {"clean", "noisy", "gaussian"}
    assert data["clean"]["mu_h_rel_l2"] < 0.05
    assert data["gaussian"]["psnr_db"] > data["noisy"]["psnr_db"] + 3  # the fit's data quality is reported
    assert (tmp_path / "bp" / "physics_gaussian_0.05.png").exists()
    # an ensemble applies to the networks; the deterministic filter ran once, and the report says so
    assert "x 2 seeds, averaged" in (tmp_path / "bp" / "report.md").read_text()
    kept = np.load(tmp_path / "bp" / "denoised_gaussian_gaussian_0.05.npy")  # the denoised video is kept
    assert kept.shape == (12, 32, 32) and kept.dtype == np.float32
