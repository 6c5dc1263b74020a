"""Hostile cases of the STXM commands, ``convert`` and ``compare`` (issue 28).

Every refused case asserts exit code 2, one ``error:`` line without a traceback, the inputs byte-identical and no
partial files; the cases that used to be silently wrong assert the new behaviour (a note, a refusal, the right file
format). The inputs are tiny (24-32 px, two energies) so that the whole table runs in about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from operando import InputError, Stack
from operando._stack import Metadata
from tests.fuzz._harness import assert_ran, assert_refused, leftovers, run_cli, snapshot

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stxm" / "maxymus"
ENERGIES = (708.2, 710.2)


def _counts(size: int = 32, seed: int = 0) -> np.ndarray:
    """Poisson counts (E, Y, X) of a bright background with one absorbing disk, at two energies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disk = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 4) ** 2
    od = np.stack([0.8 * disk, 1.2 * disk])
    return rng.poisson(300 * np.exp(-od)).astype(np.int32)


def _energy_tiff(path: Path, data: np.ndarray, energies: tuple[float, ...] = ENERGIES) -> Path:
    tifffile.imwrite(path, data, photometric="minisblack")
    path.with_suffix(".txt").write_text("".join(f"{e}\n" for e in energies))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder of good and damaged inputs, written once (the tests never change it)."""
    from operando.io import write

    d = tmp_path_factory.mktemp("stxm_inputs")
    counts = _counts()
    meta = Metadata(pixel_size=0.03, pixel_unit="um", energies=ENERGIES)
    write(Stack(counts, "EYX", meta), d / "scan.hdr")
    write(Stack(_counts(seed=1), "EYX", meta), d / "other.hdr")
    _energy_tiff(d / "stack.tif", counts)
    nan = counts.astype(np.float32)
    nan[0, 2:4, 2:4] = np.nan
    _energy_tiff(d / "nan.tif", nan)
    _energy_tiff(d / "zeros.tif", np.zeros_like(counts))
    neg = counts.copy()
    neg[0, 1:4, 1:4] = -5
    neg[1, 1:3, 1:3] = 0
    _energy_tiff(d / "negative.tif", neg)
    _energy_tiff(d / "one.tif", counts[:1], ENERGIES[:1])
    tifffile.imwrite(d / "video.tif", counts, photometric="minisblack")  # no axes, no energies: read as TYX
    (d / "truncated.tif").write_bytes((d / "video.tif").read_bytes()[:400])
    tifffile.imwrite(d / "complex.tif", (counts + 1j).astype(np.complex64))
    tifffile.imwrite(d / "bool.tif", counts > 100)
    tifffile.imwrite(d / "half.tif", counts.astype(np.float16))
    tifffile.imwrite(d / "five.tif", np.zeros((2, 2, 2, 8, 8), np.float32))
    # damaged STXM scans: each .hdr is a copy of the good one, with its .xim images damaged
    header = (d / "scan.hdr").read_text(encoding="latin-1")
    xim = [(d / f"scan_a{i:03d}.xim").read_text(encoding="latin-1") for i in range(2)]
    rng = np.random.default_rng(3)
    damaged = {
        "garbage": rng.integers(0, 256, 700, dtype=np.uint8).tobytes(),
        "truncated": "\n".join(xim[0].splitlines()[:5]).encode(),
        "empty": b"",
        "words": ("\t".join(["abc"] * 32) + "\t\n").encode() * 32,
        "nanxim": ("\t".join(["nan"] * 32) + "\t\n").encode() * 32,
    }
    for name, first in damaged.items():
        (d / f"{name}.hdr").write_text(header, encoding="latin-1")
        (d / f"{name}_a000.xim").write_bytes(first)
        (d / f"{name}_a001.xim").write_text(xim[1], encoding="latin-1")
    (d / "noxim.hdr").write_text(header, encoding="latin-1")
    (d / "emptyheader.hdr").write_bytes(b"")
    (d / "binaryheader.hdr").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (d / "cutheader.hdr").write_text(header[:200], encoding="latin-1")
    # reference spectra: a good one and damaged ones
    grid = np.arange(700.0, 731.0, 1.0)
    good = np.stack([grid, 5 + np.sin(grid), 5 + np.cos(grid)], axis=1)
    (d / "refs.csv").write_text("energy_ev,LiFePO4,FePO4\n" + "".join(",".join(map(str, r)) + "\n" for r in good))
    same = good.copy()
    same[:, 2] = same[:, 1]
    proportional = good.copy()
    proportional[:, 2] = 2 * proportional[:, 1]
    with_nan = good.copy()
    with_nan[3, 1] = np.nan
    zero = good.copy()
    zero[:, 2] = 0
    for name, table in (("same", same), ("proportional", proportional), ("nan", with_nan), ("zero", zero)):
        (d / f"refs_{name}.csv").write_text("energy_ev,LiFePO4,FePO4\n" +
                                            "".join(",".join(map(str, r)) + "\n" for r in table))
    (d / "refs_binary.csv").write_bytes(b"energy_ev,a,b\n" + bytes(range(128, 256)) * 4)
    (d / "refs_empty.csv").write_bytes(b"")
    (d / "refs_repeated.csv").write_text("energy_ev,a,b\n700,1,2\n700,2,1\n701,1,3\n")
    (d / "refs_words.csv").write_text("energy_ev,a,b\n700,x,2\n701,2,1\n")
    (d / "refs.json").write_text((d / "refs.csv").read_text())  # a CSV under a name an output's summary takes
    # compare inputs: 10 frames of 32 x 32
    ref = np.random.default_rng(4).random((10, 32, 32)).astype(np.float32)
    tifffile.imwrite(d / "ref.tif", ref)
    tifffile.imwrite(d / "raw.tif", ref + np.random.default_rng(5).normal(0, 0.2, ref.shape).astype(np.float32))
    tifffile.imwrite(d / "den.tif", ref + np.random.default_rng(6).normal(0, 0.05, ref.shape).astype(np.float32))
    tifffile.imwrite(d / "mask12.tif", np.ones((12, 32, 32), np.uint8))
    tifffile.imwrite(d / "mask10.tif", np.ones((10, 32, 32), np.uint8))
    tifffile.imwrite(d / "mask_small.tif", np.ones((16, 16), np.uint8))
    tifffile.imwrite(d / "mask_zero.tif", np.zeros((32, 32), np.uint8))
    _energy_tiff(d / "count.tif", counts, (708.2, 709.0, 710.2))  # 3 energies for 2 pages
    _energy_tiff(d / "nan_energy.tif", counts, (708.2, float("nan")))
    tifffile.imwrite(d / "notes.tif", counts, photometric="minisblack")
    (d / "notes.txt").write_text("measured on Tuesday\nsample B\n")
    tifffile.imwrite(d / "binary_list.tif", counts, photometric="minisblack")
    (d / "binary_list.txt").write_bytes(bytes(range(128, 256)))
    (d / "cut.tif").write_bytes((d / "video.tif").read_bytes()[:400])
    (d / "cut.txt").write_text("708.2\n710.2\n")
    (d / "a_folder.tif").mkdir()
    (d / "a_folder.png").mkdir()
    (d / "blocked.txt").mkdir()  # in the way of the energy list convert writes beside blocked.tif
    (d / "plainfile").write_text("a file where a folder is expected\n")
    (d / "foreign").mkdir()
    (d / "foreign" / "notes.txt").write_text("mine\n")
    return d


def _args(template: str, d: Path, out: Path) -> list[str]:
    return [part.replace("{D}", str(d)).replace("{O}", str(out)) for part in template.split()]


#: (case, arguments, words the error line must hold). {D}: the input folder, {O}: a fresh output folder.
REFUSED: list[tuple[str, str, tuple[str, ...]]] = [
    # unreadable STXM scans and stacks
    ("od-empty-hdr", "stxm od {D}/emptyheader.hdr -o {O}/x.tif", ("ScanDefinition",)),
    ("od-binary-hdr", "stxm od {D}/binaryheader.hdr -o {O}/x.tif", ("header",)),
    ("od-truncated-hdr", "stxm od {D}/cutheader.hdr -o {O}/x.tif", ("truncated",)),
    ("od-hdr-without-xim", "stxm od {D}/noxim.hdr -o {O}/x.tif", ("missing",)),
    ("od-garbage-xim", "stxm od {D}/garbage.hdr -o {O}/x.tif", ("garbage_a000.xim",)),
    ("od-truncated-xim", "stxm od {D}/truncated.hdr -o {O}/x.tif", ("truncated",)),
    ("od-empty-xim", "stxm od {D}/empty.hdr -o {O}/x.tif", ("0 rows",)),
    ("od-words-xim", "stxm od {D}/words.hdr -o {O}/x.tif", ("non-numeric",)),
    ("od-nan-xim", "stxm od {D}/nanxim.hdr -o {O}/x.tif", ("nan",)),
    ("od-truncated-tiff", "stxm od {D}/truncated.tif -o {O}/x.tif", ("truncated.tif",)),
    ("od-missing", "stxm od {D}/missing.hdr -o {O}/x.tif", ("no such file",)),
    ("od-nan-stack", "stxm od {D}/nan.tif -o {O}/x.tif", ("NaN",)),
    ("od-zero-stack", "stxm od {D}/zeros.tif -o {O}/x.tif", ("no positive counts",)),
    ("od-video-axes", "stxm od {D}/video.tif -o {O}/x.tif", ("--axes EYX",)),
    ("od-bad-axes", "stxm od {D}/video.tif -o {O}/x.tif --axes QQQ", ("QQQ",)),
    ("od-energy-list-count", "stxm od {D}/count.tif -o {O}/x.tif", ("3 energies for 2",)),
    ("od-energy-list-nan", "stxm od {D}/nan_energy.tif -o {O}/x.tif", ("NaN or infinite energies",)),
    ("od-energy-list-notes", "stxm od {D}/notes.tif -o {O}/x.tif", ("--axes EYX",)),
    ("od-energy-list-binary", "stxm od {D}/binary_list.tif -o {O}/x.tif", ("--axes EYX",)),
    ("od-energy-list-cut-tiff", "stxm od {D}/cut.tif -o {O}/x.tif", ("not a readable TIFF",)),
    ("composition-energy-list-notes", "stxm composition {D}/notes.tif -o {O}/x.tif --axes EYX", ("energy list",)),
    ("od-no-files", "stxm od {D}/nothing*.hdr -o {O}/x.tif", ("no file matches",)),
    ("stripes-video-axes", "stxm stripes {D}/video.tif", ("--axes EYX",)),
    ("stripes-garbage-xim", "stxm stripes {D}/garbage.hdr", ("garbage_a000.xim",)),
    ("stripes-zero-stack", "stxm stripes {D}/zeros.tif", ("no positive counts",)),
    ("composition-video-axes", "stxm composition {D}/video.tif -o {O}/x.tif", ("--axes EYX",)),
    ("composition-no-energies", "stxm composition {D}/video.tif -o {O}/x.tif --axes EYX", ("energy list",)),
    ("composition-one-energy", "stxm composition {D}/one.tif -o {O}/x.tif", (">= 2 energies",)),
    ("composition-nan-stack", "stxm composition {D}/nan.tif -o {O}/x.tif", ("NaN",)),
    ("composition-zero-stack", "stxm composition {D}/zeros.tif -o {O}/x.tif", ("no positive counts",)),
    ("composition-garbage-xim", "stxm composition {D}/garbage.hdr -o {O}/x.tif", ("garbage_a000.xim",)),
    ("composition-series-mismatch", "stxm composition {D}/scan.hdr {D}/one.tif -o {O}/x.tif", ("series",)),
    # options out of range
    ("composition-energies-twice", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies 708.2,708.2", ("twice",)),
    ("composition-energies-empty", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies ,", ("no energies",)),
    ("composition-energies-same-image", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies 708.2,708.3",
     ("both pick",)),
    ("composition-energies-words", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies a,b", ("numbers",)),
    ("composition-energies-nan", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies nan,708", ("finite",)),
    ("composition-energies-absent", "stxm composition {D}/scan.hdr -o {O}/x.tif --energies 700,708.2",
     ("not in the stack",)),
    ("composition-sd", "stxm composition {D}/scan.hdr -o {O}/x.tif --sd bogus", ("sd",)),
    ("composition-align", "stxm composition {D}/scan.hdr -o {O}/x.tif --align bogus", ("align",)),
    ("composition-stage", "stxm composition {D}/scan.hdr -o {O}/x.tif --denoise-stage bogus", ("stage",)),
    ("composition-split-parts", "stxm composition {D}/scan.hdr -o {O}/x.tif --split-parts 0", ("split-parts",)),
    ("composition-split-repeats", "stxm composition {D}/scan.hdr -o {O}/x.tif --split-repeats 0",
     ("split-repeats",)),
    ("composition-ensemble", "stxm composition {D}/scan.hdr -o {O}/x.tif --ensemble 0", ("ensemble",)),
    ("composition-significance", "stxm composition {D}/scan.hdr -o {O}/x.tif --significance 0", ("significance",)),
    ("composition-significance-neg", "stxm composition {D}/scan.hdr -o {O}/x.tif --significance -1",
     ("significance",)),
    ("composition-smooth", "stxm composition {D}/scan.hdr -o {O}/x.tif --od-smooth-px -1", ("smooth",)),
    ("composition-budget", "stxm composition {D}/scan.hdr -o {O}/x.tif --time-budget 0", ("budget",)),
    ("composition-denoise", "stxm composition {D}/scan.hdr -o {O}/x.tif --denoise bogus", ("not a denoising method",)),
    ("composition-denoise-plus", "stxm composition {D}/scan.hdr -o {O}/x.tif --denoise tv+bogus",
     ("not a denoising method",)),
    ("composition-i0-short", "stxm composition {D}/scan.hdr -o {O}/x.tif --i0 1:2", ("i0", "y0:y1,x0:x1")),
    ("composition-i0-reversed", "stxm composition {D}/scan.hdr -o {O}/x.tif --i0 5:2,0:3", ("0 <= start < end",)),
    ("composition-i0-outside", "stxm composition {D}/scan.hdr -o {O}/x.tif --i0 0:4,0:400", ("outside",)),
    ("composition-i0-old-spelling", "stxm composition {D}/scan.hdr -o {O}/x.tif --i0 0:4:0:3",
     ("no longer read", "'y0:y1,x0:x1'", "0:4:0:3")),
    ("od-i0-old-spelling", "stxm od {D}/scan.hdr -o {O}/x.tif --i0 0:4:0:3", ("no longer read", "'y0:y1,x0:x1'")),
    # reference spectra that cannot work
    ("references-identical", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_same.csv",
     ("identical",)),
    ("references-proportional", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_proportional.csv",
     ("proportional",)),
    ("references-nan", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_nan.csv", ("NaN",)),
    ("references-zero", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_zero.csv", ("zeros",)),
    ("references-binary", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_binary.csv",
     ("not a text file",)),
    ("references-empty", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_empty.csv",
     ("first line",)),
    ("references-repeated", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_repeated.csv",
     ("twice",)),
    ("references-words", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/refs_words.csv",
     ("non-numeric",)),
    ("references-missing", "stxm composition {D}/scan.hdr -o {O}/x.tif --references {D}/nope.csv", ("nope.csv",)),
    # outputs that would lose data or cannot be written
    ("composition-out-is-input-scan", "stxm composition {D}/scan.hdr -o {D}/scan.hdr", ("-o",)),
    ("composition-out-is-input-tif", "stxm composition {D}/stack.tif -o {D}/stack.tif", ("overwrite",)),
    ("composition-summary-is-input", "stxm composition {D}/scan.hdr -o {D}/refs.tif --references {D}/refs.json",
     ("overwrite",)),
    ("composition-out-folder", "stxm composition {D}/scan.hdr -o {D}/a_folder.tif", ("folder",)),
    ("composition-out-under-file", "stxm composition {D}/scan.hdr -o {D}/plainfile/x.tif", ("is a file",)),
    ("composition-out-ending", "stxm composition {D}/scan.hdr -o {O}/x.fits", ("ending",)),
    ("od-out-is-input", "stxm od {D}/stack.tif -o {D}/stack.tif", ("overwrite",)),
    ("od-summary-is-input", "stxm od {D}/refs.json -o {D}/refs.tif", ("overwrite",)),
    ("od-out-xim", "stxm od {D}/scan.hdr -o {D}/scan_a000.xim", ("ending",)),
    ("od-out-folder", "stxm od {D}/scan.hdr -o {D}/a_folder.tif", ("folder",)),
    # phantom, demo, benchmark
    ("phantom-size", "stxm phantom -o {O}/p --size 16", ("--size",)),
    ("phantom-size-zero", "stxm phantom -o {O}/p --size 0", ("--size",)),
    ("phantom-frames", "stxm phantom -o {O}/p --frames 0", ("--frames",)),
    ("phantom-i0-zero", "stxm phantom -o {O}/p --i0-counts 0", ("i0-counts",)),
    ("phantom-i0-negative", "stxm phantom -o {O}/p --i0-counts -5", ("--i0-counts",)),
    ("phantom-energies-twice", "stxm phantom -o {O}/p --energies 708.2,708.2", ("twice",)),
    ("phantom-energies-empty", "stxm phantom -o {O}/p --energies ,", ("no energies",)),
    ("phantom-energies-outside", "stxm phantom -o {O}/p --energies 650", ("outside",)),
    ("phantom-out-file", "stxm phantom -o {D}/stack.tif", ("existing file",)),
    ("phantom-out-foreign", "stxm phantom -o {D}/foreign", ("did not write",)),
    ("phantom-out-under-file", "stxm phantom -o {D}/plainfile/p", ("is a file",)),
    ("phantom-out-input-folder", "stxm phantom -o {D}", ("did not write",)),
    ("demo-method", "stxm demo -o {O}/d --quick --method bogus", ("not a denoising method",)),
    ("demo-budget", "stxm demo -o {O}/d --quick --time-budget 0", ("budget",)),
    ("demo-out-file", "stxm demo -o {D}/stack.tif --quick", ("existing file",)),
    ("benchmark-size", "benchmark stxm -o {O}/b --size 8", ("--size",)),
    ("benchmark-frames", "benchmark stxm -o {O}/b --frames 0", ("--frames",)),
    ("benchmark-draws", "benchmark stxm -o {O}/b --bias-draws -1", ("--bias-draws",)),
    ("benchmark-i0", "benchmark stxm -o {O}/b --i0-counts 0", ("i0-counts",)),
    ("benchmark-budget", "benchmark stxm -o {O}/b --time-budget 0", ("budget",)),
    ("benchmark-method", "benchmark stxm -o {O}/b --method bogus", ("not a denoising method",)),
    ("benchmark-extra", "benchmark stxm -o {O}/b --extra bogus", ("--extra",)),
    ("benchmark-out-file", "benchmark stxm -o {D}/stack.tif", ("existing file",)),
    # convert
    ("convert-complex-fits", "convert {D}/complex.tif -o {O}/x.fits", ("complex64",)),
    ("convert-bool-fits", "convert {D}/bool.tif -o {O}/x.fits", ("bool",)),
    ("convert-half-fits", "convert {D}/half.tif -o {O}/x.fits", ("float16",)),
    ("convert-complex-hdr", "convert {D}/complex.tif -o {O}/x.hdr --axes EYX", ("complex64",)),
    ("convert-5d-axes", "convert {D}/five.tif -o {O}/x.h5", ("--axes",)),
    ("convert-hdr-onto-other-scan", "convert {D}/scan.hdr -o {D}/other.hdr", ("another scan",)),
    ("convert-hdr-onto-itself", "convert {D}/scan.hdr -o {D}/scan.hdr", ("-o",)),
    ("convert-onto-input", "convert {D}/stack.tif -o {D}/stack.tif", ("overwrite",)),
    ("convert-onto-folder", "convert {D}/scan.hdr -o {D}/a_folder.tif", ("folder",)),
    ("convert-ending", "convert {D}/scan.hdr -o {O}/x.xyz", ("ending",)),
    ("convert-xim-ending", "convert {D}/scan.hdr -o {O}/x.xim", ("ending",)),
    ("convert-energy-list-blocked", "convert {D}/scan.hdr -o {D}/blocked.tif", ("in the way",)),
    ("convert-under-file", "convert {D}/scan.hdr -o {D}/plainfile/x.tif", ("is a file",)),
    ("convert-garbage-xim", "convert {D}/garbage.hdr -o {O}/x.tif", ("garbage_a000.xim",)),
    ("convert-truncated-tiff", "convert {D}/truncated.tif -o {O}/x.tif", ("truncated.tif",)),
    # compare
    ("compare-figure-is-test", "compare {D}/raw.tif --reference {D}/ref.tif --figure {D}/raw.tif", ("--figure",)),
    ("compare-figure-is-test-png", "compare {D}/raw.tif --reference {D}/ref.tif --figure {D}/a_folder.png",
     ("folder",)),
    ("compare-json-is-test", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --json {D}/raw.tif",
     ("--json",)),
    ("compare-json-is-reference", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --json {D}/ref.tif",
     ("--json",)),
    ("compare-figure-unknown", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --figure {O}/fig.xyz",
     ("--figure",)),
    ("compare-json-ending", "compare {D}/raw.tif --reference {D}/ref.tif --json {O}/out.txt", ("--json",)),
    ("compare-same-output", "compare {D}/raw.tif --reference {D}/ref.tif --json {O}/a.json --figure {O}/a.json",
     ("--figure",)),
    ("compare-mask-frames", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --mask {D}/mask12.tif",
     ("mask",)),
    ("compare-mask-size", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --mask {D}/mask_small.tif",
     ("mask",)),
    ("compare-mask-empty", "compare {D}/raw.tif {D}/den.tif --reference {D}/ref.tif --mask {D}/mask_zero.tif",
     ("no pixel",)),
    ("compare-same-test-twice", "compare {D}/raw.tif {D}/raw.tif --reference {D}/ref.tif", ("twice",)),
    ("compare-scale", "compare {D}/raw.tif --reference {D}/ref.tif --scale 0", ("scale",)),
    ("compare-data-range", "compare {D}/raw.tif --reference {D}/ref.tif --data-range 0", ("data range",)),
    ("compare-normalise", "compare {D}/raw.tif --reference {D}/ref.tif --normalise bogus", ("normalise",)),
    ("compare-reference-frames", "compare {D}/raw.tif --reference {D}/mask12.tif", ("reference frames",)),
    ("compare-truncated", "compare {D}/truncated.tif --reference {D}/ref.tif", ("truncated.tif",)),
]


@pytest.mark.parametrize(("args", "says"), [pytest.param(a, s, id=c) for c, a, s in REFUSED])
def test_refused_in_one_line(data, tmp_path, args, says):
    before, names = snapshot(data), _names(data)
    ran = run_cli(*_args(args, data, tmp_path))
    assert_refused(ran, before=before, folder=tmp_path, says=says)
    assert not leftovers(data), leftovers(data)
    assert not list(tmp_path.iterdir()), f"outputs left after a refusal: {list(tmp_path.iterdir())}\n{ran}"
    assert _names(data) == names, f"files appeared among the inputs: {set(_names(data)) - set(names)}"


def _names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("args", [
    "stxm composition {D}/scan.hdr -o {O}/ro/x.tif",
    "stxm od {D}/scan.hdr -o {O}/ro/x.tif",
    "stxm phantom -o {O}/ro/p",
    "convert {D}/scan.hdr -o {O}/ro/x.tif",
    "compare {D}/raw.tif --reference {D}/ref.tif --json {O}/ro/x.json",
])
def test_read_only_output_folder(data, tmp_path, args):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        ran = run_cli(*_args(args, data, tmp_path))
        assert_refused(ran, folder=tmp_path, says="permission")
    finally:
        (tmp_path / "ro").chmod(0o755)


# --------------------------------------------------------------------------------------- cases that were silently wrong
def test_od_masks_non_positive_counts_with_a_note(data, tmp_path):
    ran = run_cli("stxm", "od", data / "negative.tif", "-o", tmp_path / "od.tif")
    assert_ran(ran)
    notes = [line for line in ran.stderr.splitlines() if line.startswith("note:")]
    assert any("13 of 2048" in n and "masked" in n for n in notes), ran.stderr
    od = tifffile.imread(tmp_path / "od.tif")
    assert np.isnan(od).sum() == 13 and np.isfinite(od).sum() == od.size - 13


def test_composition_masks_non_positive_counts_with_a_note(data, tmp_path):
    ran = run_cli("stxm", "composition", data / "negative.tif", "-o", tmp_path / "x.tif")
    assert_ran(ran)
    assert "counts <= 0" in ran.stderr
    summary = json.loads((tmp_path / "x.json").read_text())
    assert summary["bad_pixels_masked"] == 13


def test_od_and_stripes_take_axes(data, tmp_path):
    assert_ran(run_cli("stxm", "od", data / "video.tif", "-o", tmp_path / "od.tif", "--axes", "EYX"))
    assert tifffile.imread(tmp_path / "od.tif").shape == (2, 32, 32)
    assert_ran(run_cli("stxm", "stripes", data / "video.tif", "--axes", "EYX"))


def test_convert_takes_axes_for_5d(data, tmp_path):
    ran = run_cli("convert", data / "five.tif", "-o", tmp_path / "x.h5", "--axes", "TCZYX")
    assert_ran(ran)
    assert "TCZYX" in ran.stdout


def test_convert_energy_tiff_round_trip_into_composition(data, tmp_path):
    """convert writes OUT.txt beside OUT.tif; composition reads the pair as an energy stack."""
    assert_ran(run_cli("convert", data / "scan.hdr", "-o", tmp_path / "s.tif"))
    assert (tmp_path / "s.txt").read_text().split() == ["708.2000", "710.2000"]
    assert_ran(run_cli("stxm", "composition", tmp_path / "s.tif", "-o", tmp_path / "x.tif"))
    assert tifffile.imread(tmp_path / "x.tif").shape == (3, 32, 32)


def test_convert_hdr_never_replaces_another_scan(data, tmp_path):
    for f in data.glob("other*"):
        shutil.copy(f, tmp_path / f.name)
    before = snapshot(tmp_path)
    ran = run_cli("convert", data / "scan.hdr", "-o", tmp_path / "other.hdr")
    assert_refused(ran, before=before, folder=tmp_path, says="another scan")
    ran = run_cli("convert", data / "scan.hdr", "-o", tmp_path / "new.hdr")  # a new name works
    assert_ran(ran)
    assert sorted(p.name for p in tmp_path.glob("new*")) == ["new.hdr", "new_a000.xim", "new_a001.xim"]


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml"),
                                               (".jpg", b"\xff\xd8")])
def test_compare_figure_format_follows_its_ending(data, tmp_path, suffix, magic):
    ran = run_cli("compare", data / "raw.tif", data / "den.tif", "--reference", data / "ref.tif", "--mask",
                  data / "mask10.tif", "--figure", tmp_path / f"box{suffix}", "--json", tmp_path / "rows.json")
    assert_ran(ran)
    assert (tmp_path / f"box{suffix}").read_bytes().startswith(magic)
    assert json.loads((tmp_path / "rows.json").read_text())["rows"]


def test_compare_same_names_in_two_folders_stay_apart(data, tmp_path):
    for sub, name in (("a", "raw.tif"), ("b", "den.tif")):
        (tmp_path / sub).mkdir()
        shutil.copy(data / name, tmp_path / sub / "x.tif")
    ran = run_cli("compare", tmp_path / "a" / "x.tif", tmp_path / "b" / "x.tif", "--reference", data / "ref.tif",
                  "--json", tmp_path / "rows.json")
    assert_ran(ran)
    versions = {r["version"] for r in json.loads((tmp_path / "rows.json").read_text())["rows"]}
    assert len(versions) == 2


def test_compare_library_refuses_a_mask_of_another_shape():
    from operando.workflows.compare import compare_versions

    stack = Stack(np.random.default_rng(0).random((10, 32, 32)), "TYX")
    with pytest.raises(InputError, match="mask"):
        compare_versions({"a": stack}, stack, mask=np.ones((12, 32, 32), bool))
    with pytest.raises(InputError, match="figure"):
        from operando.report import figure_format

        figure_format("fig.xyz")


def test_phantom_folder_holds_only_the_last_run(tmp_path):
    out = tmp_path / "p"
    assert_ran(run_cli("stxm", "phantom", "-o", out, "--size", "24", "--frames", "2"))
    assert (out / "stxm_t001.hdr").exists()
    ran = run_cli("stxm", "phantom", "-o", out, "--size", "24", "--frames", "1")
    assert_ran(ran)
    assert "removed" in ran.stderr
    assert not (out / "stxm_t001.hdr").exists() and not list(out.glob("stxm_t001_*"))
    assert (out / "stxm_t000.hdr").exists()


def test_library_configs_hold_the_ranges():
    from pydantic import ValidationError

    from operando.workflows.stxm import CompositionConfig
    from operando.xray import PhantomConfig

    for bad in ({"size": 16}, {"frames": 0}, {"i0_counts": 0}, {"energies_ev": ()}, {"energies_ev": (708.2, 708.2)},
                {"energies_ev": (650.0,)}, {"thickness_um": (0.2, 0.1)}):
        with pytest.raises(ValidationError):
            PhantomConfig(**bad)
    for bad in ({"energies_ev": []}, {"energies_ev": [708.2, 708.2]}, {"i0": "1:2"}, {"i0": "0:4:0:3"},
                {"split_parts": 1}, {"sd": "bogus"}, {"significance": 0}):
        with pytest.raises(ValidationError):
            CompositionConfig(**bad)


def test_library_refuses_singular_references():
    from operando.workflows.stxm import check_references
    from operando.xray import ReferenceSpectra, default_references

    grid = np.arange(700.0, 731.0)
    same = ReferenceSpectra(grid, ("a", "b"), np.stack([np.ones_like(grid), np.ones_like(grid)]), "test")
    with pytest.raises(InputError, match="cannot be told apart"):
        check_references(same, [708.2, 710.2])
    check_references(default_references(), [708.2, 710.2])


# ------------------------------------------------------------------------------------------- real instrument files
@pytest.mark.skipif(not REAL.is_dir(), reason="shared/data is not present")
@pytest.mark.parametrize("name", ["tutorial000000003.hdr", "tutorial000000005.hdr"])
def test_real_scans_still_work(tmp_path, name):
    assert_ran(run_cli("stxm", "od", REAL / name, "-o", tmp_path / "od.tif"))
    assert_ran(run_cli("stxm", "stripes", REAL / name))
    assert_ran(run_cli("convert", REAL / name, "-o", tmp_path / "c.tif"))


@pytest.mark.skipif(not REAL.is_dir(), reason="shared/data is not present")
def test_real_point_spectra_refused_for_maps(tmp_path):
    before = snapshot(REAL)
    ran = run_cli("stxm", "composition", REAL / "tutorial000000001.hdr", "-o", tmp_path / "x.tif")
    assert_refused(ran, before=before, folder=tmp_path, says="16 pixels")


def test_compare_leaves_infinite_pixels_out_with_a_note(data, tmp_path):
    raw = tifffile.imread(data / "raw.tif")
    raw[:, 3, :] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", raw)
    ran = run_cli("compare", tmp_path / "inf.tif", "--reference", data / "ref.tif", "--json", tmp_path / "rows.json")
    assert_ran(ran)
    assert "320 infinite pixel(s)" in ran.stderr
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert all(r["pixels"] <= 32 * 31 for r in rows) and all(np.isfinite(r["psnr_db"]) for r in rows)


TXM = REAL.parent.parent / "txm"


@pytest.mark.skipif(not TXM.is_dir(), reason="shared/data is not present")
@pytest.mark.parametrize(("keep", "says"), [(0, "not an OLE2"), (3000, "damaged Xradia"), (600_000, "truncated")])
def test_damaged_xradia_file_is_one_line(tmp_path, keep, says):
    real = next(TXM.glob("*.xrm"))
    cut = tmp_path / "in" / "cut.xrm"
    cut.parent.mkdir()
    cut.write_bytes(real.read_bytes()[:keep])
    before = snapshot(cut)
    ran = run_cli("convert", cut, "-o", tmp_path / "x.tif")
    assert_refused(ran, before=before, folder=tmp_path, says=says)
