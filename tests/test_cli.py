import json

import numpy as np
from typer.testing import CliRunner

from operando.cli import app
from operando.io import read

runner = CliRunner()


def test_simulate_corrupt_evaluate(tmp_path):
    clean, noisy = tmp_path / "ch.tif", tmp_path / "noisy.tif"
    r = runner.invoke(app, ["simulate", "-o", str(clean), "--frames", "12", "--size", "32", "--seed", "0"])
    assert r.exit_code == 0, r.output
    assert read(clean).shape == (12, 32, 32)
    r = runner.invoke(app, ["corrupt", str(clean), "-o", str(noisy), "--noise", "gaussian:0.1", "--seed", "1"])
    assert r.exit_code == 0, r.output
    diff = read(noisy).to_numpy() - read(clean).to_numpy()
    assert np.std(diff) == np.float32(np.std(diff)) and 0.09 < np.std(diff) < 0.11
    out = tmp_path / "m.json"
    r = runner.invoke(app, ["evaluate", "--clean", str(clean), str(noisy), "--json", str(out), "--csv",
                            str(tmp_path / "m.csv")])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["rows"]
    assert 19 < rows[0]["psnr_db"] < 21
    assert (tmp_path / "m.csv").read_text().startswith("name,psnr_db")


def test_bad_input_exits_2_with_one_line(tmp_path):
    r = runner.invoke(app, ["corrupt", str(tmp_path / "x.xyz"), "-o", str(tmp_path / "y.tif"),
                            "--noise", "gaussian:0.1"])
    assert r.exit_code == 2
    assert "unknown file type" in r.output
    assert "Traceback" not in r.output


def test_bad_noise_spec(tmp_path):
    src = tmp_path / "a.npy"
    np.save(src, np.zeros((3, 8, 8), np.float32))
    r = runner.invoke(app, ["corrupt", str(src), "-o", str(tmp_path / "b.npy"), "--noise", "blur:2"])
    assert r.exit_code == 2 and "unknown noise" in r.output


def test_info_and_version(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 8, 8), np.float32))
    r = runner.invoke(app, ["info", str(tmp_path / "a.npy")])
    assert r.exit_code == 0 and "TYX" in r.output
    assert runner.invoke(app, ["--version"]).exit_code == 0


def _tiny_video(tmp_path):
    from operando.noise import corrupt
    from operando.simulate import simulate_cahn_hilliard

    clean = simulate_cahn_hilliard(size=32, n_frames=10, rng=0)
    noisy = corrupt(clean, "gaussian:0.1", rng=1)
    from operando.io import write

    write(clean, tmp_path / "clean.tif")
    write(noisy, tmp_path / "noisy.tif")
    return tmp_path / "clean.tif", tmp_path / "noisy.tif"


def test_denoise_train_predict_diagnose(tmp_path):
    clean, noisy = _tiny_video(tmp_path)
    r = runner.invoke(app, ["denoise", str(noisy), "-o", str(tmp_path / "g.tif"), "--method", "gaussian"])
    assert r.exit_code == 0, r.output
    assert read(tmp_path / "g.tif").shape == (10, 32, 32)
    r = runner.invoke(app, ["train", str(noisy), "-o", str(tmp_path / "m"), "--max-steps", "5", "--method", "n2v2"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    r = runner.invoke(app, ["predict", str(noisy), "--model", str(tmp_path / "m"), "-o", str(tmp_path / "p.tif")])
    assert r.exit_code == 0, r.output
    assert read(tmp_path / "p.tif").shape == (10, 32, 32)
    r = runner.invoke(app, ["denoise", str(noisy), "-o", str(tmp_path / "v.tif"), "--method", "video",
                            "--time-budget", "2", "--save-model", str(tmp_path / "v")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "v.json").exists()
    r = runner.invoke(app, ["diagnose", str(noisy), "--json", str(tmp_path / "d.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "d.json").read_text())["recommended_method"] == "video"


def test_denoise_too_few_frames_is_one_clean_line(tmp_path):
    np.save(tmp_path / "short.npy", np.random.default_rng(0).random((3, 16, 16)).astype(np.float32))
    r = runner.invoke(app, ["denoise", str(tmp_path / "short.npy"), "-o", str(tmp_path / "o.npy"),
                            "--method", "video"])
    assert r.exit_code == 2
    assert "need >= 5 frames along T" in r.output and "Traceback" not in r.output


def test_denoise_ensemble_with_a_saved_model_is_one_clean_line(tmp_path):
    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((6, 16, 16)).astype(np.float32))
    r = runner.invoke(app, ["denoise", str(tmp_path / "v.npy"), "-o", str(tmp_path / "o.npy"), "--ensemble", "2",
                            "--save-model", str(tmp_path / "m")])
    assert r.exit_code == 2 and "--ensemble" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o.npy").exists()


def test_cli_errors_shows_other_warnings_once_and_returns(capsys):
    """A warning is shown once as a note and the command returns (it used to be re-recorded without end)."""
    import warnings

    from operando.cli._common import cli_errors

    @cli_errors
    def command() -> int:
        warnings.warn("plot style will change", UserWarning, stacklevel=1)
        warnings.warn("plot style will change", UserWarning, stacklevel=1)
        return 1

    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        assert command() == 1
    assert outer == []  # shown as a note, not re-raised
    err = capsys.readouterr().err
    assert err.count("plot style will change") == 1 and err.startswith("note:")