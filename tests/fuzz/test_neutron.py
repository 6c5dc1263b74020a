"""A hostile sweep of the neutron commands: ``neutron normalize | variability | analyze | phantom | demo`` and
``benchmark neutron``.

Bad radiographs (empty, truncated, garbage, all NaN, negative, all zero, a frame without signal), an open beam
darker than the dark, sets of different shapes, out-of-range options, outputs that would overwrite or write into
an input, outputs of the wrong kind, stale output folders. Each refused case asserts exit code 2, one ``error:``
line and no traceback, the inputs byte-identical and no partial files; each case that used to be silently wrong
asserts the new behaviour.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.fuzz._harness import assert_ran, assert_refused, leftovers, run_cli, snapshot

STEPWEDGE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "neutron" / "stepwedge"


# ---------------------------------------------------------------------------------------------------------------
# Data: raw counts (16 x 16 px), a transmission series, a small phantom (16 x 48 px, 10 frames) and bad files
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder of good and bad neutron inputs."""
    from operando.bench.neutron_demo import write_phantom

    root = tmp_path_factory.mktemp("neutron-data")
    rng = np.random.default_rng(0)
    sample = rng.poisson(900, (6, 16, 16)).astype(np.uint16)
    _tif(root / "s.tif", sample)
    _tif(root / "ob.tif", rng.poisson(1200, (3, 16, 16)).astype(np.uint16))
    _tif(root / "dc.tif", rng.poisson(300, (3, 16, 16)).astype(np.uint16))
    _tif(root / "ob8.tif", rng.poisson(1200, (3, 8, 8)).astype(np.uint16))
    _tif(root / "nan.tif", np.full((6, 16, 16), np.nan, np.float32))
    _tif(root / "neg.tif", -sample.astype(np.float32))
    _tif(root / "zero.tif", np.zeros((6, 16, 16), np.uint16))
    part_nan = sample.astype(np.float32)
    part_nan[:, :2, :3] = np.nan
    _tif(root / "part_nan.tif", part_nan)
    part_low = sample.copy()
    part_low[:, 5:7, 5:9] = 0
    _tif(root / "part_low.tif", part_low)
    dead_frame = sample.copy()
    dead_frame[2] = 0
    _tif(root / "dead_frame.tif", dead_frame)
    ob_nan = rng.poisson(1200, (3, 16, 16)).astype(np.float32)
    ob_nan[:, 0, 0] = np.nan
    _tif(root / "ob_part_nan.tif", ob_nan)
    (root / "empty.tif").write_bytes(b"")
    (root / "garbage.tif").write_bytes(rng.bytes(600))
    raw = (root / "s.tif").read_bytes()
    (root / "trunc.tif").write_bytes(raw[: len(raw) // 2])

    t = np.clip(rng.normal(0.8, 0.05, (10, 16, 16)), 0.1, 1).astype(np.float32)
    _tif(root / "T.tif", t)
    _tif(root / "Tnan.tif", np.full_like(t, np.nan))
    _tif(root / "Tneg.tif", -t)
    _tif(root / "Tzero.tif", np.zeros_like(t))
    t_dead = t.copy()
    t_dead[4] = -1
    _tif(root / "Tdead.tif", t_dead)
    _tif(root / "T2d.tif", t[0])
    _tif(root / "mask8.tif", np.ones((8, 8), np.uint8))
    _tif(root / "mask16.tif", np.ones((16, 16), np.uint8))

    files = write_phantom(root / "ph", rng=1, ny=16, nx=48, n_cycles=1, frames_per_half_cycle=3)
    cycler = files["cycler"].read_text().splitlines()
    (root / "cyc_novolt.csv").write_text("\n".join(",".join(r.split(",")[:2]) for r in cycler) + "\n")
    (root / "cyc_nocurrent.csv").write_text("\n".join(",".join(r.split(",")[::2]) for r in cycler) + "\n")
    hours = ["time_h,current_a"] + [",".join(r.split(",")[:2]) for r in cycler[1:]]
    (root / "cyc_hours.csv").write_text("\n".join(hours) + "\n")
    (root / "cyc_zero.csv").write_text("time_s,current_a\n0,0\n10,0\n20,0\n")
    (root / "notjson.json").write_text("{not json")
    spec = json.loads(files["regions"].read_text())
    spec["regions"]["anode"]["box"] = [8, 12, 10, 20]  # the list spelling regions.json no longer reads
    (root / "oldbox.json").write_text(json.dumps(spec))
    (root / "list.json").write_text("[1, 2]")
    (root / "afile").write_text("a file, not a folder")
    (root / "afolder").mkdir()
    (root / "foreign").mkdir()
    (root / "foreign" / "keep.txt").write_text("someone's notes")
    return root


def _tif(path: Path, array: np.ndarray) -> None:
    """Write frames as grey pages (never as the RGB planes tifffile makes of three frames)."""
    tifffile.imwrite(path, array, photometric="minisblack")


def _ph(data: Path, *extra: object) -> list[object]:
    """``neutron analyze`` of the small phantom from raw counts, no denoiser."""
    ph = data / "ph"
    return ["neutron", "analyze", ph / "sample.tif", "--open-beam", ph / "open_beam.tif", "--dark", ph / "dark.tif",
            "--regions", ph / "regions.json", "--reference-frame", "0:4", "--denoise", "none", *extra]


def _norm(data: Path, sample: str, *extra: object, ob: str = "ob.tif", dc: str = "dc.tif") -> list[object]:
    return ["neutron", "normalize", data / sample, "--open-beam", data / ob, "--dark", data / dc, *extra]


# ---------------------------------------------------------------------------------------------------------------
# neutron normalize
# ---------------------------------------------------------------------------------------------------------------

NORMALIZE_REFUSED = [
    # (case, sample, open beam, dark, extra options, words in the error)
    ("all-NaN sample", "nan.tif", "ob.tif", "dc.tif", (), ("no finite value",)),
    ("negative sample", "neg.tif", "ob.tif", "dc.tif", (), ("every pixel", "masked", "dark current")),
    ("all-zero sample", "zero.tif", "ob.tif", "dc.tif", (), ("every pixel", "masked")),
    ("one frame without signal", "dead_frame.tif", "ob.tif", "dc.tif", (), ("frame 2", "remove it")),
    ("all-NaN open beam", "s.tif", "nan.tif", "dc.tif", (), ("open beam", "no finite value")),
    ("all-NaN dark", "s.tif", "ob.tif", "nan.tif", (), ("dark current", "no finite value")),
    ("open beam darker than dark", "s.tif", "dc.tif", "ob.tif", (), ("no brighter than the dark",)),
    ("dark as open beam", "s.tif", "dc.tif", "dc.tif", (), ("no brighter than the dark",)),
    ("open beam of another shape", "s.tif", "ob8.tif", "dc.tif", (), ("8x8", "16x16")),
    ("dark of another shape", "s.tif", "ob.tif", "ob8.tif", (), ("8x8", "16x16")),
    ("empty sample file", "empty.tif", "ob.tif", "dc.tif", (), ("empty.tif",)),
    ("garbage sample file", "garbage.tif", "ob.tif", "dc.tif", (), ("garbage.tif",)),
    ("truncated sample file", "trunc.tif", "ob.tif", "dc.tif", (), ("trunc.tif",)),
    ("truncated open beam", "s.tif", "trunc.tif", "dc.tif", (), ("trunc.tif",)),
    ("missing sample", "nothere.tif", "ob.tif", "dc.tif", (), ("nothere",)),
    ("--k -1", "s.tif", "ob.tif", "dc.tif", ("--k", "-1"), ("--k",)),
    ("--k 0", "s.tif", "ob.tif", "dc.tif", ("--k", "0"), ("--k", "> 0")),
    ("--gain 0", "s.tif", "ob.tif", "dc.tif", ("--gain", "0"), ("--gain", "> 0")),
    ("--gain -2", "s.tif", "ob.tif", "dc.tif", ("--gain", "-2"), ("--gain",)),
    ("--exposure-ratio 0", "s.tif", "ob.tif", "dc.tif", ("--exposure-ratio", "0"), ("--exposure-ratio", "> 0")),
    ("--exposure-ratio -1", "s.tif", "ob.tif", "dc.tif", ("--exposure-ratio", "-1"), ("--exposure-ratio",)),
    ("--spots bogus", "s.tif", "ob.tif", "dc.tif", ("--spots", "bogus"), ("spot rule",)),
    ("--open-region garbage", "s.tif", "ob.tif", "dc.tif", ("--open-region", "a:b"), ("y0:y1,x0:x1",)),
    ("--open-region outside", "s.tif", "ob.tif", "dc.tif", ("--open-region", "0:40,0:40"), ("outside",)),
]


@pytest.mark.parametrize("case,sample,ob,dc,extra,says", NORMALIZE_REFUSED, ids=[c[0] for c in NORMALIZE_REFUSED])
def test_normalize_refuses_bad_input(data, tmp_path, case, sample, ob, dc, extra, says):
    before = snapshot(data)
    ran = run_cli(*_norm(data, sample, "-o", tmp_path / "T.tif", *extra, ob=ob, dc=dc))
    assert_refused(ran, before=before, folder=tmp_path, says=says)
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_exposure_ratio_zero_says_its_range_not_a_dark_open_beam(data, tmp_path):
    ran = run_cli(*_norm(data, "s.tif", "-o", tmp_path / "T.tif", "--exposure-ratio", "0"))
    assert_refused(ran, says="--exposure-ratio")
    assert "no brighter" not in ran.stderr


@pytest.mark.parametrize("option,name", [("-o", "s.tif"), ("-o", "ob.tif"), ("-o", "dc.tif")])
def test_normalize_never_overwrites_an_input(data, option, name):
    before = snapshot(data)
    ran = run_cli(*_norm(data, "s.tif", option, data / name))
    assert_refused(ran, before=before, folder=data, says=("overwrite", name))


def test_normalize_variance_file_beside_the_output_never_replaces_an_input(data, tmp_path):
    """``-o X.tif`` also writes ``X_var_a.tif``: a sample of that name is refused, not replaced."""
    import shutil

    shutil.copy(data / "s.tif", tmp_path / "X_var_a.tif")
    before = snapshot(tmp_path, data)
    ran = run_cli("neutron", "normalize", tmp_path / "X_var_a.tif", "--open-beam", data / "ob.tif", "--dark",
                  data / "dc.tif", "-o", tmp_path / "X.tif")
    assert_refused(ran, before=before, folder=tmp_path, says="X_var_a.tif")
    assert not (tmp_path / "X.tif").exists()


@pytest.mark.parametrize("where,says", [("afolder", "folder"), ("afile/T.tif", "afile"), ("T.xyz", "T.xyz"),
                                        ("", "-o")])
def test_normalize_output_of_the_wrong_kind(data, where, says):
    before = snapshot(data)
    ran = run_cli(*_norm(data, "s.tif", "-o", data / where if where else ""))
    assert_refused(ran, before=before, folder=data, says=says)


def test_normalize_output_inside_an_input_folder_of_frames(data, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, frame in enumerate(tifffile.imread(data / "s.tif")):
        _tif(frames / f"s_{t:04d}.tif", frame)
    before = snapshot(frames, data)
    ran = run_cli("neutron", "normalize", frames, "--open-beam", data / "ob.tif", "--dark", data / "dc.tif", "-o",
                  frames / "T.tif")
    assert_refused(ran, before=before, folder=tmp_path, says="input folder")
    ran = run_cli("neutron", "normalize", frames / "s_*.tif", "--open-beam", data / "ob.tif", "--dark",
                  data / "dc.tif", "-o", frames / "s_0002.tif")
    assert_refused(ran, before=before, folder=tmp_path, says="overwrite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_normalize_into_a_read_only_folder(data, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert_refused(run_cli(*_norm(data, "s.tif", "-o", locked / "T.tif")), says="permission")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("sample,ob,says", [
    ("part_nan.tif", "ob.tif", "36 not finite"),  # 6 frames x 6 NaN pixels
    ("part_low.tif", "ob.tif", "48 where the sample is not above the dark current"),  # 6 frames x 8 zero pixels
    ("s.tif", "ob_part_nan.tif", "6 where the open beam is not above the dark current or not finite"),
])
def test_normalize_masks_bad_pixels_with_a_note_that_counts_them(data, tmp_path, sample, ob, says):
    ran = run_cli(*_norm(data, sample, "-o", tmp_path / "T.tif", ob=ob))
    assert_ran(ran)
    notes = [line for line in ran.stderr.splitlines() if line.startswith("note: masked")]
    assert len(notes) == 1 and says in notes[0], ran.stderr
    t = tifffile.imread(tmp_path / "T.tif")
    masked = int(says.split()[0])
    assert int(np.isnan(t).sum()) == masked and np.all(t[np.isfinite(t)] > 0)


def test_normalize_of_good_counts_is_quiet_and_positive(data, tmp_path):
    ran = run_cli(*_norm(data, "s.tif", "-o", tmp_path / "T.tif"))
    assert_ran(ran)
    assert "note: masked" not in ran.stderr and "masked 0 px" in ran.stdout
    t = tifffile.imread(tmp_path / "T.tif")
    assert np.isfinite(t).all() and 0.5 < float(np.median(t)) < 0.8
    assert (tmp_path / "T_var_a.tif").exists() and not leftovers(tmp_path)


@pytest.mark.skipif(not STEPWEDGE.is_dir(), reason="shared step-wedge data not found")
def test_real_step_wedge_still_normalises(tmp_path):
    """The real 5 s step wedge: the open strip at 1, the steps in order, its one dark pixel masked with a note."""
    ran = run_cli("neutron", "normalize", STEPWEDGE / "exp5s_h2o.tif", "--open-beam", STEPWEDGE / "exp5s_ob.tif",
                  "--dark", STEPWEDGE / "exp5s_dc.tif", "-o", tmp_path / "T.tif", "--open-region", "10:60,20:1480")
    assert_ran(ran)
    assert "masked 1 px" in ran.stdout and "note: masked 1 of 1350000" in ran.stderr
    t = tifffile.imread(tmp_path / "T.tif")
    assert np.nanmedian(t[10:60, 20:1480]) == pytest.approx(1.0, abs=0.002)
    steps = [np.nanmedian(t[y0:y1, 1000:1200]) for y0, y1 in ((110, 200), (230, 300), (330, 420), (450, 540))]
    assert np.all(np.diff(steps) > 0.05), steps


def test_normalize_library_refuses_the_same_ranges():
    from operando import InputError, Stack
    from operando.neutron import normalize

    rng = np.random.default_rng(1)
    s, ob, dc = (Stack(rng.poisson(level, (3, 8, 8)).astype(np.float64), axes="TYX") for level in (900, 1200, 300))
    for changes, word in (({"k": -1}, "k = -1"), ({"gain": 0}, "gain = 0"), ({"exposure_ratio": 0}, "exposure"),
                          ({"k": float("nan")}, "k = nan"), ({"spots": "x"}, "spot rule")):
        with pytest.raises(InputError, match=word):
            normalize(s, ob, dc, **changes)


# ---------------------------------------------------------------------------------------------------------------
# neutron variability
# ---------------------------------------------------------------------------------------------------------------

VARIABILITY_REFUSED = [
    ("--json onto the input", ("T.tif", "--json", "{data}/T.tif"), ()),
    ("--json onto the mask", ("T.tif", "--mask", "{data}/mask16.tif", "--json", "{data}/mask16.tif"), ()),
    ("--json an existing folder", ("T.tif", "--json", "{data}/afolder"), ("folder",)),
    ("--json under a file", ("T.tif", "--json", "{data}/afile/v.json"), ("afile",)),
    ("--window 0", ("T.tif", "--window", "0"), ("--window",)),
    ("--window 1", ("T.tif", "--window", "1"), ("--window",)),
    ("--window -3", ("T.tif", "--window", "-3"), ("--window",)),
    ("--window larger than the series", ("T.tif", "--window", "11"), ("window", "at most 10")),
    ("--mask of another shape", ("T.tif", "--mask", "{data}/mask8.tif"), ("8x8", "10x16x16")),
    ("--mask garbage", ("T.tif", "--mask", "{data}/garbage.tif"), ("garbage.tif",)),
    ("all-NaN series", ("Tnan.tif",), ("no finite value",)),
    ("one image, not a series", ("T2d.tif",), ("TYX",)),
    ("empty file", ("empty.tif",), ("empty.tif",)),
    ("truncated file", ("trunc.tif",), ("trunc.tif",)),
]


@pytest.mark.parametrize("case,args,says", VARIABILITY_REFUSED, ids=[c[0] for c in VARIABILITY_REFUSED])
def test_variability_refuses_bad_input(data, case, args, says):
    before = snapshot(data)
    argv = [str(data / args[0]), *(a.format(data=data) for a in args[1:])]
    ran = run_cli("neutron", "variability", *argv)
    assert_refused(ran, before=before, folder=data, says=says)


def test_variability_json_onto_the_input_never_overwrites_it(data):
    """The issue's case: ``neutron variability T.tif --json T.tif`` replaced the series with JSON."""
    before = snapshot(data / "T.tif")
    ran = run_cli("neutron", "variability", data / "T.tif", "--json", data / "T.tif")
    assert_refused(ran, before=before, says="--json")
    assert tifffile.imread(data / "T.tif").shape == (10, 16, 16)


def test_variability_with_a_good_mask_and_json(data, tmp_path):
    ran = run_cli("neutron", "variability", data / "T.tif", "--mask", data / "mask16.tif", "--json",
                  tmp_path / "v.json")
    assert_ran(ran)
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["dynamic_variability"] > 0 and doc["mask_pixels"] == 256


def test_dynamic_variability_library_refuses_bad_windows_and_masks():
    from operando import InputError
    from operando.neutron import dynamic_variability

    series = np.random.default_rng(0).random((6, 8, 8))
    for kwargs, word in (({"window": 0}, "window = 0"), ({"window": 1}, "window = 1"), ({"window": 9}, "at most 6"),
                         ({"mask": np.ones((4, 4), bool)}, "4x4")):
        with pytest.raises(InputError, match=word):
            dynamic_variability(series, **kwargs)
    with pytest.raises(InputError, match="no finite value"):
        dynamic_variability(np.full((6, 8, 8), np.nan))


# ---------------------------------------------------------------------------------------------------------------
# neutron analyze
# ---------------------------------------------------------------------------------------------------------------

ANALYZE_REFUSED = [
    ("--half-cycles a,b", ("--half-cycles", "a,b"), ("--half-cycles", "3,35,67")),
    ("--half-cycles decreasing", ("--half-cycles", "7,3"), ("--half-cycles", "increasing")),
    ("--half-cycles one frame", ("--half-cycles", "5"), ("--half-cycles", "at least two")),
    ("--half-cycles empty", ("--half-cycles", ""), ("--half-cycles",)),
    ("--half-cycles past the end", ("--half-cycles", "3,99"), ("within the",)),
    ("--k 0", ("--k", "0"), ("k",)),
    ("--k -1", ("--k", "-1"), ("--k",)),
    ("--li6-fraction 2", ("--li6-fraction", "2"), ("--li6-fraction",)),
    ("--frame-interval 0", ("--frame-interval", "0"), ("--frame-interval",)),
    ("--time-budget 0", ("--time-budget", "0"), ("--time-budget",)),
    ("--time-budget -5", ("--time-budget", "-5"), ("--time-budget",)),
    ("--seed -1", ("--seed", "-1"), ("--seed",)),
    ("--reference-frame x", ("--reference-frame", "x"), ("--reference-frame",)),
    ("--reference-frame 4:2", ("--reference-frame", "4:2"), ("reference",)),
    ("--reference-frame 99", ("--reference-frame", "99"), ("reference",)),
    ("--denoise bogus", ("--denoise", "bogus"), ("denoise",)),
    ("--polish bogus", ("--polish", "bogus"), ("polish",)),
    ("--denoise-target bogus", ("--denoise-target", "bogus"), ("denoise-target",)),
    ("--open-region a list", ("--open-region", "[1, 3, 2, 46]"), ("--open-region", "y0:y1,x0:x1")),
    ("--open-region old spelling", ("--open-region", "1:3:2:46"), ("--open-region", "y0:y1,x0:x1")),
    ("--drift-region garbage", ("--drift-region", "1,2"), ("y0:y1,x0:x1",)),
]


@pytest.mark.parametrize("case,extra,says", ANALYZE_REFUSED, ids=[c[0] for c in ANALYZE_REFUSED])
def test_analyze_refuses_bad_options(data, tmp_path, case, extra, says):
    before = snapshot(data)
    ran = run_cli(*_ph(data, "-o", tmp_path / "out", *extra))
    assert_refused(ran, before=before, folder=tmp_path, says=says)
    assert not (tmp_path / "out").exists(), "a refused run left its output folder"


ANALYZE_INPUT_REFUSED = [
    ("all-NaN transmission", "Tnan.tif", ("no finite value", "-ln T")),
    ("negative transmission", "Tneg.tif", ("nowhere positive", "-ln T")),
    ("all-zero transmission", "Tzero.tif", ("nowhere positive",)),
    ("one frame not positive", "Tdead.tif", ("frame 4", "remove")),
    ("one image, not a series", "T2d.tif", ("TYX",)),
    ("raw counts without --open-beam", "s.tif", ("--open-beam",)),
    ("empty file", "empty.tif", ("empty.tif",)),
    ("garbage file", "garbage.tif", ("garbage.tif",)),
    ("truncated file", "trunc.tif", ("trunc.tif",)),
    ("missing file", "nothere.tif", ("nothere",)),
]


@pytest.mark.parametrize("case,name,says", ANALYZE_INPUT_REFUSED, ids=[c[0] for c in ANALYZE_INPUT_REFUSED])
def test_analyze_refuses_meaningless_input_in_one_line(data, tmp_path, case, name, says):
    before = snapshot(data)
    ran = run_cli("neutron", "analyze", data / name, "--denoise", "none", "-o", tmp_path / "out")
    assert_refused(ran, before=before, folder=tmp_path, says=says)
    assert not (tmp_path / "out").exists(), "a refused run left its output folder"


@pytest.mark.parametrize("case,extra,says", [
    ("raw counts with an all-zero sample", ("--dark", "dc.tif"), ()),
    ("cycler without a current column", ("--cycler", "cyc_nocurrent.csv"), ("no current column", "time_s")),
    ("cycler on another clock", ("--cycler", "cyc_hours.csv"), ("do not span", "time_h, current_a",
                                                                 "no voltage column")),
    ("cycler with no current", ("--cycler", "cyc_zero.csv"), ("zero in every row",)),
    ("cycler that is garbage", ("--cycler", "garbage.tif"), ("cycler",)),
    ("regions that are not JSON", ("--regions", "notjson.json"), ("not valid JSON",)),
    ("regions with a list box", ("--regions", "oldbox.json"), ("oldbox.json", "anode", "'y0:y1,x0:x1'")),
    ("regions that are a list", ("--regions", "list.json"), ("list.json", "not an object")),
])
def test_analyze_refuses_bad_side_files(data, tmp_path, case, extra, says):
    before = snapshot(data)
    if case.startswith("raw counts"):
        argv = ["neutron", "analyze", data / "zero.tif", "--open-beam", data / "ob.tif", "--dark", data / "dc.tif",
                "--denoise", "none", "-o", tmp_path / "out"]
        says = ("every pixel",)
    else:
        argv = [*_ph(data), extra[0], data / extra[1], "-o", tmp_path / "out"]
    ran = run_cli(*argv)
    assert_refused(ran, before=before, folder=tmp_path, says=says)
    assert not (tmp_path / "out").exists(), "a refused run left its output folder"


@pytest.mark.parametrize("case,out,says", [
    ("-o the input file", "T.tif", ("existing file",)),
    ("-o the folder holding the input", ".", ("holds the input",)),
    ("-o under a file", "afile/out", ("afile",)),
    ("-o a folder of someone else's files", "foreign", ("did not write", "keep.txt")),
])
def test_analyze_output_folder_guard(data, case, out, says):
    before = snapshot(data)
    ran = run_cli("neutron", "analyze", data / "T.tif", "--denoise", "none", "-o", data / out)
    assert_refused(ran, before=before, folder=data, says=says)


def test_analyze_output_folder_holding_the_regions_or_cycler_is_refused(data, tmp_path):
    import shutil

    shutil.copy(data / "ph" / "cycler.csv", tmp_path / "cycler.csv")
    before = snapshot(tmp_path, data)
    ran = run_cli(*_ph(data, "--cycler", tmp_path / "cycler.csv", "-o", tmp_path))
    assert_refused(ran, before=before, says=("holds the input", "cycler.csv"))


def test_analyze_notes_a_cycler_without_voltage_and_runs(data, tmp_path):
    ran = run_cli(*_ph(data, "--cycler", data / "cyc_novolt.csv", "-o", tmp_path / "out"))
    assert_ran(ran)
    assert "no voltage column (columns: time_s, current_a)" in ran.stderr
    assert (tmp_path / "out" / "metrics.json").exists()


def test_analyze_empties_an_earlier_run_from_its_output_folder(data, tmp_path):
    """Stale files of an earlier run (here cycles.csv, written only with --cycler) never mix with new ones."""
    out = tmp_path / "out"
    assert_ran(run_cli(*_ph(data, "--cycler", data / "ph" / "cycler.csv", "-o", out)))
    assert (out / "cycles.csv").exists()
    ran = run_cli(*_ph(data, "--half-cycles", "3,6,9", "-o", out))
    assert_ran(ran)
    assert "removed" in ran.stderr and "earlier operando run" in ran.stderr
    assert "numerical warnings" not in ran.stderr and "legend" not in ran.stderr, ran.stderr
    assert not (out / "cycles.csv").exists()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["half_cycles"]["boundaries"] == [3, 6, 9] and doc["coulombic_efficiency"]["cycler"] is None


def test_analyze_masks_partly_non_positive_transmission_with_a_note(data, tmp_path):
    ph = data / "ph"
    assert_ran(run_cli("neutron", "normalize", ph / "sample.tif", "--open-beam", ph / "open_beam.tif", "--dark",
                       ph / "dark.tif", "-o", tmp_path / "T.tif"))
    t = tifffile.imread(tmp_path / "T.tif")
    t[:, 6:8, 10:14] = -0.5
    _tif(tmp_path / "T.tif", t)
    ran = run_cli("neutron", "analyze", tmp_path / "T.tif", "--regions", ph / "regions.json", "--reference-frame",
                  "0:4", "--half-cycles", "3,6,9", "--denoise", "none", "-o", tmp_path / "out")
    assert_ran(ran)
    assert f"80 of {t.size} transmission voxel(s) are not positive or not finite" in ran.stderr, ran.stderr
    delta = tifffile.imread(tmp_path / "out" / "delta_a_raw.tif")
    assert np.isnan(delta[:, 6:8, 10:14]).all()


def test_analysis_config_refuses_out_of_range_settings():
    from pydantic import ValidationError

    from operando._errors import validation_reason
    from operando.workflows.neutron import AnalysisConfig

    for changes, word in (({"k": 0}, "k"), ({"time_budget_s": -1}, "time_budget_s"), ({"seed": -1}, "seed"),
                          ({"n_avg": 0}, "n_avg"), ({"li6_fraction": 1.5}, "li6_fraction"),
                          ({"half_cycle_frames": (5, 2)}, "half_cycle_frames"), ({"reference": (4, 2)}, "reference"),
                          ({"gain": 0}, "gain"), ({"cross_section_barn": -1}, "cross_section_barn"),
                          ({"denoise": "bm3d"}, "denoise"), ({"open_regions": ((1, 2),)}, "open_regions"),
                          ({"time_budget_s": float("nan")}, "time_budget_s"), ({"max_steps": 0}, "max_steps"),
                          ({"open_regions": [[1, 3, 2, 46]]}, "open_regions"), ({"drift_region": "1:3:2:46"},
                                                                                "drift_region"),
                          ({"regsiter_drift": False}, "regsiter_drift")):
        with pytest.raises(ValidationError) as info:
            AnalysisConfig(**changes)
        reason = validation_reason(info.value)
        assert reason.startswith(f"{word}:") and "\n" not in reason, reason
        if "region" in word:
            assert "'y0:y1,x0:x1'" in reason, reason  # the old spellings are refused with the one spelling named


def test_analysis_config_is_frozen_and_round_trips_through_its_json():
    from pydantic import ValidationError

    from operando._regions import Region
    from operando.workflows.neutron import AnalysisConfig

    config = AnalysisConfig(reference=(0, 4), open_regions=["1:3,2:46"], drift_region="0:8,0:8", max_steps=5)
    assert config.open_regions == (Region(1, 3, 2, 46),) and config.drift_region == Region(0, 8, 0, 8)
    with pytest.raises(ValidationError, match="frozen"):
        config.k = 0  # a setting changed after the checks would skip them
    saved = json.loads(json.dumps(config.model_dump(mode="json")))
    assert saved["open_regions"] == ["1:3,2:46"] and saved["drift_region"] == "0:8,0:8"
    assert AnalysisConfig(**saved) == config


# ---------------------------------------------------------------------------------------------------------------
# neutron phantom, demo, benchmark neutron
# ---------------------------------------------------------------------------------------------------------------

PHANTOM_REFUSED = [
    ("--cycles 0", ("--cycles", "0")), ("--cycles -1", ("--cycles", "-1")), ("--cycles 11", ("--cycles", "11")),
    ("--frames-per-half-cycle 0", ("--frames-per-half-cycle", "0")),
    ("--frames-per-half-cycle 5000", ("--frames-per-half-cycle", "5000")),
    ("--open-beam-counts 0", ("--open-beam-counts", "0")), ("--open-beam-counts -5", ("--open-beam-counts", "-5")),
    ("--open-beam-counts 1e9", ("--open-beam-counts", "1e9")), ("--seed -1", ("--seed", "-1")),
    ("--cycles x", ("--cycles", "x")),
]


@pytest.mark.parametrize("case,extra", PHANTOM_REFUSED, ids=[c[0] for c in PHANTOM_REFUSED])
def test_phantom_checks_every_option_before_making_the_folder(tmp_path, case, extra):
    ran = run_cli("neutron", "phantom", "-o", tmp_path / "ph", *extra)
    assert_refused(ran, folder=tmp_path, says=extra[0])
    assert not (tmp_path / "ph").exists(), "a refused phantom left an empty folder"


@pytest.mark.parametrize("command", [("neutron", "phantom"), ("neutron", "demo"), ("benchmark", "neutron")])
@pytest.mark.parametrize("where,says", [("afile", "existing file"), ("afile/sub", "afile"),
                                        ("foreign", "did not write")])
def test_folder_commands_refuse_wrong_outputs(data, command, where, says):
    before = snapshot(data)
    ran = run_cli(*command, "-o", data / where, "--time-budget" if command != ("neutron", "phantom") else "--seed",
                  "1")
    assert_refused(ran, before=before, folder=data, says=says)


def test_phantom_twice_into_one_folder_replaces_the_earlier_run(tmp_path):
    out = tmp_path / "ph"
    assert_ran(run_cli("neutron", "phantom", "-o", out, "--cycles", "1", "--frames-per-half-cycle", "2"))
    first = tifffile.imread(out / "sample.tif").shape
    ran = run_cli("neutron", "phantom", "-o", out, "--cycles", "2", "--frames-per-half-cycle", "2")
    assert_ran(ran)
    assert "earlier operando run" in ran.stderr
    assert first == (8, 64, 128) and tifffile.imread(out / "sample.tif").shape == (12, 64, 128)
    assert not leftovers(out)


def test_phantom_library_refuses_out_of_range_parameters(tmp_path):
    from operando import InputError
    from operando.bench.neutron_demo import write_phantom
    from operando.neutron import default_config

    for changes, word in (({"n_cycles": 0}, "n_cycles"), ({"ny": 4}, "ny"), ({"nx": 20}, "nx"),
                          ({"open_beam_counts": 0}, "open_beam_counts"), ({"spot_rate": 2}, "spot_rate"),
                          ({"frame_interval_s": 0}, "frame_interval_s"), ({"n_cycles": 1.5}, "whole number"),
                          ({"coulombic_efficiency": (0,)}, "coulombic"), ({"n_cycles": 12}, "too narrow")):
        with pytest.raises(InputError, match=word):
            default_config(**changes)
    with pytest.raises(InputError):
        write_phantom(tmp_path / "ph", n_cycles=0)
    assert not (tmp_path / "ph").exists()


@pytest.mark.parametrize("case,extra,says", [
    ("--time-budget 0", ("--time-budget", "0"), "--time-budget"),
    ("--time-budget -1", ("--time-budget", "-1"), "--time-budget"),
    ("--seed -1", ("--seed", "-1"), "--seed"),
])
def test_demo_refuses_bad_options(tmp_path, case, extra, says):
    ran = run_cli("neutron", "demo", "-o", tmp_path / "demo", *extra)
    assert_refused(ran, folder=tmp_path, says=says)
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("case,extra,says", [
    ("--time-budget 0", ("--time-budget", "0"), "--time-budget"),
    ("--target bogus", ("--target", "bogus"), "--target"),
    ("--data missing", ("--data", "/nonexistent/stepwedge"), "--data"),
    ("--seed -1", ("--seed", "-1"), "--seed"),
])
def test_benchmark_neutron_refuses_bad_options(tmp_path, case, extra, says):
    ran = run_cli("benchmark", "neutron", "-o", tmp_path / "bench", *extra)
    assert_refused(ran, folder=tmp_path, says=says)
    assert not (tmp_path / "bench").exists()


def test_benchmark_library_refuses_bad_settings(tmp_path):
    from operando import InputError
    from operando.bench.neutron import run_benchmark

    for changes, word in (({"time_budget_s": 0}, "time_budget_s"), ({"targets": ("x",)}, "targets"),
                          ({"seed": -1}, "seed")):
        with pytest.raises(InputError, match=word):
            run_benchmark(tmp_path / "b", **changes)
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_demo_twice_into_one_folder_replaces_the_earlier_run(tmp_path):
    out = tmp_path / "demo"
    assert_ran(run_cli("neutron", "demo", "-o", out, "--time-budget", "2"))
    (out / "analysis" / "stale.png").write_bytes(b"not ours")  # a file the run did not write is kept, with a note
    ran = run_cli("neutron", "demo", "-o", out, "--time-budget", "2")
    assert_ran(ran)
    assert "earlier operando run" in ran.stderr and "kept 1 file" in ran.stderr
    assert (out / "analysis" / "metrics.json").exists() and not leftovers(out)
