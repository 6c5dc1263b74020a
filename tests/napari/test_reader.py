"""The napari reader: real instrument files with their scale, operando outputs, and files that are not operando's."""

import numpy as np
import pytest

from operando import Stack
from operando._stack import Metadata
from operando.io import write, write_nxstxm
from operando.napari import _reader
from operando.napari._layers import layer_to_stack
from operando.napari._reader import get_reader


def _layers(path):
    reader = get_reader(str(path))
    assert reader is not None, f"operando's reader refused {path}"
    return reader(str(path))


@pytest.mark.parametrize(("name", "shape", "energy", "pixel"), [
    ("tutorial000000003", (1, 100, 100), 707.8, 0.02),
    ("tutorial000000004", (1, 100, 100), 707.8, 0.02),
    ("tutorial000000005", (1, 133, 333), 709.5, 0.015),
])
def test_maxymus_images_open_with_pixel_size_and_energy(shared_data, name, shape, energy, pixel):
    folder = shared_data / "stxm" / "maxymus"
    for path in (folder / f"{name}.hdr", folder / f"{name}_a.xim"):  # the header, or its image file
        (data, settings, kind), = _layers(path)
        assert kind == "image" and data.shape == shape
        assert settings["scale"] == pytest.approx([1.0, pixel, pixel])
        assert settings["units"] == ["eV", "um", "um"] and settings["axis_labels"] == ["energy", "y", "x"]
        assert settings["translate"][0] == pytest.approx(energy)  # the energy slider sits at the energy, in eV
        assert settings["name"] == f"{name} {energy:g} eV"
        record = settings["metadata"]["operando"]
        assert record["axes"] == "EYX" and record["energies"] == [energy] and record["pixel_unit"] == "um"


def test_maxymus_spectra_scan_has_its_energy_axis(shared_data):
    folder = shared_data / "stxm" / "maxymus"
    for path in (folder / "tutorial000000001.hdr", folder / "tutorial000000001_2.xsp"):  # header or a spectrum
        (data, settings, _), = _layers(path)
        assert data.shape[0] == 141 and settings["name"] == "tutorial000000001"
        assert settings["scale"][0] == pytest.approx(0.25) and settings["translate"][0] == pytest.approx(700.0)
        assert len(settings["metadata"]["operando"]["energies"]) == 141


def test_multi_file_stxm_scan_opens_once_from_its_header_or_any_image_file(tmp_path):
    stack = Stack(np.arange(90, dtype=np.int32).reshape(3, 5, 6) + 1, "EYX",
                  Metadata(pixel_size=0.03, pixel_unit="um", energies=(706.0, 708.0, 710.0)))
    write(stack, tmp_path / "scan.hdr")
    images = sorted(str(p) for p in tmp_path.glob("scan_a*.xim"))
    assert len(images) == 3
    for path in (str(tmp_path / "scan.hdr"), images[1], images):
        (data, settings, _), = get_reader(path)(path)
        assert np.array_equal(data, stack.data) and settings["name"] == "scan"
        assert settings["scale"] == pytest.approx([2.0, 0.03, 0.03]) and settings["translate"][0] == 706.0


def test_xradia_frame_opens_with_its_pixel_size_and_energy(shared_data):
    files = sorted((shared_data / "txm").glob("*.xrm"))
    if not files:
        pytest.skip("../shared/data/txm has no .xrm")
    for path in (files[0], files[0].parent):  # the frame, and its folder as an energy series
        (data, settings, _), = _layers(path)
        assert data.shape == (1, 1024, 1024) and data.dtype == np.uint16
        assert settings["scale"][1:] == pytest.approx([0.0312, 0.0312], abs=5e-5)
        assert settings["units"] == ["eV", "um", "um"] and settings["translate"][0] == pytest.approx(8324.0)


def test_plain_tiff_radiograph_opens(shared_data):
    (data, settings, _), = _layers(shared_data / "neutron" / "stepwedge" / "exp5s_ob.tif")
    assert data.shape == (900, 1500) and settings["axis_labels"] == ["y", "x"]


ENVI = "ENVI\ndescription = {hyperspectral cube}\nsamples = 64\nlines = 64\nbands = 10\ndata type = 4\n"


@pytest.mark.parametrize(("name", "content"), [
    ("cube.hdr", ENVI),                                   # an ENVI header: not STXM_Control's
    ("notes.hdr", "Type = \"Image Scan\";\n"),            # a header without ScanDefinition
    ("broken.tif", b"II*\x00garbage"),                   # a TIFF that tifffile cannot open
    ("empty.tif", b""),
    ("frame.xrm", b"not an OLE2 file at all"),
    ("cube.fits", b"NOT FITS" * 20),
    ("scan_a.xim", "1\t2\t\n3\t4\t\n"),                  # an image file without its header beside it
    ("scan_0.xsp", "700.0\t12\t\n"),                       # a spectrum without its header
    ("table.csv", "a,b\n1,2\n"),                          # an ending operando does not read
    ("data.h5", b"\x89HDF\r\n\x1a\n but truncated"),
])
def test_files_that_are_not_operandos_get_no_reader(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    assert get_reader(str(path)) is None


def test_foreign_hdf5_and_folders_get_no_reader(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "random.h5", "w") as f:
        f["images"] = np.zeros((4, 8, 8))
        f.create_group("entry").attrs["NX_class"] = "NXentry"
    assert get_reader(str(tmp_path / "random.h5")) is None
    (tmp_path / "empty").mkdir()
    assert get_reader(str(tmp_path / "empty")) is None
    assert get_reader(str(tmp_path / "missing.tif")) is None
    assert get_reader([str(tmp_path / "random.h5")]) is None
    assert get_reader([]) is None


def _video(**extra) -> Stack:
    data = np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5)
    return Stack(data, "TYX", Metadata(pixel_size=0.5, pixel_unit="um", frame_times=(0.0, 2.0, 4.0, 6.0), extra=extra))


def test_fits_cube_opens_as_a_video(tmp_path):
    (data, settings, _), = _layers(write(_video(), tmp_path / "cube.fits"))  # FITS keeps no pixel size
    assert np.array_equal(np.asarray(data), _video().data) and settings["axis_labels"] == ["t", "y", "x"]


@pytest.mark.parametrize("ending", [".tif", ".ome.tif", ".zarr", ".h5"])
def test_operando_outputs_open_with_scale(tmp_path, ending):
    path = write(_video(), tmp_path / f"out{ending}")
    (data, settings, _), = _layers(path)
    assert np.array_equal(np.asarray(data), _video().data)
    assert settings["scale"] == pytest.approx([2.0, 0.5, 0.5])
    assert settings["units"] == ["s", "um", "um"] and settings["axis_labels"] == ["t", "y", "x"]
    back = layer_to_stack((data, settings, "image"))
    assert back.axes == "TYX" and back.metadata.frame_times == (0.0, 2.0, 4.0, 6.0)


def test_nxstxm_opens_with_energies(tmp_path):
    energies = (700.0, 705.0, 706.0)  # not evenly spaced: E counts planes, the energies stay in the record
    stack = Stack(np.ones((3, 8, 9), np.float32), "EYX", Metadata(pixel_size=0.03, pixel_unit="um", energies=energies))
    path = write_nxstxm(stack, tmp_path / "scan.h5")
    (data, settings, _), = _layers(path)
    assert data.shape == (3, 8, 9) and settings["units"] == ["pixel", "um", "um"]
    assert settings["metadata"]["operando"]["energies"] == list(energies)


def test_named_channels_open_as_one_layer_each(tmp_path):
    maps = np.stack([np.full((5, 6), v, np.float32) for v in (0.5, 0.1, 0.02)])
    stack = Stack(maps, "CYX", Metadata(pixel_size=0.03, pixel_unit="um",
                                        extra={"channels": ["x", "thickness_um", "sd_x"]}))
    layers = _layers(write(stack, tmp_path / "x.tif"))
    assert [s["name"] for _, s, _ in layers] == ["x x", "x thickness_um", "x sd_x"]
    assert all(d.shape == (5, 6) and s["scale"] == pytest.approx([0.03, 0.03]) for d, s, _ in layers)
    assert [float(np.asarray(d).mean()) for d, _, _ in layers] == pytest.approx([0.5, 0.1, 0.02])


def test_zarr_and_large_files_stay_on_disk(tmp_path, monkeypatch):
    dask_array = pytest.importorskip("dask.array")
    (data, _, _), = _layers(write(_video(), tmp_path / "v.zarr"))
    assert isinstance(data, dask_array.Array)
    monkeypatch.setattr(_reader, "LAZY_BYTES", 0)
    (data, _, _), = _layers(write(_video(), tmp_path / "v.tif"))
    assert isinstance(data, dask_array.Array) and np.array_equal(data[2].compute(), _video().data[2])


def test_viewer_opens_an_stxm_file_with_its_scale(shared_data, make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open(str(shared_data / "stxm" / "maxymus" / "tutorial000000005.hdr"), plugin="operando")
    assert len(layers) == 1
    layer = layers[0]
    assert tuple(layer.scale[1:]) == pytest.approx((0.015, 0.015))
    assert [str(u) for u in layer.units] == ["electron_volt", "micrometer", "micrometer"]
    assert layer.metadata["operando"]["energies"] == [709.5]
