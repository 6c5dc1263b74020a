"""Storage integrity: Zarr inputs with missing or broken chunks, resume after a damaged chunk, leftovers of killed
runs, and a full disk (``ulimit -f``) met by every writer.

Every refused case asserts one ``error:`` line, exit 2, no traceback, inputs unchanged and no partial file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

from operando import InputError, Stack
from operando.io import read, write

from ._harness import assert_ran, assert_refused, leftovers, run_cli, snapshot

# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------


def _video(frames: int = 6, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((frames, size, size)).astype(np.float32)


def _chunk_file(store: Path, t: int) -> Path:
    """The stored chunk of frame ``t`` of operando's Zarr layout (one frame per chunk)."""
    return store / "data" / "c" / str(t) / "0" / "0"


def _damage(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(1).bytes(path.stat().st_size))
    else:  # pragma: no cover
        raise ValueError(how)


@pytest.fixture
def damaged(tmp_path, request):
    """A 6-frame float32 video in Zarr (written by operando) with frame 2's chunk damaged as ``request.param``."""
    store = tmp_path / "in.zarr"
    write(Stack(_video(), axes="TYX"), store)
    _damage(_chunk_file(store, 2), request.param)
    return tmp_path, store


READ_COMMANDS = [
    ("diagnose",),
    ("info",),
    ("convert", "-o", "{out}/out.tif"),
    ("denoise", "--method", "gaussian", "-o", "{out}/out.tif"),
]


@pytest.mark.parametrize("damaged", ["missing"], indirect=True)
@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_missing_chunk_of_a_zarr_input_is_refused_naming_how_many_and_where(damaged, command):
    folder, store = damaged
    before = snapshot(store)
    args = [a.format(out=folder) for a in command]
    ran = run_cli(args[0], store, *args[1:])
    assert_refused(ran, before=before, folder=folder, says=("1 of 6", "missing", "T 2:3", "--allow-missing"))
    assert not (folder / "out.tif").exists()


@pytest.mark.parametrize("damaged", ["truncated", "empty", "garbage"], indirect=True)
@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_an_undecodable_chunk_of_a_zarr_input_is_refused(damaged, command):
    folder, store = damaged
    before = snapshot(store)
    args = [a.format(out=folder) for a in command]
    ran = run_cli(args[0], store, *args[1:])
    assert_refused(ran, before=before, folder=folder, says=("cannot be decoded", "T 2:3", "--allow-missing"))


@pytest.mark.parametrize("damaged", ["missing", "truncated", "garbage"], indirect=True)
@pytest.mark.parametrize("lazy", [False, True])
def test_allow_missing_reads_the_chunk_as_nan_with_a_note(damaged, lazy):
    _, store = damaged
    expected = _video()
    with pytest.warns(UserWarning, match="read as NaN"):
        stack = read(store, allow_missing=True, lazy=lazy)
        data = np.asarray(stack.data[...])
    assert np.isnan(data[2]).all()
    keep = np.arange(6) != 2
    np.testing.assert_array_equal(data[keep], expected[keep])
    if not lazy:
        assert stack.metadata.extra["missing_chunks"]["chunks"] == 1


@pytest.mark.parametrize("key", [np.s_[1:4, 3], np.s_[2], np.s_[..., ::3], np.s_[::-1, 2:5, -1], np.s_[[0, 2]]])
def test_lazy_masked_reads_give_numpy_indexing_results(tmp_path, key):
    store = tmp_path / "in.zarr"
    video = _video()
    write(Stack(video, axes="TYX"), store)
    _chunk_file(store, 2).unlink()
    with pytest.warns(UserWarning, match="missing"):
        lazy = read(store, allow_missing=True, lazy=True).data
    expected = video.copy()
    expected[2] = np.nan
    np.testing.assert_array_equal(lazy[key], expected[key])


def test_integer_data_with_a_missing_chunk_becomes_float_with_nan(tmp_path):
    store = tmp_path / "in.zarr"
    video = (_video() * 1000).astype(np.uint16)
    write(Stack(video, axes="TYX"), store)
    _chunk_file(store, 4).unlink()
    with pytest.warns(UserWarning, match="missing"):
        stack = read(store, allow_missing=True)
    assert stack.dtype == np.float32 and np.isnan(stack.to_numpy()[4]).all()
    np.testing.assert_array_equal(stack.to_numpy()[:4], video[:4])


def test_operando_stores_every_chunk_so_zero_data_reads_back(tmp_path):
    store = tmp_path / "zeros.zarr"
    zeros = np.zeros((3, 8, 8), np.float32)
    write(Stack(zeros, axes="TYX"), store)
    assert len(list((store / "data" / "c").rglob("*"))) >= 3  # every chunk stored, also the empty ones
    np.testing.assert_array_equal(read(store).to_numpy(), zeros)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_another_programs_store_with_a_missing_chunk_is_refused_and_fill_reads_it(tmp_path, zarr_format):
    path = tmp_path / "other.zarr"
    arr = zarr.create_array(str(path), shape=(4, 8, 8), chunks=(1, 8, 8), dtype="f4", zarr_format=zarr_format,
                            dimension_names=["t", "y", "x"] if zarr_format == 3 else None)
    arr[...] = 1.0
    arr[2] = 0.0  # left out by Zarr (write_empty_chunks=False): a legitimate fill-value chunk
    with pytest.raises(InputError, match=r"1 of 4 stored chunks .*missing.*allow_missing='fill'") as info:
        read(path, axes="TYX")
    assert "\n" not in str(info.value)
    data = read(path, axes="TYX", allow_missing="fill").to_numpy()
    assert (data[2] == 0).all() and (data[[0, 1, 3]] == 1).all()


def test_a_missing_shard_of_a_sharded_store_is_refused(tmp_path):
    path = tmp_path / "sharded.zarr"
    arr = zarr.create_array(str(path), shape=(4, 8, 8), chunks=(1, 8, 8), shards=(2, 8, 8), dtype="f4",
                            dimension_names=["t", "y", "x"])
    arr[...] = 1.0
    (path / "c" / "1" / "0" / "0").unlink()
    with pytest.raises(InputError, match=r"1 of 2 stored shards .*T 2:4"):
        read(path)
    with pytest.warns(UserWarning, match="missing"):
        data = read(path, allow_missing=True).to_numpy()
    assert np.isnan(data[2:]).all() and (data[:2] == 1).all()


def test_an_array_created_but_never_written_reads_as_its_fill_value(tmp_path):
    path = tmp_path / "empty.zarr"
    zarr.create_array(str(path), shape=(2, 8, 8), chunks=(1, 8, 8), dtype="f4", dimension_names=["t", "y", "x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (read(path).to_numpy() == 0).all()


def test_bad_allow_missing_value_is_refused(tmp_path):
    write(Stack(_video(), axes="TYX"), tmp_path / "in.zarr")
    with pytest.raises(InputError, match="allow_missing"):
        read(tmp_path / "in.zarr", allow_missing="nan")


# ---------------------------------------------------------------------------------------------------------------
# Streamed runs: a damaged input chunk, and resume after a damaged output chunk
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """A 12-frame 64 x 64 video in Zarr (4 chunks of 3 frames at 300KB), a one-step n2v model, a streamed output."""
    from operando.denoise import save_model, train_denoiser

    folder = tmp_path_factory.mktemp("streamed")
    video = _video(12, 64, seed=3)
    write(Stack(video, axes="TYX"), folder / "in.zarr")
    net = train_denoiser(Stack(video[:, :24, :24], axes="TYX"), method="n2v", max_steps=1, rng=0, device="cpu")
    save_model(net, folder / "model")
    ran = run_cli(*_predict(folder, folder / "reference.zarr"))
    assert_ran(ran)
    return folder, read(folder / "reference.zarr").to_numpy()


def _predict(folder: Path, out: Path) -> list[object]:
    return ["predict", folder / "in.zarr", "--model", folder / "model", "-o", out, "--memory-limit", "300KB",
            "--keep-float", "--device", "cpu"]


def _output_chunks(store: Path) -> list[Path]:
    return sorted(p for p in (store / "data" / "c").rglob("*") if p.is_file())


@pytest.mark.parametrize("how", ["truncated", *(pytest.param(h, marks=pytest.mark.slow)  # ~20 s each, loaded machine
                                                for h in ("empty", "garbage", "missing"))])
def test_resume_recomputes_a_damaged_finished_chunk_with_a_note(streamed, tmp_path, how):
    folder, reference = streamed
    out = tmp_path / "o.zarr"
    assert_ran(run_cli(*_predict(folder, out)))
    chunks = _output_chunks(out)
    assert len(chunks) >= 3
    _damage(chunks[1], how)
    again = run_cli(*_predict(folder, out))
    assert_ran(again)
    assert "damaged on disk and are recomputed" in again.stderr and "note:" in again.stderr
    np.testing.assert_array_equal(read(out).to_numpy(), reference)


def test_resume_recomputes_a_chunk_whose_record_is_garbage(streamed, tmp_path):
    folder, reference = streamed
    out = tmp_path / "o.zarr"
    assert_ran(run_cli(*_predict(folder, out)))
    record = out / "operando_stream" / "chunks" / "000001.json"
    record.write_bytes(b"\x00garbage")
    assert_ran(run_cli(*_predict(folder, out)))
    np.testing.assert_array_equal(read(out).to_numpy(), reference)
    assert json.loads(record.read_text())["index"] == 1


def test_a_streamed_run_refuses_a_zarr_input_with_a_missing_chunk(streamed, tmp_path):
    folder, _ = streamed
    source = tmp_path / "in.zarr"
    shutil.copytree(folder / "in.zarr", source)
    _chunk_file(source, 5).unlink()
    before = snapshot(source)
    ran = run_cli("predict", source, "--model", folder / "model", "-o", tmp_path / "o.zarr", "--memory-limit",
                  "300KB", "--device", "cpu")
    assert_refused(ran, before=before, folder=tmp_path, says=("missing", "T 5:6", "--allow-missing"))


def test_a_streamed_run_with_allow_missing_keeps_the_masked_frames_nan(streamed, tmp_path):
    from operando.workflows.scale import predict_large

    folder, reference = streamed
    source = tmp_path / "in.zarr"
    shutil.copytree(folder / "in.zarr", source)
    _chunk_file(source, 5).unlink()
    with pytest.warns(UserWarning, match="read as NaN"):
        predict_large(source, tmp_path / "o.zarr", model=folder / "model", memory_limit="300KB", dtype="float32",
                      device="cpu", allow_missing=True)
    out = read(tmp_path / "o.zarr", allow_nan=True).to_numpy()
    assert np.isnan(out[5]).all()
    assert np.isfinite(np.delete(out, 5, axis=0)).all()


# ---------------------------------------------------------------------------------------------------------------
# Leftovers of killed runs
# ---------------------------------------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_dead_runs_part_file_is_removed_by_the_next_write_into_the_folder(tmp_path, kind):
    write(Stack(_video(), axes="TYX"), tmp_path / "in.tif")
    part = tmp_path / f".old.tif.{_dead_pid()}.k3j_x9.part{'.zarr' if kind == 'folder' else '.tif'}"
    if kind == "folder":
        (part / "data").mkdir(parents=True)
        (part / "data" / "zarr.json").write_text("{}")
    else:
        part.write_bytes(b"half a TIFF")
    assert_ran(run_cli("convert", tmp_path / "in.tif", "-o", tmp_path / "new.npy"))
    assert not part.exists()
    assert (tmp_path / "new.npy").is_file()


def test_a_live_runs_part_file_is_kept(tmp_path):
    write(Stack(_video(), axes="TYX"), tmp_path / "in.tif")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        part = tmp_path / f".busy.tif.{live.pid}.a1b2c3.part.tif"
        part.write_bytes(b"being written")
        assert_ran(run_cli("convert", tmp_path / "in.tif", "-o", tmp_path / "new.npy"))
        assert part.read_bytes() == b"being written"
    finally:
        live.kill()
        live.wait()


# ---------------------------------------------------------------------------------------------------------------
# A full disk: every writer, in a subprocess under ``ulimit -f`` (writes then fail with EFBIG)
# ---------------------------------------------------------------------------------------------------------------


def _limited(folder: Path, kib: int, *args: object) -> subprocess.CompletedProcess:
    """Run ``python -m operando.cli ARGS`` in ``folder`` with files limited to ``kib`` KiB."""
    command = " ".join(["exec", sys.executable, "-m", "operando.cli", *(f"'{a}'" for a in args)])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
    return subprocess.run(["bash", "-c", f"ulimit -f {kib}; {command}"], cwd=folder, capture_output=True,
                          text=True, timeout=120, env=env)


def _assert_full_disk(proc: subprocess.CompletedProcess, folder: Path, *, before: dict[str, str],
                      gone: tuple[str, ...] = (), says: tuple[str, ...] = ("disk is full",)) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text  # not negative: no segmentation fault
    assert "Traceback" not in text and "Segmentation" not in text, text
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    for word in says:
        assert word in errors[0], text
    assert snapshot(*before) == before, "an input changed"
    for name in gone:
        assert not (folder / name).exists(), f"{name} was left: {text}"
    assert not leftovers(folder), f"partial files left: {leftovers(folder)}"


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    rng = np.random.default_rng(0)
    write(Stack(rng.random((8, 64, 64)).astype(np.float32), axes="TYX"), folder / "in.tif")
    write(Stack(rng.random((3, 64, 64)).astype(np.float32), axes="EYX"), folder / "stack.tif")
    return folder


@pytest.mark.parametrize("suffix", [".tif", ".ome.tif", ".btf", ".h5", ".nxs", ".zarr", ".npy", ".fits"])
def test_full_disk_on_each_data_writer_is_one_line_and_leaves_nothing(big_inputs, suffix):
    folder = big_inputs
    before = snapshot(folder / "in.tif")
    kib = 8 if suffix == ".zarr" else 64  # a Zarr store is many small files (16 KiB chunks here)
    proc = _limited(folder, kib, "convert", "in.tif", "-o", f"out{suffix}")
    _assert_full_disk(proc, folder, before=before, gone=(f"out{suffix}",))


def test_full_disk_on_the_nxstxm_writer(big_inputs):
    folder = big_inputs
    before = snapshot(folder / "stack.tif")
    proc = _limited(folder, 16, "convert", "stack.tif", "-o", "scan.stxm.nxs")
    _assert_full_disk(proc, folder, before=before, gone=("scan.stxm.nxs",))


def test_full_disk_on_the_json_writer(big_inputs):
    folder = big_inputs
    before = snapshot(folder / "in.tif")
    proc = _limited(folder, 0, "diagnose", "in.tif", "--json", "d.json")
    _assert_full_disk(proc, folder, before=before, gone=("d.json",))


def test_full_disk_on_the_figure_writer(big_inputs):
    folder = big_inputs
    before = snapshot(folder / "in.tif", folder / "stack.tif")
    proc = _limited(folder, 0, "compare", "in.tif", "--reference", "in.tif", "--figure", "box.png")
    _assert_full_disk(proc, folder, before=before, gone=("box.png",))


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_full_disk_on_report_figures(tmp_path, suffix):
    script = ("import numpy as np\n"
              "from operando.report._figures import pyplot, save_figure\n"
              "fig, ax = pyplot().subplots()\n"
              "ax.imshow(np.random.default_rng(0).random((300, 300)))\n"
              "try:\n"
              f"    save_figure(fig, 'fig{suffix}')\n"
              "except OSError as exc:\n"
              "    print('errno', exc.errno)\n")
    proc = subprocess.run(["bash", "-c", f"ulimit -f 8; exec {sys.executable} -c \"{script}\""], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and f"errno {errno.EFBIG}" in proc.stdout, proc.stdout + proc.stderr
    assert not (tmp_path / f"fig{suffix}").exists() and not leftovers(tmp_path)


@pytest.mark.slow  # a subprocess that imports torch, then a resumed run: ~15-20 s on a shared machine
def test_full_disk_in_a_streamed_run_keeps_the_finished_chunks_and_resumes(streamed, tmp_path):
    folder, _ = streamed
    video = _video(12, 64, seed=3)
    video[:6] = 0.5  # the first chunks' output compresses to a few KiB, the noisy ones do not fit 16 KiB
    write(Stack(video, axes="TYX"), tmp_path / "in.zarr")
    before = snapshot(tmp_path / "in.zarr")

    def args(source: object, out: object) -> list[object]:
        return ["predict", source, "--model", folder / "model", "-o", out, "--memory-limit", "300KB",
                "--keep-float", "--device", "cpu"]

    proc = _limited(tmp_path, 16, *args("in.zarr", "o.zarr"))
    _assert_full_disk(proc, tmp_path, before=before,
                      says=("disk is full", "finished chunk(s) are kept", "run the same command again"))
    assert (tmp_path / "o.zarr").is_dir()
    kept = int(re.search(r"the (\d+) finished chunk", proc.stderr).group(1))
    assert kept >= 1
    ran = run_cli(*args(tmp_path / "in.zarr", tmp_path / "o.zarr"))
    assert_ran(ran)
    assert f"{kept} finished chunk(s) kept" in ran.stdout
    from operando.denoise import load_model, predict

    expected = predict(load_model(folder / "model"), Stack(video, axes="TYX"), device="cpu").to_numpy()
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6  # as the streamed tests check


# ---------------------------------------------------------------------------------------------------------------
# HDF5 files too large for memory are written directly, after checking the room
# ---------------------------------------------------------------------------------------------------------------


def test_hdf5_replaces_one_dataset_and_keeps_the_others(tmp_path):
    a, b = _video(seed=1), _video(seed=2)
    write(Stack(a, axes="TYX"), str(tmp_path / "f.h5") + ":/a")
    write(Stack(b, axes="TYX"), str(tmp_path / "f.h5") + ":/b")
    write(Stack(b, axes="TYX"), str(tmp_path / "f.h5") + ":/a")
    np.testing.assert_array_equal(read(str(tmp_path / "f.h5") + ":/a").to_numpy(), b)
    np.testing.assert_array_equal(read(str(tmp_path / "f.h5") + ":/b").to_numpy(), b)


def test_hdf5_written_directly_when_too_large_for_memory(tmp_path, monkeypatch):
    from operando.io import _hdf5, _write

    monkeypatch.setattr(_hdf5, "_fits_in_memory", lambda nbytes: False)
    video = _video()
    write(Stack(video, axes="TYX"), str(tmp_path / "f.h5") + ":/a")
    write(Stack(video, axes="TYX"), str(tmp_path / "f.h5") + ":/b")
    np.testing.assert_array_equal(read(str(tmp_path / "f.h5") + ":/a").to_numpy(), video)
    monkeypatch.setattr(_write.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(OSError) as info:
        write(Stack(video, axes="TYX"), tmp_path / "g.h5")
    assert info.value.errno == errno.ENOSPC
    assert not (tmp_path / "g.h5").exists() and not leftovers(tmp_path)
