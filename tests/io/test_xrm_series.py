"""Xradia .xrm energy series: frames written from the shared SSRL reference frame (same OLE2 layout, streams
rewritten in place), read as a folder or glob; refusals for mixed, mismatched and multi-step globs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import InputError
from operando.io import format_of, read

TXM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "txm"
REAL = TXM / "rep01_000051_ref_20161456_ssrl-test-data_08324.0_eV_001of010.xrm"


def real_frame() -> Path:
    if not REAL.exists():
        pytest.skip("../shared/data/txm is not here")
    return REAL


def write_xrm(path: Path, image: np.ndarray, *, exposure_s: float, energy_ev: float = 0.0) -> Path:
    """Write ``image`` (uint16, at most 1024 x 1024 pixels) as an Xradia .xrm: a copy of the real SSRL frame with
    its image, size, exposure and energy streams rewritten (olefile replaces streams of the same size only)."""
    import olefile

    image = np.ascontiguousarray(image, dtype="<u2")
    height, width = image.shape
    shutil.copyfile(real_frame(), path)
    path.chmod(0o644)
    ole = olefile.OleFileIO(str(path), write_mode=True)
    try:
        size = ole.get_size("ImageData1/Image1")
        payload = image.tobytes()
        assert len(payload) <= size
        ole.write_stream("ImageData1/Image1", payload + bytes(size - len(payload)))
        ole.write_stream("ImageInfo/ImageWidth", np.uint32(width).tobytes())
        ole.write_stream("ImageInfo/ImageHeight", np.uint32(height).tobytes())
        ole.write_stream("ImageInfo/ExpTimes", np.float32(exposure_s).tobytes())
        ole.write_stream("ImageInfo/Energy", np.float32(energy_ev).tobytes())
    finally:
        ole.close()
    return path


def sample_name(energy: float, repeat: int, of: int, step: str = "rep01") -> str:
    return f"{step}_000051_ssrl-test-data_{energy:07.1f}_eV_{repeat:03d}of{of:03d}.xrm"


def ref_name(energy: float, repeat: int, of: int, step: str = "rep01") -> str:
    return f"{step}_000051_ref_20161456_ssrl-test-data_{energy:07.1f}_eV_{repeat:03d}of{of:03d}.xrm"


def _frame(seed: int, shape=(48, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(1000, 40000, size=shape).astype(np.uint16)


def test_writer_round_trips_through_the_reader(tmp_path):
    image = _frame(0)
    path = write_xrm(tmp_path / sample_name(8333.0, 1, 1), image, exposure_s=0.5)
    stack = read(path)
    assert stack.shape == (1, 48, 64) and stack.metadata.energies == (8333.0,)
    np.testing.assert_array_equal(stack.to_numpy()[0], image)
    assert stack.metadata.extra["exposure_s"] == [0.5] and stack.metadata.extra["repeat"] == [1, 1]
    assert stack.metadata.extra["reference_frames"] is False
    assert read(REAL).metadata.extra["reference_frames"] is True


def test_glob_of_sample_frames_is_an_energy_series_with_repeats(tmp_path):
    energies = [8350.0, 8324.0, 8340.5]
    for k, e in enumerate(energies):
        for r in (1, 2, 3):
            write_xrm(tmp_path / sample_name(e, r, 3), _frame(10 * k + r), exposure_s=0.5)
    assert format_of(str(tmp_path / "*.xrm"))[0].module == "._xrm"
    stack = read(str(tmp_path / "*.xrm"))
    assert stack.axes == "TEYX" and stack.shape == (3, 3, 48, 64)
    assert stack.metadata.energies == (8324.0, 8340.5, 8350.0)
    np.testing.assert_array_equal(stack.to_numpy()[2, 0], _frame(10 * 1 + 3))  # repeat 3 of 8324 eV
    assert stack.metadata.extra["exposure_s"] == [0.5] * 9
    assert stack.metadata.extra["files"][1] == sample_name(8340.5, 1, 3)
    folder = read(tmp_path)  # a folder of .xrm files reads the same
    assert folder.shape == stack.shape


def test_energy_from_metadata_wins_over_the_name(tmp_path):
    write_xrm(tmp_path / sample_name(8000.0, 1, 1), _frame(1), exposure_s=0.5, energy_ev=8333.5)
    write_xrm(tmp_path / sample_name(8001.0, 1, 1), _frame(2), exposure_s=0.5, energy_ev=8350.0)
    stack = read(str(tmp_path / "*.xrm"))
    assert stack.axes == "EYX" and stack.metadata.energies == (8333.5, 8350.0)
    assert stack.metadata.extra["energy_source"] == "ImageInfo/Energy"


def test_uneven_repeats_give_one_plane_per_frame_with_a_note(tmp_path):
    for r in (1, 2):
        write_xrm(tmp_path / sample_name(8324.0, r, 2), _frame(r), exposure_s=0.5)
    write_xrm(tmp_path / sample_name(8350.0, 1, 2), _frame(9), exposure_s=0.5)
    with pytest.warns(UserWarning, match=r"fewer repeats.*8350 eV \(1 of 2\)"):
        stack = read(str(tmp_path / "*.xrm"))
    assert stack.axes == "EYX" and stack.metadata.energies == (8324.0, 8324.0, 8350.0)


def test_refusals_are_one_line(tmp_path):
    write_xrm(tmp_path / sample_name(8324.0, 1, 1), _frame(1), exposure_s=0.5)
    write_xrm(tmp_path / ref_name(8324.0, 1, 1), _frame(2), exposure_s=0.3)
    with pytest.raises(InputError, match=r"mixes 1 reference frames.*and 1 sample frames.*--flat") as err:
        read(str(tmp_path / "*.xrm"))
    assert "\n" not in str(err.value)
    odd = tmp_path / "odd"
    odd.mkdir()
    write_xrm(odd / sample_name(8324.0, 1, 1), _frame(1), exposure_s=0.5)
    write_xrm(odd / sample_name(8350.0, 1, 1), _frame(2, shape=(32, 64)), exposure_s=0.5)
    with pytest.raises(InputError, match="frame size 64x32 differs"):
        read(odd)
    steps = tmp_path / "steps"
    steps.mkdir()
    write_xrm(steps / sample_name(8324.0, 1, 1, "rep01"), _frame(1), exposure_s=0.5)
    write_xrm(steps / sample_name(8324.0, 1, 1, "rep02"), _frame(2), exposure_s=0.5)
    with pytest.raises(InputError, match=r"2 time steps \(rep01, rep02\)"):
        read(steps)


def test_embedded_reference_is_refused_when_the_file_has_none():
    with pytest.raises(InputError, match="no ReferenceData/Image"):
        read(f"{real_frame()}:/reference")


def test_info_on_a_glob_of_xrm_frames(tmp_path):
    from operando.cli import app

    for e in (8324.0, 8350.0):
        write_xrm(tmp_path / sample_name(e, 1, 1), _frame(int(e)), exposure_s=0.5)
    result = CliRunner().invoke(app, ["info", str(tmp_path / "*.xrm")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "shape (2, 48, 64), axes EYX" in text and "8324.0" in text
