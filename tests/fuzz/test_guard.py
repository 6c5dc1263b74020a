"""The output guard and the error boundary on their own: every output checked against every input."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando import InputError
from operando._files import (
    FOLDER_RECORD,
    Target,
    atomic_path,
    check_outputs,
    clear_output_folder,
    describe_os_error,
    output_folder,
    remove_stale_parts,
)


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_output_equal_to_an_input_is_refused(tmp_path):
    src = _touch(tmp_path / "a.tif")
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(src, "--json")], [src])


def test_a_link_to_an_input_is_the_input(tmp_path):
    src = _touch(tmp_path / "a.tif")
    (tmp_path / "link.tif").symlink_to(src)
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(tmp_path / "link.tif")], [src])
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(tmp_path / "sub" / ".." / "a.tif")], [tmp_path / "link.tif"])


def test_glob_and_folder_inputs(tmp_path):
    frames = tmp_path / "frames"
    for i in range(3):
        _touch(frames / f"f{i}.png")
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(frames / "f1.png")], [str(frames / "*.png")])
    with pytest.raises(InputError, match="input folder"):
        check_outputs([Target(frames / "new.tif")], [frames])
    with pytest.raises(InputError, match="input folder"):
        check_outputs([Target(frames, kind="folder")], [frames])
    with pytest.raises(InputError, match="holds the input"):
        check_outputs([Target(tmp_path, kind="folder")], [frames / "f0.png"])


def test_companions_of_inputs_and_outputs(tmp_path):
    hdr = _touch(tmp_path / "scan.hdr")
    xim = _touch(tmp_path / "scan_a000.xim")
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(tmp_path / "x.tif", companions=(xim,))], [hdr])
    weights = _touch(tmp_path / "model.safetensors")
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(tmp_path / "model.json", "--json")], [weights])
    with pytest.raises(InputError, match="another scan"):
        check_outputs([Target(hdr, companions=(xim,), replace=False)], [])


def test_inner_hdf5_paths_name_the_file(tmp_path):
    h5 = _touch(tmp_path / "a.h5")
    with pytest.raises(InputError, match="would overwrite the input"):
        check_outputs([Target(h5)], [f"{h5}:/entry/data"])


def test_kind_ending_parent_and_collisions(tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    afile = _touch(tmp_path / "file.txt")
    with pytest.raises(InputError, match="existing folder"):
        check_outputs([Target(folder)])
    with pytest.raises(InputError, match="existing file"):
        check_outputs([Target(afile, kind="folder")])
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_outputs([Target(afile / "out.tif")])
    with pytest.raises(InputError, match="must end in one of .json"):
        check_outputs([Target(tmp_path / "r.tif", "--json", suffixes=(".json",))])
    with pytest.raises(InputError, match="name the same place"):
        check_outputs([Target(tmp_path / "a.json", "--json"), Target(tmp_path / "a.json", "--csv")])
    with pytest.raises(InputError, match="name the same place"):
        check_outputs([Target(tmp_path / "out", kind="folder"), Target(tmp_path / "out" / "x.json", "--json")])
    check_outputs([Target(tmp_path / "new" / "deeper" / "x.tif"), None], [afile])  # a new folder is fine


def test_unwritable_parent(tmp_path, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    with pytest.raises(InputError, match="permission denied"):
        check_outputs([Target(tmp_path / "x.tif")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(["a.tif", "b.tif", "sub/a.tif", "sub", "./a.tif", "sub/../b.tif", "c.json"]),
                      min_size=1, max_size=4),
       out=st.sampled_from(["a.tif", "b.tif", "sub/a.tif", "./sub/../a.tif", "c.json", "new.tif", "sub/new.tif"]))
def test_property_never_an_input(tmp_path, names, out):
    """Whatever the spelling, an output that resolves to an input file (or into an input folder) is refused."""
    root = tmp_path
    for name in ("a.tif", "b.tif", "sub/a.tif", "c.json"):
        if not (root / name).exists():
            _touch(root / name)
    inputs = [root / n for n in names]
    target = root / out
    resolved_inputs = {Path(os.path.realpath(p)) for p in inputs}
    hits = Path(os.path.realpath(target)) in resolved_inputs or any(
        p.is_dir() and Path(os.path.realpath(p)) in Path(os.path.realpath(target)).parents for p in inputs)
    if hits:
        with pytest.raises(InputError):
            check_outputs([Target(target)], inputs)
    else:
        check_outputs([Target(target)], inputs)


def test_output_folder_is_new_or_only_ours(tmp_path):
    out = tmp_path / "run"
    with output_folder(out, command="first"):
        _touch(out / "a.tif")
        _touch(out / "truth" / "b.json")
    assert (out / FOLDER_RECORD).exists()
    _touch(out / "mine.txt", "a note the user added")  # not operando's: kept, and said so
    notes = clear_output_folder(out)
    assert not (out / "a.tif").exists() and not (out / "truth").exists()
    assert (out / "mine.txt").read_text() == "a note the user added"
    assert any("removed 2" in n for n in notes) and any("kept 1" in n for n in notes)
    foreign = tmp_path / "theirs"
    _touch(foreign / "data.tif")
    with pytest.raises(InputError, match="did not write"):
        clear_output_folder(foreign)
    assert (foreign / "data.tif").exists()


def test_a_killed_run_is_cleared_next_time(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), output_folder(out):
        _touch(out / "half.tif")
        raise KeyboardInterrupt
    assert clear_output_folder(out)
    assert not (out / "half.tif").exists()


def test_stale_part_files_of_dead_processes_are_swept(tmp_path):
    dead = tmp_path / ".out.tif.999999999.abc123.part.tif"  # no such process
    live = tmp_path / f".out.tif.{os.getpid()}.abc123.part.tif"
    _touch(dead)
    _touch(live)
    with atomic_path(tmp_path / "other.tif") as tmp:
        tmp.write_text("done")
    assert not dead.exists() and live.exists()
    assert (tmp_path / "other.tif").read_text() == "done"
    assert remove_stale_parts(tmp_path) == []


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(OSError), atomic_path(tmp_path / "x.tif") as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "disk is full"), (errno.EFBIG, "size limit"),
                                             (errno.EACCES, "permission denied"), (errno.EROFS, "permission"),
                                             (errno.EISDIR, "is a folder"), (errno.ENOTDIR, "a file stands"),
                                             (errno.EEXIST, "already exists")])
def test_os_errors_read_as_one_line(code, words):
    line = describe_os_error(OSError(code, os.strerror(code), "/x/out.tif"))
    assert words in line and "/x/out.tif" in line and "\n" not in line
