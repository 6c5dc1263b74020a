"""One decision made once and recorded: diagnose measures, _auto alone chooses, everyone hands the Diagnosis on."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import operando.denoise as denoise_pkg
from operando import Stack
from operando.denoise import _diagnose, choose_from, choose_method, denoise, diagnose, train_denoiser
from operando.io import read, write
from operando.noise import add_correlated_noise


@pytest.fixture
def counted(monkeypatch):
    """Count the noise measurements: diagnoses (_diagnose.measure) and correlation measurements (operando.noise)."""
    import operando.noise as noise

    calls = {"measure": 0, "correlation": 0}
    measure, correlation = _diagnose.measure, noise.measure_noise_correlation

    def counted_measure(*args, **kwargs):
        calls["measure"] += 1
        return measure(*args, **kwargs)

    def counted_correlation(*args, **kwargs):
        calls["correlation"] += 1
        return correlation(*args, **kwargs)

    monkeypatch.setattr(_diagnose, "measure", counted_measure)
    monkeypatch.setattr(noise, "measure_noise_correlation", counted_correlation)
    return calls


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A 7-frame 40 x 40 noisy video in a TIFF file."""
    folder = tmp_path_factory.mktemp("decision")
    rng = np.random.default_rng(0)
    clean = np.linspace(0.2, 0.8, 40, dtype=np.float32)[None, None, :].repeat(40, 1).repeat(7, 0)
    noisy = (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)
    write(Stack(noisy, axes="TYX"), folder / "video.tif")
    return folder / "video.tif", noisy


def test_diagnose_does_not_import_auto():
    source = Path(_diagnose.__file__).read_text()
    imported = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)]
    assert all("_auto" not in (node.module or "") and all(a.name != "_auto" for a in node.names)
               for node in imported)


def test_the_public_diagnose_adds_the_choice_made_by_auto(video):
    _, noisy = video
    found = diagnose(noisy, axes="TYX")
    choice = choose_from(found)
    assert found.recommended_method == choice.method == "video" and found.recommended_reason == choice.reason
    assert _diagnose.measure(noisy, axes="TYX").recommended_method == ""  # measuring chooses nothing


def test_a_cli_auto_run_measures_the_noise_once(video, tmp_path, counted):
    from operando.cli import app

    path, _ = video
    result = CliRunner().invoke(app, ["denoise", str(path), "-o", str(tmp_path / "out.tif"), "--method", "auto",
                                      "--time-budget", "1", "--device", "cpu", "--keep-float"])
    assert result.exit_code == 0, result.output
    assert "method auto -> video" in result.output
    assert counted == {"measure": 1, "correlation": 1}  # the CLI measured; denoise() and training did not
    record = read(tmp_path / "out.tif").metadata.extra["denoise"]
    assert record["auto"]["method"] == "video" and "neighbour correlation" in record["auto"]["reason"]


def test_save_model_records_the_choice_and_its_reason(video, tmp_path, counted):
    from operando.cli import app
    from operando.denoise import load_model

    path, _ = video
    result = CliRunner().invoke(app, ["denoise", str(path), "-o", str(tmp_path / "out.tif"), "--method", "auto",
                                      "--time-budget", "1", "--device", "cpu", "--save-model", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert counted["measure"] == 1
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["auto"]["method"] == "video" and "neighbour correlation" in saved["auto"]["reason"]
    assert saved["auto"]["settings"] == {"blind_spot": True, "blind_spot_radius_px": 0}
    assert load_model(tmp_path / "m").auto == saved["auto"]
    assert read(tmp_path / "out.tif").metadata.extra["denoise"]["auto"] == saved["auto"]
    # a model applied later carries its choice into that output too
    result = CliRunner().invoke(app, ["denoise", str(path), "-o", str(tmp_path / "again.tif"), "--model",
                                      str(tmp_path / "m"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert read(tmp_path / "again.tif").metadata.extra["denoise"]["auto"]["reason"] == saved["auto"]["reason"]


def test_denoise_and_training_take_the_diagnosis_and_do_not_measure_again(video, counted):
    _, noisy = video
    stack = Stack(noisy, axes="TYX")
    found = diagnose(stack)
    assert counted["measure"] == 1
    cfg = denoise_pkg.TrainConfig(max_steps=2, base=8, seed=0)
    out = denoise(stack, method="auto", config=cfg, device="cpu", diagnosis=found)
    net = train_denoiser(stack, config=cfg, device="cpu", diagnosis=found)
    assert counted["measure"] == 1
    assert out.metadata.extra["denoise"]["auto"]["reason"] == found.recommended_reason
    assert net.config.blind_spot is True and net.config.blind_spot_radius_px == 0
    same = denoise(stack, method="auto", config=cfg, device="cpu")  # measured here instead: the same numbers
    assert counted["measure"] == 2
    np.testing.assert_array_equal(same.to_numpy(), out.to_numpy())


def test_choice_among_the_streamed_methods_says_why(monkeypatch):
    monkeypatch.setattr("operando.denoise._auto.method_available", lambda name: True)  # as if bm3d were installed
    clean = np.linspace(0.2, 0.8, 96, dtype=np.float32)[None, :].repeat(96, 0)
    noisy = add_correlated_noise(clean, sigma=0.1, rho=0.4, rng=0)
    assert choose_method(noisy).method == "bm3d_refine"
    streamed = choose_method(noisy, methods=denoise_pkg.method_names("streamed"))
    assert streamed.method == "pixel_shuffle" and "does not stream chunk by chunk" in streamed.reason
    assert streamed.diagnosis is not None and streamed.diagnosis.noise_correlation is not None
