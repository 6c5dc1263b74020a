"""A hostile sweep of every command that reads a file: damaged files of each format, bad data, bad outputs.

Each case asserts what a hostile tester checks: exit code 2 with one ``error:`` line and no traceback (or, for
data that can be analysed with a note, exit 0), the inputs byte-identical, and no partial output left. The
default run takes every command with every damaged file; ``-m slow`` adds the slower commands on bad data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.fuzz._harness import assert_refused, leftovers, run_cli, snapshot

#: Every command that reads a stack: its arguments with {IN} (the input), {OUT} (an output stem) and {GOOD}
#: (a valid stack for the other inputs). Outputs are written into a fresh folder per case.
READERS: dict[str, str] = {
    "info": "info {IN}",
    "corrupt": "corrupt {IN} -o {OUT}.tif --noise gaussian:0.1",
    "denoise": "denoise {IN} -o {OUT}.tif --method gaussian",
    "diagnose": "diagnose {IN}",
    "train": "train {IN} -o {OUT}.model --max-steps 1 --time-budget 1",
    "predict": "predict {IN} --model {OUT}.missing -o {OUT}.tif",
    "learn": "learn {IN} -o {OUT}.json --time-budget 5",
    "evaluate": "evaluate {IN} --clean {GOOD}",
    "evaluate-clean": "evaluate {GOOD} --clean {IN}",
    "convert": "convert {IN} -o {OUT}.npy",
    "compare": "compare {IN} --reference {GOOD}",
    "compare-reference": "compare {GOOD} --reference {IN}",
    "stxm-composition": "stxm composition {IN} -o {OUT}.tif",
    "stxm-od": "stxm od {IN} -o {OUT}.tif",
    "stxm-stripes": "stxm stripes {IN}",
    "neutron-normalize": "neutron normalize {IN} --open-beam {GOOD} --dark {GOOD} -o {OUT}.tif",
    "neutron-normalize-ob": "neutron normalize {GOOD} --open-beam {IN} --dark {GOOD} -o {OUT}.tif",
    "neutron-variability": "neutron variability {IN}",
    "neutron-analyze": "neutron analyze {IN} -o {OUT}",
    "optical-analyze": "optical analyze {IN} -o {OUT}",
}


def _valid_tiff(path: Path) -> Path:
    tifffile.imwrite(path, np.random.default_rng(0).random((4, 32, 32), dtype=np.float32), photometric="minisblack")
    return path


def _damaged(kind: str, folder: Path) -> Path:
    """Write one damaged input of the given kind and return its path."""
    good = _valid_tiff(folder / "_source.tif").read_bytes()
    rng = np.random.default_rng(1)
    garbage = rng.integers(0, 256, 600, dtype=np.uint8).tobytes()
    if kind == "missing":
        return folder / "missing.tif"
    if kind.startswith("empty"):
        path = folder / f"empty{kind.removeprefix('empty')}"
        path.write_bytes(b"")
        return path
    if kind == "truncated.tif":
        path = folder / "truncated.tif"
        path.write_bytes(good[: len(good) // 3])
        return path
    if kind == "truncated.npy":
        path = folder / "truncated.npy"
        np.save(path, np.zeros((4, 32, 32), np.float32))
        path.write_bytes(path.read_bytes()[:300])
        return path
    if kind == "truncated.h5":
        import h5py

        path = folder / "truncated.h5"
        with h5py.File(path, "w") as f:
            f["data"] = np.zeros((4, 32, 32), np.float32)
        path.write_bytes(path.read_bytes()[:1500])
        return path
    if kind.startswith("garbage"):
        path = folder / f"garbage{kind.removeprefix('garbage')}"
        path.write_bytes(garbage)
        return path
    if kind == "tiff-header-only":
        path = folder / "header.tif"
        path.write_bytes(b"II*\x00\x08\x00\x00\x00")
        return path
    if kind == "empty-folder":
        path = folder / "frames"
        path.mkdir()
        return path
    if kind == "garbage.zarr":
        path = folder / "garbage.zarr"
        path.mkdir()
        (path / "zarr.json").write_bytes(garbage)
        return path
    if kind == "text.tif":
        path = folder / "text.tif"
        path.write_text("this is not an image\n")
        return path
    raise AssertionError(kind)


DAMAGED = ["missing", "empty.tif", "empty.npy", "empty.h5", "empty.hdr", "empty.fits", "empty.mp4", "empty.png",
           "truncated.tif", "truncated.npy", "truncated.h5", "garbage.tif", "garbage.npy", "garbage.h5",
           "garbage.hdr", "garbage.xrm", "garbage.mp4", "tiff-header-only", "text.tif", "empty-folder",
           "garbage.zarr"]


def _args(template: str, **values: Path) -> list[str]:
    return [part.format(**{k: str(v) for k, v in values.items()}) for part in template.split()]


@pytest.mark.parametrize("kind", DAMAGED)
@pytest.mark.parametrize("command", list(READERS))
def test_damaged_input_is_one_line(tmp_path, command, kind):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = _valid_tiff(inputs / "good.tif")
    bad = _damaged(kind, inputs)
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(inputs)
    ran = run_cli(*_args(READERS[command], IN=bad, GOOD=good, OUT=out / "result"))
    assert_refused(ran, before=before, folder=tmp_path)
    assert not any(out.iterdir()), f"outputs left after a refusal: {list(out.iterdir())}\n{ran}"


#: Commands with outputs: (template, the options that write, each tried as every input).
WRITERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "corrupt": ("corrupt {IN} -o {OUT} --noise gaussian:0.1", ("-o",)),
    "denoise": ("denoise {IN} -o {OUT} --method gaussian", ("-o",)),
    "diagnose": ("diagnose {IN} --json {OUT}", ("--json",)),
    "diagnose-denoised": ("diagnose {IN} --denoised {OTHER} --json {OUT}", ("--json",)),
    "learn": ("learn {IN} -o {OUT}", ("-o",)),
    "learn-plot": ("learn {IN} -o {WORK}/r.json --plot {OUT}", ("--plot",)),
    "evaluate-json": ("evaluate {IN} --clean {OTHER} --json {OUT}", ("--json",)),
    "evaluate-csv": ("evaluate {IN} --clean {OTHER} --csv {OUT}", ("--csv",)),
    "convert": ("convert {IN} -o {OUT}", ("-o",)),
    "compare-json": ("compare {IN} --reference {OTHER} --json {OUT}", ("--json",)),
    "compare-figure": ("compare {IN} --reference {OTHER} --figure {OUT}", ("--figure",)),
    "stxm-od": ("stxm od {IN} -o {OUT}", ("-o",)),
    "neutron-normalize": ("neutron normalize {IN} --open-beam {OTHER} --dark {OTHER} -o {OUT}", ("-o",)),
    "neutron-variability": ("neutron variability {IN} --json {OUT}", ("--json",)),
    "train": ("train {IN} -o {OUT} --max-steps 1", ("-o",)),
}


@pytest.mark.parametrize("which", ["IN", "OTHER"])
@pytest.mark.parametrize("command", list(WRITERS))
def test_output_equal_to_an_input_is_refused(tmp_path, command, which):
    template = WRITERS[command][0]
    if "{OTHER}" not in template and which == "OTHER":
        pytest.skip("one input")
    work = tmp_path / "work"
    work.mkdir()
    a, b = _valid_tiff(work / "a.tif"), _valid_tiff(work / "b.tif")
    target = a if which == "IN" else b
    before = snapshot(work)
    ran = run_cli(*_args(template, IN=a, OTHER=b, OUT=target, WORK=work))
    assert_refused(ran, before=before, folder=work, says="input")


@pytest.mark.parametrize("place", ["existing-folder", "under-a-file", "empty-name"])
@pytest.mark.parametrize("command", list(WRITERS))
def test_output_in_the_wrong_place_is_refused(tmp_path, command, place):
    template = WRITERS[command][0]
    work = tmp_path / "work"
    work.mkdir()
    a, b = _valid_tiff(work / "a.tif"), _valid_tiff(work / "b.tif")
    if place == "existing-folder":
        target = work / "folder.tif"
        target.mkdir()
    elif place == "under-a-file":
        (work / "plain").write_text("a file")
        target = work / "plain" / "out.json"
    else:
        target = Path(" ")
    before = snapshot(work)
    ran = run_cli(*_args(template, IN=a, OTHER=b, OUT=target, WORK=work))
    assert_refused(ran, before=before, folder=work)


#: Folder outputs: the output folder is an input folder, holds an input, or is a file.
FOLDER_WRITERS: dict[str, str] = {
    "neutron-analyze": "neutron analyze {IN} -o {OUT}",
    "optical-analyze": "optical analyze {IN} -o {OUT}",
    "neutron-phantom": "neutron phantom -o {OUT}",
    "optical-phantom": "optical phantom -o {OUT}",
    "stxm-phantom": "stxm phantom -o {OUT}",
}


@pytest.mark.parametrize("place", ["input-folder", "holds-the-input", "is-a-file", "foreign-files"])
@pytest.mark.parametrize("command", list(FOLDER_WRITERS))
def test_output_folder_that_would_lose_data_is_refused(tmp_path, command, place):
    work = tmp_path / "work"
    frames = work / "frames"
    frames.mkdir(parents=True)
    for i in range(3):
        tifffile.imwrite(frames / f"f{i:03d}.tif", np.zeros((16, 16, 3), np.uint8))
    video = _valid_tiff(work / "video.tif")
    template = FOLDER_WRITERS[command]
    if "{IN}" not in template and place in ("input-folder", "holds-the-input"):
        pytest.skip("no input")
    source = frames if place == "input-folder" else video
    target = {"input-folder": frames, "holds-the-input": work, "is-a-file": video if "{IN}" not in template else
              work / "plain.txt", "foreign-files": frames}[place]
    if place == "is-a-file" and not target.exists():
        target.write_text("a file")
    before = snapshot(work)
    ran = run_cli(*_args(template, IN=source, OUT=target))
    assert_refused(ran, before=before, folder=work)


#: Bad data: every value a file can hold that makes an analysis meaningless.
BAD_DATA: dict[str, np.ndarray] = {
    "all-nan": np.full((4, 32, 32), np.nan, np.float32),
    "some-nan": np.where(np.random.default_rng(2).random((4, 32, 32)) < 0.1, np.nan,
                         np.random.default_rng(3).random((4, 32, 32))).astype(np.float32),
    "inf": np.where(np.eye(32, dtype=bool)[None], np.inf, 0.5).astype(np.float32).repeat(4, 0),
    "negative": -np.random.default_rng(4).random((4, 32, 32), dtype=np.float32),
    "constant": np.ones((4, 32, 32), np.float32),
    "zeros": np.zeros((4, 32, 32), np.float32),
    "one-frame": np.random.default_rng(5).random((1, 32, 32), dtype=np.float32),
    "one-pixel": np.ones((4, 1, 1), np.float32),
    "huge": np.full((4, 32, 32), 1e30, np.float32),
    "int16-negative": -np.arange(4 * 32 * 32, dtype=np.int16).reshape(4, 32, 32),
}

FAST_ON_DATA = ["info", "corrupt", "denoise", "diagnose", "evaluate", "convert", "compare", "stxm-od",
                "stxm-stripes", "neutron-normalize", "neutron-variability"]
SLOW_ON_DATA = ["learn", "train", "neutron-analyze", "optical-analyze", "stxm-composition"]


def _bad_data_case(tmp_path: Path, command: str, name: str) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = _valid_tiff(inputs / "good.tif")
    bad = inputs / f"{name}.tif"
    tifffile.imwrite(bad, BAD_DATA[name], photometric="minisblack")
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(inputs)
    ran = run_cli(*_args(READERS[command], IN=bad, GOOD=good, OUT=out / "result"))
    assert ran.code in (0, 2), str(ran)
    assert ran.exception is None and "Traceback" not in ran.stdout + ran.stderr, str(ran)
    assert "Warning:" not in ran.stderr, f"raw warnings\n{ran}"
    if ran.code == 2:
        assert_refused(ran, before=before, folder=tmp_path)
        assert not any(out.iterdir()), str(ran)
    assert snapshot(inputs) == before
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("name", list(BAD_DATA))
@pytest.mark.parametrize("command", FAST_ON_DATA)
def test_bad_data_is_refused_or_noted(tmp_path, command, name):
    _bad_data_case(tmp_path, command, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BAD_DATA))
@pytest.mark.parametrize("command", SLOW_ON_DATA)
def test_bad_data_slow_commands(tmp_path, command, name):
    _bad_data_case(tmp_path, command, name)


def test_read_only_copy_of_shared_data_is_never_written(tmp_path):
    """The real instrument files are read in place; every reader leaves them as they were."""
    root = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not root.exists():
        pytest.skip("no shared data")
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".hdr", ".xrm", ".tif", ".tiff")]
    before = snapshot(*files)
    for f in files[:6]:
        ran = run_cli("info", f)
        assert ran.code in (0, 2) and "Traceback" not in ran.stderr, str(ran)
        ran = run_cli("convert", f, "-o", f)
        assert_refused(ran)  # the input itself, or an ending operando cannot write
    assert snapshot(*files) == before
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert not os.path.exists(tmp_path)
