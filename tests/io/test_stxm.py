"""STXM_Control .hdr/.xim/.xsp, NXstxm, Xradia .xrm and TIFF + energy list: real files and round trips."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from operando import InputError
from operando.io import read, read_energy_tiff, read_nxstxm, read_stxm, write, write_energy_tiff
from operando.io._stxm import parse_header

ROOT = Path(__file__).resolve().parents[2]
STXM = ROOT.parent / "shared" / "data" / "stxm" / "maxymus"
TXM = ROOT.parent / "shared" / "data" / "txm"


@pytest.fixture(scope="module")
def maxymus():
    if not STXM.is_dir():
        pytest.skip("../shared/data/stxm is not here")
    return STXM


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("name", "shape", "energy", "pixel", "dwell"), [
    ("tutorial000000003", (1, 100, 100), 707.8, 0.02, 35.0),
    ("tutorial000000004", (1, 100, 100), 707.8, 0.02, 35.0),
    ("tutorial000000005", (1, 133, 333), 709.5, 0.015, 49.0),
])
def test_real_image_scans_open_with_shape_energy_pixel_size(maxymus, name, shape, energy, pixel, dwell):
    before = _listing(maxymus)
    stack = read(maxymus / f"{name}.hdr")
    assert stack.axes == "EYX" and stack.shape == shape
    assert stack.metadata.energies == (energy,)
    assert stack.metadata.pixel_size == pytest.approx(pixel) and stack.metadata.pixel_unit == "um"
    assert stack.metadata.extra["dwell_ms"] == dwell
    assert len(stack.metadata.extra["ring_current_ma"]) == 1 and stack.metadata.extra["ring_current_ma"][0] > 200
    assert _listing(maxymus) == before  # nothing written next to the input


def test_rows_follow_qaxis_and_columns_paxis(maxymus):
    data = read(maxymus / "tutorial000000005.hdr").to_numpy()[0]
    first_line = (maxymus / "tutorial000000005_a.xim").read_text().splitlines()[0].split("\t")
    assert data.shape == (133, 333)
    assert data[0, :5].tolist() == [int(v) for v in first_line[:5]]
    assert read(maxymus / "tutorial000000003.hdr").to_numpy().min() == 29104


def test_point_spectra_read_as_one_column_per_point(maxymus):
    stack = read(maxymus / "tutorial000000001.hdr")
    assert stack.shape == (141, 1, 4)
    assert stack.metadata.energies[0] == 700.0 and stack.metadata.energies[-1] == 735.0
    assert int(stack.to_numpy()[0, 0, 0]) == 356556
    assert len(stack.metadata.extra["point_positions_um"]) == 4


def test_header_parser_reads_nested_blocks_and_arrays(maxymus):
    header = parse_header(maxymus / "tutorial000000005.hdr")
    region = header["ScanDefinition"]["Regions"][0]
    assert len(region["PAxis"]["Points"]) == 333 and len(region["QAxis"]["Points"]) == 133
    assert header["Image0"]["Energy"] == 709.51


def _copy_scan(src: Path, name: str, dst: Path) -> Path:
    for f in src.glob(f"{name}*"):
        shutil.copy(f, dst / f.name)
    return dst / f"{name}.hdr"


def test_missing_truncated_and_inconsistent_files_give_one_line_errors(maxymus, tmp_path):
    hdr = _copy_scan(maxymus, "tutorial000000003", tmp_path)
    xim = tmp_path / "tutorial000000003_a.xim"
    xim.write_text("\n".join(xim.read_text().splitlines()[:50]) + "\n")
    with pytest.raises(InputError, match="tutorial000000003_a.xim.*truncated") as err:
        read(hdr)
    assert "\n" not in str(err.value)
    xim.unlink()
    with pytest.raises(InputError, match="tutorial000000003_a.xim.*missing"):
        read(hdr)
    bad = tmp_path / "bad.hdr"
    bad.write_text(hdr.read_text().replace("Points = (1, 707.800)", "Points = (2, 707.800)"))
    with pytest.raises(InputError, match="bad.hdr.*2 values but lists 1"):
        read(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.hdr", "tutorial000000003.hdr"]


def test_crlf_and_stack_file_names_mapped_through_image_lines(maxymus, tmp_path):
    stack = read(maxymus / "tutorial000000003.hdr")
    data = np.stack([stack.to_numpy()[0], stack.to_numpy()[0] // 2, stack.to_numpy()[0] // 3])
    meta = stack.metadata.replace(energies=(706.0, 708.0, 711.0), extra={**stack.metadata.extra,
                                                                         "ring_current_ma": [250.0, 249.0, 248.0]})
    from operando import Stack

    out = write(Stack(data, "EYX", meta), tmp_path / "s.hdr")
    for f in tmp_path.glob("*.xim"):  # CRLF line endings, as some beamlines write
        f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    back = read(out)
    assert back.shape == (3, 100, 100) and back.metadata.energies == (706.0, 708.0, 711.0)
    np.testing.assert_array_equal(back.to_numpy(), data)
    # an aborted stack: only images 1 and 2 were taken (ImageNNN lines and files s_a001/s_a002)
    text = out.read_text().replace("Image000 = {StorageRingCurrent = 250.000; Energy = 706.000;};\n", "")
    (tmp_path / "s_a000.xim").unlink()
    out.write_text(text)
    part = read(out)
    assert part.metadata.energies == (708.0, 711.0)
    np.testing.assert_array_equal(part.to_numpy(), data[1:])


def test_junk_dwell_is_reported_not_used(maxymus, tmp_path):
    hdr = _copy_scan(maxymus, "tutorial000000003", tmp_path)
    hdr.write_text(hdr.read_text().replace("Dwell = 35;", "Dwell = -6.28e66;").replace("DwellTime = 35;",
                                                                                       "DwellTime = -6.28e66;"))
    meta = read(hdr).metadata.extra
    assert meta["dwell_ms"] is None and "-6.28e+66" in meta["dwell_invalid_values"][0]


def test_nxstxm_round_trip_and_old_axis_attributes(maxymus, tmp_path):
    import h5py

    stack = read(maxymus / "tutorial000000005.hdr")
    out = write(stack, tmp_path / "s.stxm.nxs")
    back = read(out)
    assert back.shape == stack.shape and back.metadata.energies == (709.5,)
    assert back.metadata.pixel_size == pytest.approx(0.015) and back.metadata.extra["ring_current_ma"] == [297.81]
    np.testing.assert_array_equal(back.to_numpy(), stack.to_numpy())
    old = tmp_path / "old.h5"  # a plain name: read with read_nxstxm; per-dataset 'axis' attributes, (X, Y, E) order
    with h5py.File(old, "w") as f:
        e = f.create_group("entry1")
        e.attrs["NX_class"] = "NXentry"
        e["definition"] = "NXstxm"
        g = e.create_group("counter0")
        g.attrs["NX_class"] = "NXdata"
        g["data"] = np.arange(4 * 3 * 2).reshape(4, 3, 2)
        for name, axis, values in (("sample_x", 1, np.arange(4) * 0.05), ("sample_y", 2, np.arange(3) * 0.05),
                                   ("energy", 3, [706.0, 711.0])):
            g[name] = values
            g[name].attrs["axis"] = axis
        mon = e.create_group("control")
        mon.attrs["NX_class"] = "NXmonitor"
        mon["data"] = [300.0, 150.0]
    s = read_nxstxm(old, normalise_monitor=True)
    assert s.shape == (2, 3, 4) and s.metadata.energies == (706.0, 711.0)
    raw = np.arange(24).reshape(4, 3, 2).transpose(2, 1, 0)
    np.testing.assert_allclose(s.to_numpy()[1], raw[1] / (150.0 / 225.0))


def test_energy_tiff_round_trip(maxymus, tmp_path):
    stack = read(maxymus / "tutorial000000004.hdr")
    tif, txt = write_energy_tiff(stack, tmp_path / "s.tif")
    assert txt.read_text().strip() == "707.8000"
    back = read_energy_tiff(tif)
    assert back.metadata.energies == (707.8,) and back.shape == stack.shape


def test_xradia_frame_energy_from_name_exposure_pixel_size():
    files = sorted(TXM.glob("*.xrm")) if TXM.is_dir() else []
    if not files:
        pytest.skip("../shared/data/txm is not here")
    stack = read(files[0])
    assert stack.axes == "EYX" and stack.shape == (1, 1024, 1024) and stack.dtype == np.uint16
    assert stack.metadata.energies == (8324.0,)
    assert stack.metadata.extra["energy_source"] == "file name"
    assert stack.metadata.extra["exposure_s"] == [0.3]
    assert 0 < stack.metadata.pixel_size < 1 and stack.metadata.pixel_unit == "um"


def test_read_stxm_region_out_of_range(maxymus):
    with pytest.raises(InputError, match="region 2 asked for, the scan has 1"):
        read_stxm(maxymus / "tutorial000000003.hdr", region=2)


def test_multi_region_stack_file_names(maxymus, tmp_path):
    """base_a{energy:03d}{region}.xim for a 2-region, 2-energy stack; each region read on its own."""
    text = (maxymus / "tutorial000000003.hdr").read_text()
    start = text.index("\tRegions = (1,")
    end = text.index("});", start) + 3
    region = text[start + len("\tRegions = (1,"):end - 2]
    text = text[:start] + "\tRegions = (2," + region + "," + region + ");" + text[end:]
    text = text.replace("Points = (1, 707.800)", "Points = (2, 707.800, 710.800)")
    text = text.replace("Image0 = {StorageRingCurrent = 249.02; Energy = 707.80;",
                        "Image001 = {StorageRingCurrent = 248.0; Energy = 710.80;};\n"
                        "Image000 = {StorageRingCurrent = 249.02; Energy = 707.80;")
    (tmp_path / "m.hdr").write_text(text)
    image = (maxymus / "tutorial000000003_a.xim").read_text()
    for e in range(2):
        for r in range(2):
            rows = [" ".join(str(int(v) + 1000 * (2 * e + r)) for v in line.split()) + "\t"
                    for line in image.splitlines()]
            (tmp_path / f"m_a{e:03d}{r}.xim").write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="2 regions; read region 0"):
        first = read(tmp_path / "m.hdr")
    second = read_stxm(tmp_path / "m.hdr", region=1)
    assert first.shape == second.shape == (2, 100, 100)
    assert first.metadata.energies == (707.8, 710.8)
    assert first.metadata.extra["ring_current_ma"] == [249.02, 248.0]
    base = read(maxymus / "tutorial000000003.hdr").to_numpy()[0]
    np.testing.assert_array_equal(second.to_numpy()[1], base + 3000)


def _nxstxm_series(path, n_frames=3):
    """A hand-made NXstxm series as a beamline writes it: one NXentry per time point, each with its start_time."""
    import h5py

    with h5py.File(path, "w") as f:
        for t in range(n_frames):
            entry = f.create_group(f"entry{t + 1}")
            entry.attrs["NX_class"] = "NXentry"
            entry.create_dataset("definition", data="NXstxm")
            entry.create_dataset("start_time", data=f"2026-03-01T10:{2 * t:02d}:30")
            group = entry.create_group("counter0")
            group.attrs.update({"NX_class": "NXdata", "signal": "data"})
            group.attrs["axes"] = np.array([b"energy", b"sample_y", b"sample_x"])
            group.create_dataset("data", data=np.full((2, 4, 5), 100.0 + t))
            group.create_dataset("energy", data=[706.0, 711.0]).attrs["units"] = "eV"
            group.create_dataset("sample_x", data=0.05 * np.arange(5)).attrs["units"] = "um"
            group.create_dataset("sample_y", data=0.05 * np.arange(4)).attrs["units"] = "um"


def test_an_nxstxm_series_gets_its_frame_times_from_the_entries_start_times(tmp_path):
    _nxstxm_series(tmp_path / "series.nxs")
    stack = read(tmp_path / "series.nxs")
    assert stack.axes == "TEYX" and stack.shape == (3, 2, 4, 5)
    assert stack.metadata.frame_times == (0.0, 120.0, 240.0)
    assert stack.metadata.pixel_size == pytest.approx(0.05)


def test_an_nxstxm_series_written_by_operando_keeps_its_frame_times(tmp_path):
    from operando import Metadata, Stack

    data = np.random.default_rng(0).random((3, 2, 4, 5)).astype(np.float32)
    written = Stack(data, "TEYX", Metadata(pixel_size=0.02, pixel_unit="um", energies=(706.0, 711.0),
                                           frame_times=(0.0, 30.0, 60.0)))
    write(written, tmp_path / "s.stxm.nxs")
    back = read(tmp_path / "s.stxm.nxs")
    assert back.metadata.frame_times == (0.0, 30.0, 60.0)
    np.testing.assert_allclose(back.data, data)

