"""`operando simulate --model acr` and `operando learn --model acr`: a phantom folder in, a kinetics folder out."""

import json

import numpy as np
import tifffile

from tests.fuzz._harness import assert_refused, run_cli


def test_simulate_then_learn_the_kinetics_from_the_command_line(tmp_path):
    phantom = tmp_path / "phantom"
    out = run_cli("simulate", "--model", "acr", "-o", str(phantom), "--size", "64", "--particles", "2",
                  "--frames", "12", "--seed", "3")
    assert out.code == 0, str(out)
    truth = json.loads((phantom / "truth.json").read_text())
    assert truth["frame_interval"] > 0 and len(truth["c"]) == len(truth["mu_h"]) == len(truth["j0"])
    noisy = tifffile.imread(phantom / "noisy.tif")
    labels = tifffile.imread(phantom / "labels.tif")
    assert noisy.shape == (12, 64, 64) and np.isnan(noisy[:, labels == 0]).all()

    fit = tmp_path / "fit"
    out = run_cli("learn", str(phantom / "noisy.tif"), "--model", "acr", "-o", str(fit), "--k-modes", "8",
                  "--n-mu", "3", "--seed", "0")
    assert out.code == 0, str(out)
    record = json.loads((fit / "kinetics.json").read_text())
    assert record["model"] == "acr" and record["seed"] == 0 and record["versions"]["numpy"]
    assert abs(record["noise_sd"] - 0.05) < 0.01  # measured from the video's second differences
    assert len(record["mu_h_band"]) == 2 and len(record["j0_band"][0]) == len(record["c"])
    k = tifffile.imread(fit / "k.tif")
    assert k.shape == (64, 64) and np.isnan(k[labels == 0]).all()
    assert np.nanmean(k) == np.float32(np.nanmean(k)) and abs(np.nanmean(k) - 1) < 0.05
    for name in ("kinetics.png", "k_map.png", "particles.png", "report.md"):
        assert (fit / name).stat().st_size > 0


def test_learn_refuses_counts_and_writes_nothing(tmp_path):
    video = np.full((8, 40, 40), np.nan, np.float32)
    video[:, 5:30, 5:30] = 1000.0
    tifffile.imwrite(tmp_path / "counts.tif", video)
    assert_refused(run_cli("learn", str(tmp_path / "counts.tif"), "--model", "acr", "-o", str(tmp_path / "fit"),
                           "--frame-interval", "1"), says="Li fractions")
    assert not (tmp_path / "fit").exists()
