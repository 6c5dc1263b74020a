"""A hostile sweep of the core commands: simulate, corrupt, evaluate, info, demo, denoise, train, predict, diagnose,
learn and the denoising benchmarks.

Every refused case asserts exit code 2, one ``error:`` line, no traceback, the inputs byte-identical and no partial
files (:mod:`tests.fuzz._harness`). The cases of issue 28 in this area each have their own test below the table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ._harness import assert_ran, assert_refused, run_cli, snapshot

# --- the data every case runs in (a fresh copy per test) ------------------------------------------------------------


def _tif(path: Path, data: np.ndarray, axes: str = "TYX") -> None:
    tifffile.imwrite(path, data, metadata={"axes": axes})


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Write the inputs once: good, hostile and damaged files, and a tiny saved model (one training step)."""
    d = tmp_path_factory.mktemp("core-library")
    rng = np.random.default_rng(0)
    noisy = (0.5 + 0.1 * rng.standard_normal((8, 32, 32))).astype(np.float32)
    _tif(d / "noisy.tif", noisy)
    _tif(d / "clean.tif", np.full((8, 32, 32), 0.5, np.float32))
    _tif(d / "const.tif", np.full((8, 32, 32), 0.5, np.float32))
    _tif(d / "const64.tif", np.full((8, 64, 64), 0.25, np.float32))
    _tif(d / "zero64.tif", np.zeros((64, 64), np.float32), axes="YX")
    _tif(d / "zero64v.tif", np.zeros((8, 64, 64), np.uint16))
    nan = noisy.copy()
    nan[0, 0, 0] = np.nan
    _tif(d / "nan.tif", nan)
    _tif(d / "allnan.tif", np.full((8, 32, 32), np.nan, np.float32))
    _tif(d / "neg.tif", noisy - 1)
    _tif(d / "frozen.tif", np.repeat(noisy[:1], 6, axis=0))
    _tif(d / "one.tif", noisy[:1])
    _tif(d / "px.tif", noisy[:, :1, :1])
    _tif(d / "two.tif", (0.5 + 0.1 * rng.standard_normal((8, 2, 32, 32))).astype(np.float32), axes="TCYX")
    (d / "empty.tif").write_bytes(b"")
    for name in ("garbage.tif", "garbage.npy", "garbage.h5"):
        (d / name).write_bytes(b"garbage" * 50)
    whole = (d / "noisy.tif").read_bytes()
    (d / "trunc.tif").write_bytes(whole[: len(whole) // 2])
    (d / "folder").mkdir()
    (d / "afile").write_text("a file, not a folder")

    from operando.denoise import save_model, train_denoiser
    from operando.io import read

    for name, source in (("m", "noisy.tif"), ("m2", "two.tif")):
        net = train_denoiser(read(d / source), method="n2v2", max_steps=1, time_budget_s=60, rng=0, device="cpu")
        save_model(net, d / name)
    weights = (d / "m.safetensors").read_bytes()
    (d / "trunc.safetensors").write_bytes(weights[: len(weights) // 2])
    shutil.copy(d / "m.json", d / "trunc.json")
    shutil.copy(d / "m.safetensors", d / "gj.safetensors")
    (d / "gj.json").write_text("{garbage")
    shutil.copy(d / "m.safetensors", d / "bad.safetensors")
    (d / "bad.json").write_text('{"format": "operando-denoiser", "config": {"frames": 4}, "channels": 1}')
    shutil.copy(d / "m.safetensors", d / "lst.safetensors")
    (d / "lst.json").write_text("[1, 2]")
    shutil.copy(d / "m.safetensors", d / "only.safetensors")
    shutil.copy(d / "m2.safetensors", d / "mixed.safetensors")  # 2-channel weights, 1-channel settings
    shutil.copy(d / "m.json", d / "mixed.json")
    return d


@pytest.fixture
def work(library, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the library as the current folder."""
    d = tmp_path / "work"
    shutil.copytree(library, d)
    monkeypatch.chdir(d)
    return d


# --- the table: (command line, words the one error line must hold) --------------------------------------------------

REFUSED = [
    # output = input, and every other output path problem, for every writer
    ("diagnose noisy.tif --json noisy.tif", "json"),
    ("diagnose noisy.tif --json out.tif", ".json"),
    ("diagnose noisy.tif --json folder", "folder"),
    ("diagnose noisy.tif --json afile/x.json", "afile"),
    ("diagnose noisy.tif --denoised clean.tif --json clean.tif", "json"),
    ("learn noisy.tif -o noisy.tif", ".json"),
    ("learn noisy.tif -o noisy.json --plot noisy.tif", "--plot"),
    ("learn noisy.tif -o r.tif", ".json"),
    ("learn noisy.tif -o r.json --plot r.xyz", "--plot"),
    ("learn noisy.tif -o r.json --plot r.json", "--plot"),
    ("learn noisy.tif -o folder", ".json"),
    ("learn noisy.tif -o afile/r.json", "afile"),
    ("learn noisy.tif -o r.json --plot folder/../folder", "--plot"),
    ("evaluate noisy.tif --clean clean.tif --csv noisy.tif", ".csv"),
    ("evaluate noisy.tif --clean clean.tif --csv noisy.csv --json clean.tif", ".json"),
    ("evaluate noisy.tif --clean clean.tif --json x.tif", ".json"),
    ("evaluate noisy.tif --clean clean.tif --csv x.json", ".csv"),
    ("evaluate noisy.tif --clean clean.tif --json folder", "folder"),
    ("evaluate noisy.tif --clean clean.tif --json same.json --csv same.json", ".csv"),
    ("simulate -o folder --frames 2 --size 16 --t-end 0.001", "folder"),
    ("simulate -o afile/s.tif --frames 2 --size 16 --t-end 0.001", "afile"),
    ("simulate -o s.xyz --frames 2 --size 16 --t-end 0.001", "-o"),
    ("corrupt noisy.tif -o noisy.tif --noise gaussian:0.1", "overwrite"),
    ("corrupt noisy.tif -o folder --noise gaussian:0.1", "folder"),
    ("corrupt noisy.tif -o c.xyz --noise gaussian:0.1", "-o"),
    ("corrupt noisy.tif -o afile/c.tif --noise gaussian:0.1", "afile"),
    ("denoise noisy.tif -o noisy.tif --method gaussian", "overwrite"),
    ("denoise noisy.tif -o d.xyz --method gaussian", "-o"),
    ("denoise noisy.tif -o folder --method gaussian", "folder"),
    ("denoise noisy.tif -o afile/d.tif --method gaussian", "afile"),
    ("denoise noisy.tif -o afile --method gaussian", "-o"),
    ("denoise noisy.tif -o d.tif --model m --save-model m", "overwrite"),
    ("denoise noisy.tif -o m.json --model m", "-o"),
    ("denoise noisy.tif -o d.tif --method n2v2 --save-model noisy.tif", "safetensors"),
    ("denoise noisy.tif -o d.tif --method n2v2 --save-model folder", "folder"),
    ("denoise noisy.tif -o d.tif --method gaussian --save-model g", "nothing to save"),
    ("predict noisy.tif --model m -o noisy.tif", "overwrite"),
    ("predict noisy.tif --model m -o m.safetensors", "-o"),
    ("predict noisy.tif --model m -o m.json", "-o"),
    ("predict noisy.tif --model m -o folder", "folder"),
    ("predict noisy.tif --model m -o p.xyz", "-o"),
    ("predict noisy.tif --model m -o afile/p.tif", "afile"),
    ("train noisy.tif -o noisy.tif --max-steps 1", "safetensors"),
    ("train noisy.tif -o m --resume m --max-steps 1", "overwrite"),
    ("train noisy.tif -o m.json --resume m --max-steps 1", "overwrite"),
    ("train noisy.tif -o folder --max-steps 1", "folder"),
    ("train noisy.tif -o afile/m --max-steps 1", "afile"),
    # damaged inputs
    ("diagnose empty.tif", "empty.tif"),
    ("diagnose garbage.tif", "garbage.tif"),
    ("diagnose garbage.npy", "garbage.npy"),
    ("diagnose garbage.h5", "garbage.h5"),
    ("diagnose trunc.tif", "trunc.tif"),
    ("diagnose missing.tif", "missing.tif"),
    ("denoise empty.tif -o d.tif --method gaussian", "empty.tif"),
    ("denoise trunc.tif -o d.tif --method gaussian", "trunc.tif"),
    ("denoise garbage.npy -o d.tif --method gaussian", "garbage.npy"),
    ("predict garbage.h5 --model m -o p.tif", "garbage.h5"),
    ("train garbage.tif -o m3 --max-steps 1", "garbage.tif"),
    ("learn trunc.tif -o r.json", "trunc.tif"),
    ("corrupt empty.tif -o c.tif --noise gaussian:0.1", "empty.tif"),
    ("evaluate noisy.tif --clean empty.tif", "empty.tif"),
    ("evaluate garbage.npy --clean clean.tif", "garbage.npy"),
    ("info empty.tif", "empty.tif"),
    ("info garbage.h5", "garbage.h5"),
    # damaged or mismatched saved models
    ("predict noisy.tif --model trunc -o p.tif", ("truncated", "save the model again")),
    ("predict noisy.tif --model gj -o p.tif", ("gj.json", "save the model again")),
    ("predict noisy.tif --model bad -o p.tif", ("bad.json", "odd")),
    ("predict noisy.tif --model lst -o p.tif", "not an operando denoiser"),
    ("predict noisy.tif --model only -o p.tif", "only.json"),
    ("predict noisy.tif --model nothere -o p.tif", "nothere"),
    ("predict noisy.tif --model mixed -o p.tif", "different models"),
    ("predict noisy.tif --model m2 -o p.tif", "channel"),
    ("denoise noisy.tif -o d.tif --model trunc", "truncated"),
    ("denoise noisy.tif -o d.tif --model gj", "gj.json"),
    ("train noisy.tif -o m3 --resume trunc --max-steps 1", "truncated"),
    ("train noisy.tif -o m3 --resume gj --max-steps 1", "gj.json"),
    ("train noisy.tif -o m3 --resume m2 --max-steps 1", "channel"),
    ("train two.tif -o m3 --resume m --max-steps 1", "channel"),
    # NaN, negative, constant, tiny data
    ("diagnose nan.tif", "nan"),
    ("diagnose allnan.tif", "nan"),
    ("diagnose px.tif", "too small"),
    ("denoise nan.tif -o d.tif --method gaussian", "nan"),
    ("denoise px.tif -o d.tif --method gaussian", "too small"),
    ("predict nan.tif --model m -o p.tif", "nan"),
    ("predict px.tif --model m -o p.tif", "too small"),
    ("train nan.tif -o m3 --max-steps 1", "nan"),
    ("train one.tif -o m3 --max-steps 1", "--window-frames 3"),
    ("train px.tif -o m3 --max-steps 1 --method n2v2", "too small"),
    ("learn nan.tif -o r.json --frame-interval 1", "nan"),
    ("learn neg.tif -o r.json --frame-interval 1", "concentrations"),
    ("learn const.tif -o r.json --frame-interval 1", "constant"),
    ("learn one.tif -o r.json --frame-interval 1", "--window"),
    ("learn frozen.tif -o r.json --frame-interval 1", "same image"),
    ("learn noisy.tif -o r.json --frame-interval 1 --window 100", "--window"),
    ("learn px.tif -o r.json --frame-interval 1", "too small"),
    ("corrupt nan.tif -o c.tif --noise gaussian:0.1", "nan"),
    ("corrupt neg.tif -o c.tif --noise poisson:10", "non-negative"),
    ("evaluate nan.tif --clean clean.tif", "nan"),
    ("evaluate noisy.tif --clean one.tif", "shape"),
    ("evaluate px.tif --clean px.tif", "7 x 7"),
    ("evaluate noisy.tif noisy.tif --clean clean.tif", "twice"),
    # option ranges
    ("predict noisy.tif --model m -o p.tif --tile 0", "--tile"),
    ("predict noisy.tif --model m -o p.tif --tile 3", "--tile"),
    ("predict noisy.tif --model m -o p.tif --tile 31", "--tile"),
    ("train noisy.tif -o m3 --max-steps 0", "--max-steps"),
    ("train noisy.tif -o m3 --time-budget 0", "--time-budget"),
    ("train noisy.tif -o m3 --time-budget -1", "--time-budget"),
    ("train noisy.tif -o m3 --time-budget nan", "--time-budget"),
    ("train noisy.tif -o m3 --window-frames 4", "--window-frames"),
    ("train noisy.tif -o m3 --window-frames 1", "--window-frames"),
    ("train noisy.tif -o m3 --loss bogus", ("loss", "bogus")),
    ("train noisy.tif -o m3 --method bogus", ("method", "bogus")),
    ("denoise noisy.tif -o d.tif --window-frames 4", "--window-frames"),
    ("denoise noisy.tif -o d.tif --window-frames 0", "--window-frames"),
    ("denoise noisy.tif -o d.tif --time-budget 0", "--time-budget"),
    ("denoise noisy.tif -o d.tif --ensemble 0", "--ensemble"),
    ("denoise noisy.tif -o d.tif --method gaussian --ensemble 2", "--ensemble"),
    ("denoise noisy.tif -o d.tif --method bogus", "bogus"),
    ("denoise noisy.tif -o d.tif --model m --ensemble 2", "--ensemble"),
    ("learn noisy.tif -o r.json --bootstrap -1", "--bootstrap"),
    ("learn noisy.tif -o r.json --window 0", "--window"),
    ("learn noisy.tif -o r.json --n-mu 0", "--n-mu"),
    ("learn noisy.tif -o r.json --n-d 0", "--n-d"),
    ("learn noisy.tif -o r.json --kappa 0", "--kappa"),
    ("learn noisy.tif -o r.json --kappa nan", "--kappa"),
    ("learn noisy.tif -o r.json --time-budget 0", "--time-budget"),
    ("learn noisy.tif -o r.json --smoothness -1", "--smoothness"),
    ("learn noisy.tif -o r.json --dx 0", "--dx"),
    ("learn noisy.tif -o r.json --frame-interval 0", "--frame-interval"),
    ("learn noisy.tif -o r.json --fit-initial-states -1", "--fit-initial-states"),
    ("simulate -o s.tif --frames 0", "--frames"),
    ("simulate -o s.tif --frames 1", "--frames"),
    ("simulate -o s.tif --size 4", "--size"),
    ("simulate -o s.tif --dt 0", "--dt"),
    ("simulate -o s.tif --dt -1", "--dt"),
    ("simulate -o s.tif --t-end 0", "--t-end"),
    ("simulate -o s.tif --kappa 0", "--kappa"),
    ("simulate -o s.tif --omega nan", "--omega"),
    ("corrupt noisy.tif -o c.tif --noise gaussian:-1", "sigma"),
    ("corrupt noisy.tif -o c.tif --noise poisson:0", "peak"),
    ("corrupt noisy.tif -o c.tif --noise impulse:2", "fraction"),
    ("corrupt noisy.tif -o c.tif --noise bogus", "bogus"),
    ("corrupt noisy.tif -o c.tif --noise gaussian:a", "numbers"),
    ("evaluate noisy.tif --clean clean.tif --data-range 0", "--data-range"),
    ("evaluate noisy.tif --clean clean.tif --data-range -1", "--data-range"),
    ("evaluate noisy.tif --clean clean.tif --skip-edge-frames -1", "--skip-edge-frames"),
    ("evaluate noisy.tif --clean clean.tif --skip-edge-frames 4", "--skip-edge-frames"),
    ("evaluate noisy.tif --clean clean.tif --skip-edge-frames 100", "--skip-edge-frames"),
    ("demo -o out --time-budget 0", "--time-budget"),
    ("demo -o out --noise bogus", "bogus"),
    ("demo -o out --method bogus", "bogus"),
    ("demo -o noisy.tif --quick", "noisy.tif"),
    ("demo -o afile --quick", "afile"),
    ("benchmark denoise -o out --size 8", "--size"),
    ("benchmark denoise -o out --frames 0", "--frames"),
    ("benchmark denoise -o out --time-budget 0", "--time-budget"),
    ("benchmark denoise -o out --noise bogus", "bogus"),
    ("benchmark denoise -o afile", "afile"),
    ("benchmark physics -o out --bootstrap -1", "--bootstrap"),
    ("benchmark physics -o out --window 0", "--window"),
    ("benchmark physics -o out --ensemble 0", "--ensemble"),
    ("benchmark physics -o out --frames 5 --window 5", "--window"),
    ("benchmark physics -o out --size 0", "--size"),
    ("benchmark correlated -o out --size 8", "--size"),
    ("benchmark correlated -o out --video-size 8", "--video-size"),
    ("benchmark correlated -o out --frames 0", "--frames"),
    ("benchmark correlated -o out --max-steps 0", "--max-steps"),
    ("benchmark correlated -o out --noise gaussian:x", "numbers"),
    ("benchmark correlated -o folder/../afile", "afile"),
    ("benchmark real -o out --data missing-folder", "--data"),
    ("benchmark real -o out --data folder --crop 8", "--crop"),
    ("benchmark real -o out --data folder --crop -1", "--crop"),
    ("benchmark real -o out --data folder --max-steps 0", "--max-steps"),
    ("benchmark real -o folder --data folder", "folder"),
]


@pytest.mark.parametrize(("line", "says"), REFUSED, ids=[line for line, _ in REFUSED])
def test_refused(work, line, says):
    before = snapshot(work)
    ran = run_cli(*line.split())
    assert_refused(ran, before=before, folder=work, says=says)
    for name in ("out", "d.tif", "p.tif", "c.tif", "s.tif", "r.json", "m3.safetensors", "m3.json", "x.json"):
        assert not (work / name).exists(), f"{name} was written by a refused run\n{ran}"


# --- the cases, one test each -------------------------------------------------------------------------------


def test_diagnose_json_onto_its_input_is_refused(work):
    """``operando diagnose noisy.tif --json noisy.tif`` overwrote the input."""
    before = snapshot(work / "noisy.tif")
    assert_refused(run_cli("diagnose", "noisy.tif", "--json", "noisy.tif"), before=before, says="noisy.tif")


def test_learn_output_and_plot_onto_the_input_are_refused(work):
    """``learn ch.tif -o ch.tif`` and ``learn ... --plot noisy.tif`` overwrote the input."""
    before = snapshot(work / "noisy.tif")
    assert_refused(run_cli("learn", "noisy.tif", "-o", "noisy.tif"), before=before, says=".json")
    assert_refused(run_cli("learn", "noisy.tif", "-o", "r.json", "--plot", "noisy.tif"), before=before, says="--plot")
    assert not (work / "r.json").exists()


def test_predict_tile_has_a_minimum(work):
    """``predict --tile 0`` gave a traceback and ``--tile 3`` ran for minutes; the library refuses too."""
    assert_refused(run_cli("predict", "noisy.tif", "--model", "m", "-o", "p.tif", "--tile", "0"), says="--tile")
    assert_refused(run_cli("predict", "noisy.tif", "--model", "m", "-o", "p.tif", "--tile", "3"), says="--tile")
    from operando import InputError
    from operando.denoise import load_model, predict

    with pytest.raises(InputError, match="tile"):
        predict(load_model(work / "m"), np.zeros((8, 32, 32), np.float32), axes="TYX", tile=3)


def test_predict_at_the_smallest_tile_runs(work):
    assert_ran(run_cli("predict", "noisy.tif", "--model", "m", "-o", "p.tif", "--tile", "32"))
    assert (work / "p.tif").exists()


def test_training_settings_errors_name_the_field_and_reason():
    """A pydantic error became "For further information visit https://errors.pydantic.dev/..."."""
    from operando import InputError
    from operando.denoise import TrainConfig, train_denoiser

    with pytest.raises(InputError) as info:
        train_denoiser(np.zeros((8, 16, 16), np.float32), axes="TYX", max_steps=0)
    text = str(info.value)
    assert "max_steps" in text and "greater than or equal to 1" in text and "errors.pydantic.dev" not in text
    with pytest.raises(InputError, match="odd"):
        train_denoiser(np.zeros((8, 16, 16), np.float32), axes="TYX", frames=4)
    with pytest.raises(InputError, match="loss"):
        train_denoiser(np.zeros((8, 16, 16), np.float32), axes="TYX", config=TrainConfig(), loss="bogus")


def test_bad_loss_in_the_cli_names_the_field(work):
    ran = run_cli("train", "noisy.tif", "-o", "m3", "--loss", "bogus")
    assert_refused(ran, says=("loss", "bogus"))
    assert "pydantic.dev" not in ran.stderr


@pytest.mark.parametrize("name", ["trunc", "gj", "bad", "lst", "mixed"])
def test_damaged_models_are_one_line_library_errors(work, name):
    from operando import InputError
    from operando.denoise import load_model

    with pytest.raises(InputError):
        load_model(work / name)


def test_resume_with_another_channel_count_is_refused(work):
    """``train --resume`` with a model of another channel count than the stack gave a traceback (or ran)."""
    before = snapshot(work)
    assert_refused(run_cli("train", "two.tif", "-o", "m3", "--resume", "m", "--max-steps", "1"), before=before,
                   says="channel")
    assert_refused(run_cli("train", "noisy.tif", "-o", "m3", "--resume", "m2", "--max-steps", "1"), before=before,
                   says="channel")


def test_unknown_denoise_output_ending_is_refused_before_any_work(work, monkeypatch):
    """``denoise`` refused an unknown ending only after the denoising ran."""
    import operando.denoise as dn

    def boom(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("the denoiser ran before the output was checked")

    monkeypatch.setattr(dn, "denoise", boom)
    monkeypatch.setattr(dn, "diagnose", boom)
    assert_refused(run_cli("denoise", "noisy.tif", "-o", "d.xyz"), says="-o")


@pytest.mark.parametrize(("name", "words"), [("const64.tif", "constant"), ("zero64.tif", "constant"),
                                             ("zero64v.tif", "constant"), ("const.tif", "constant")])
def test_constant_image_diagnosis_says_so(work, name, words):
    """A constant image printed eight RuntimeWarnings and "neighbour correlation nan"."""
    ran = run_cli("diagnose", name, "--json", "d.json")
    assert_ran(ran)
    assert words in ran.stdout
    assert "nan" not in ran.stdout.lower().replace("nanm", "")
    assert "numerical warnings" not in ran.stderr and "RMS error" not in ran.stderr
    import json

    record = json.loads((work / "d.json").read_text())
    assert record["recommended_method"] == "gaussian" and record["constant"] is True


def test_constant_image_denoise_auto_is_quick_and_quiet(work):
    ran = run_cli("denoise", "zero64v.tif", "-o", "d.tif")
    assert_ran(ran)
    assert "method auto -> gaussian" in ran.stdout and "constant" in ran.stdout
    assert "numerical warnings" not in ran.stderr
    assert np.all(tifffile.imread(work / "d.tif") == 0)


def test_partly_constant_image_says_why_the_correlation_is_not_measured():
    import warnings

    from operando.denoise import diagnose
    from operando.noise import measure_noise_correlation

    rng = np.random.default_rng(0)
    image = rng.normal(0.5, 0.1, (128, 128))
    image[:, :70] = 0  # a padded border
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = diagnose(image)
        from operando import InputError

        with pytest.raises(InputError, match="constant"):
            measure_noise_correlation(image)
    assert "nan" not in found.recommended_reason
    assert any("not measured" in note for note in found.notes)


def test_identical_frames_measure_as_static_noise():
    import warnings

    from operando.noise import measure_noise_correlation

    frames = np.repeat(np.random.default_rng(1).normal(size=(1, 64, 64)), 6, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corr = measure_noise_correlation(frames, axes="TYX")
    assert corr.temporal_corr == 1.0 and np.isfinite(corr.acf_x).all()


def test_info_on_all_nan_stack_is_one_clean_line(work):
    ran = run_cli("info", "allnan.tif")
    assert_ran(ran)
    assert "no finite pixel" in ran.stdout and "numerical warnings" not in ran.stderr
    ran = run_cli("info", "nan.tif")
    assert_ran(ran)
    assert "1 NaN or infinite pixel" in ran.stdout


def test_evaluate_same_name_in_two_folders_keeps_both_rows(work):
    (work / "a").mkdir()
    (work / "b").mkdir()
    shutil.copy(work / "noisy.tif", work / "a" / "x.tif")
    shutil.copy(work / "clean.tif", work / "b" / "x.tif")
    ran = run_cli("evaluate", "a/x.tif", "b/x.tif", "--clean", "clean.tif", "--csv", "t.csv")
    assert_ran(ran)
    assert len((work / "t.csv").read_text().strip().splitlines()) == 3


def test_evaluate_writes_csv_and_json(work):
    assert_ran(run_cli("evaluate", "noisy.tif", "--clean", "clean.tif", "--csv", "t.csv", "--json", "t.json",
                       "--skip-edge-frames", "3"))
    assert (work / "t.csv").exists() and (work / "t.json").exists()


def test_denoise_save_model_of_a_filter_chosen_by_auto_is_a_note(work):
    ran = run_cli("denoise", "const64.tif", "-o", "d.tif", "--save-model", "net")
    assert_ran(ran)
    assert "nothing was written" in ran.stderr
    assert not (work / "net.safetensors").exists()


def test_read_only_output_folder_is_one_line(work):
    import os

    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        for line in (f"diagnose noisy.tif --json {ro}/d.json", f"learn noisy.tif -o {ro}/r.json",
                     f"denoise noisy.tif -o {ro}/d.tif --method gaussian", f"train noisy.tif -o {ro}/m"):
            assert_refused(run_cli(*line.split()), says="permission")
    finally:
        ro.chmod(0o700)


@pytest.mark.slow
def test_train_then_predict_with_the_saved_model(work):
    assert_ran(run_cli("train", "noisy.tif", "-o", "net", "--method", "n2v2", "--max-steps", "2"))
    assert_ran(run_cli("predict", "noisy.tif", "--model", "net", "-o", "p.tif"))
    assert_ran(run_cli("train", "noisy.tif", "-o", "net2", "--resume", "net", "--max-steps", "2"))


def test_constant_input_skips_the_residual_check_with_a_note(work):
    ran = run_cli("diagnose", "const64.tif", "--denoised", "const64.tif")
    assert_ran(ran)
    assert "residual check of const64.tif skipped" in ran.stderr


def test_plot_learned_refuses_an_unknown_figure_ending(tmp_path):
    from operando import InputError
    from operando.report import plot_learned

    with pytest.raises(InputError, match="figure"):
        plot_learned({}, tmp_path / "fig.xyz")
    assert not list(tmp_path.iterdir())
