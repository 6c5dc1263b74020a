"""A file that does not record its axes is never read with a silently guessed layout."""

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from operando import AxesAssumedWarning, InputError
from operando.cli import app
from operando.io import read, write


def test_unlabelled_3d_tiff_warns_names_the_assumption_and_records_it(tmp_path):
    path = tmp_path / "energies.tif"
    tifffile.imwrite(path, np.ones((3, 8, 8), np.uint16))  # no axes recorded
    with pytest.warns(AxesAssumedWarning, match=r"reading shape \(3, 8, 8\) as 'TYX'.*axes"):
        stack = read(path)
    assert stack.axes == "TYX"
    assert stack.metadata.extra["axes_assumed"] == "TYX"


def test_given_or_recorded_axes_raise_no_notice(tmp_path, recwarn):
    path = tmp_path / "e.tif"
    tifffile.imwrite(path, np.ones((3, 8, 8), np.uint16))
    assert read(path, axes="EYX").axes == "EYX"
    write(read(path, axes="EYX"), tmp_path / "labelled.tif")
    again = read(tmp_path / "labelled.tif")
    assert again.axes == "EYX" and "axes_assumed" not in again.metadata.extra
    assert not [w for w in recwarn if issubclass(w.category, AxesAssumedWarning)]


def test_five_dimensional_data_without_axes_is_refused(tmp_path):
    path = tmp_path / "five.npy"
    np.save(path, np.zeros((2, 2, 2, 4, 4), np.float32))
    with pytest.raises(InputError, match="pass axes="):
        read(path)


def test_cli_prints_one_note_line_for_an_assumed_layout(tmp_path):
    path = tmp_path / "v.tif"
    tifffile.imwrite(path, np.ones((3, 8, 8), np.uint16))
    result = CliRunner().invoke(app, ["info", str(path)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "'TYX'" in notes[0] and "--axes" in notes[0]


def test_outputs_get_the_usual_file_permissions(tmp_path):
    import os

    path = write(np.zeros((4, 4), np.float32), tmp_path / "o.tif")
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_a_lazy_folder_of_frames_reads_only_the_frames_asked_for(tmp_path, monkeypatch):
    import pickle

    from operando.io import _frames

    frames = np.arange(5 * 6 * 7, dtype=np.uint16).reshape(5, 6, 7)
    for i, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / f"f{i + 1}.tif", frame)
    eager = read(tmp_path)
    lazy = read(tmp_path, lazy=True)
    assert lazy.shape == eager.shape == (5, 6, 7) and lazy.axes == "TYX"
    opened = []
    original = _frames._read_one
    monkeypatch.setattr(_frames, "_read_one", lambda p: opened.append(p.name) or original(p))
    np.testing.assert_array_equal(lazy.data[1:3, 2], frames[1:3, 2])
    np.testing.assert_array_equal(lazy.data[4], frames[4])
    assert opened == ["f2.tif", "f3.tif", "f5.tif"]
    np.testing.assert_array_equal(np.asarray(lazy.data), eager.data)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy.data))[0], frames[0])
