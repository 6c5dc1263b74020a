"""Zarr outputs are OME-Zarr images (NGFF 0.5): validated by ome-zarr-models and read by ome-zarr-py with their
axes, units and scale; operando reads them back as the same Stack; older plain-Zarr outputs still read."""

import json
import warnings

import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Multiscales, Reader
from ome_zarr_models.v05 import Image

from operando import Metadata, Stack
from operando.io import read, write


def _image(path):
    """Validate the store as an NGFF 0.5 image (ome-zarr-models) and return its multiscales entries."""
    return Image.from_zarr(zarr.open_group(str(path), mode="r")).ome_attributes.multiscales


def _ome_zarr_py(path):
    """Return the image node ome-zarr-py (napari-ome-zarr's reader) finds in the store."""
    nodes = list(Reader(parse_url(str(path)))())
    image = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs))
    return image


def _transforms(entry, index=0):
    return {t.type: list(getattr(t, t.type)) for t in entry.datasets[index].coordinateTransformations}


def test_video_is_an_ngff_image_with_pixel_size_and_frame_interval(tmp_path, rng):
    data = rng.random((5, 12, 10)).astype(np.float32)
    meta = Metadata(pixel_size=0.02, pixel_unit="um", frame_times=(10.0, 10.5, 11.0, 11.5, 12.0))
    write(Stack(data, axes="TYX", metadata=meta), tmp_path / "v.zarr")
    root = json.loads((tmp_path / "v.zarr" / "zarr.json").read_text())
    assert root["attributes"]["ome"]["version"] == "0.5"
    (entry,) = _image(tmp_path / "v.zarr")
    assert [(a.name, a.type, a.unit) for a in entry.axes] == [("t", "time", "second"), ("y", "space", "micrometer"),
                                                              ("x", "space", "micrometer")]
    assert entry.datasets[0].path == "data"
    assert _transforms(entry) == {"scale": [0.5, 0.02, 0.02], "translation": [10.0, 0.0, 0.0]}
    node = _ome_zarr_py(tmp_path / "v.zarr")
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "y", "x"]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [0.5, 0.02, 0.02]
    np.testing.assert_array_equal(np.asarray(node.data[0]), data)
    assert zarr.open_array(str(tmp_path / "v.zarr"), path="data").metadata.dimension_names == ("t", "y", "x")
    back = read(tmp_path / "v.zarr")
    assert back.axes == "TYX" and back.metadata.pixel_size == 0.02 and back.metadata.pixel_unit == "um"
    assert back.metadata.frame_times == meta.frame_times
    np.testing.assert_array_equal(back.to_numpy(), data)


def test_energy_axis_is_a_custom_energy_axis_in_electronvolt(tmp_path, rng):
    data = rng.random((4, 8, 9)).astype(np.float32)
    even = Metadata(energies=(700.0, 700.5, 701.0, 701.5), pixel_size=15.0, pixel_unit="nm",
                    extra={"sample": "LFP", "auto": {"method": "video"}})
    write(Stack(data, axes="EYX", metadata=even), tmp_path / "e.zarr")
    (entry,) = _image(tmp_path / "e.zarr")
    assert [(a.name, a.type, a.unit) for a in entry.axes][0] == ("energy", "energy", "electronvolt")
    assert entry.axes[-1].unit == "nanometer"
    assert _transforms(entry) == {"scale": [0.5, 15.0, 15.0], "translation": [700.0, 0.0, 0.0]}
    back = read(tmp_path / "e.zarr")
    assert back.axes == "EYX" and back.metadata.energies == even.energies and back.metadata.extra == even.extra
    uneven = Metadata(energies=(700.0, 705.0, 706.0, 720.0))  # no uniform step: scale 1, no unit; values kept
    write(Stack(data, axes="EYX", metadata=uneven), tmp_path / "u.zarr")
    (entry,) = _image(tmp_path / "u.zarr")
    assert entry.axes[0].unit is None and _transforms(entry) == {"scale": [1.0, 1.0, 1.0]}
    assert read(tmp_path / "u.zarr").metadata.energies == uneven.energies


def test_stack_in_another_order_is_stored_in_ngff_order_and_read_back_in_its_own(tmp_path, rng):
    data = rng.integers(0, 255, (4, 9, 11, 3), dtype=np.uint8)
    write(Stack(data, axes="TYXC", metadata=Metadata(pixel_size=0.5, pixel_unit="um")), tmp_path / "rgb.zarr")
    arr = zarr.open_array(str(tmp_path / "rgb.zarr"), path="data")
    assert arr.metadata.dimension_names == ("t", "c", "y", "x") and arr.shape == (4, 3, 9, 11)
    np.testing.assert_array_equal(arr[...], data.transpose(0, 3, 1, 2))
    (entry,) = _image(tmp_path / "rgb.zarr")
    assert [a.type for a in entry.axes] == ["time", "channel", "space", "space"]
    assert _transforms(entry) == {"scale": [1.0, 1.0, 0.5, 0.5]}
    back = read(tmp_path / "rgb.zarr")
    assert back.axes == "TYXC" and back.shape == data.shape
    np.testing.assert_array_equal(back.to_numpy(), data)
    lazy = read(tmp_path / "rgb.zarr", lazy=True)
    assert lazy.axes == "TYXC" and lazy.shape == data.shape
    for key in [(1,), (slice(1, 3), 2), (Ellipsis, 1), (2, slice(None), 4, slice(0, 2)), (slice(None), 0, 0, 0),
                ([0, 3],), (Ellipsis,)]:
        np.testing.assert_array_equal(lazy.data[key], data[key])


def test_several_arrays_of_one_group_are_several_images(tmp_path, rng):
    data = rng.random((3, 8, 8)).astype(np.float32)
    write(Stack(data, axes="TYX", metadata=Metadata(pixel_size=1.5, pixel_unit="um")), tmp_path / "g.zarr")
    write(Stack(data[0], axes="YX", metadata=Metadata(pixel_size=2.0, pixel_unit="nm")), tmp_path / "g.zarr:/raw")
    write(Stack(data * 2, axes="TYX", metadata=Metadata(pixel_size=3.0, pixel_unit="um")), tmp_path / "g.zarr")
    entries = {e.name: e for e in _image(tmp_path / "g.zarr")}
    assert sorted(entries) == ["data", "raw"]
    assert _transforms(entries["raw"]) == {"scale": [2.0, 2.0]} and entries["raw"].axes[0].unit == "nanometer"
    assert _transforms(entries["data"]) == {"scale": [1.0, 3.0, 3.0]}
    assert read(tmp_path / "g.zarr").metadata.pixel_size == 3.0
    np.testing.assert_array_equal(read(tmp_path / "g.zarr:/raw").to_numpy(), data[0])


def test_uncalibrated_stack_is_still_a_valid_image(tmp_path, rng):
    data = rng.random((2, 3, 6, 7)).astype(np.float32)
    write(Stack(data, axes="ZCYX", metadata=Metadata(pixel_size=1.0, pixel_unit="px")), tmp_path / "z.zarr")
    (entry,) = _image(tmp_path / "z.zarr")
    assert [(a.name, a.type, a.unit) for a in entry.axes] == [("c", "channel", None), ("z", "space", None),
                                                              ("y", "space", None), ("x", "space", None)]
    back = read(tmp_path / "z.zarr")
    assert back.axes == "ZCYX" and back.metadata.pixel_unit == "px"
    np.testing.assert_array_equal(back.to_numpy(), data)


def test_six_axes_are_written_as_plain_zarr_with_a_note(tmp_path, rng):
    data = rng.random((2, 2, 2, 2, 4, 5)).astype(np.float32)
    with pytest.warns(UserWarning, match="at most 5 axes"):
        write(Stack(data, axes="TECZYX"), tmp_path / "six.zarr")
    assert "ome" not in zarr.open_group(str(tmp_path / "six.zarr"), mode="r").attrs
    back = read(tmp_path / "six.zarr")
    assert back.axes == "TECZYX"
    np.testing.assert_array_equal(back.to_numpy(), data)


def test_image_written_by_ome_zarr_py_reads_with_its_scale(tmp_path, rng):
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image

    data = rng.random((4, 16, 16)).astype(np.float32)
    root = zarr.open_group(str(tmp_path / "py.zarr"), mode="w", zarr_format=3)
    write_image(data, root, axes="tyx", fmt=FormatV05(), scale_factors=(), scale={"t": 250.0, "y": 20.0, "x": 20.0},
                axes_units={"t": "millisecond", "y": "nanometer", "x": "nanometer"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the axes are recorded: no AxesAssumedWarning
        back = read(tmp_path / "py.zarr")
    assert back.axes == "TYX" and back.metadata.pixel_size == 20.0 and back.metadata.pixel_unit == "nm"
    assert back.metadata.frame_times == (0.0, 0.25, 0.5, 0.75)  # 250 ms apart, in seconds
    np.testing.assert_array_equal(back.to_numpy(), data)


def test_plain_zarr_written_by_earlier_versions_still_reads(tmp_path, rng):
    """Before OME-Zarr: the array in the stack's own order (TYXC), dimension_names, the record on the array."""
    data = rng.integers(0, 255, (3, 6, 7, 3), dtype=np.uint8)
    group = zarr.open_group(str(tmp_path / "old.zarr"), mode="w", zarr_format=3)
    arr = group.create_array("data", shape=data.shape, dtype=data.dtype, chunks=(1, 6, 7, 3),
                             dimension_names=["t", "y", "x", "c"])
    arr[...] = data
    record = {"pixel_size": 0.25, "pixel_unit": "um", "frame_times": [0.0, 2.0, 4.0], "energies": None,
              "original_dtype": "uint8", "extra": {"note": "old"}, "axes": "TYXC"}
    arr.attrs.update({"operando": record, "operando_every_chunk": True})
    for lazy in (False, True):
        back = read(tmp_path / "old.zarr", lazy=lazy)
        assert back.axes == "TYXC" and back.metadata.pixel_size == 0.25 and back.metadata.extra == {"note": "old"}
        assert back.metadata.frame_times == (0.0, 2.0, 4.0)
        np.testing.assert_array_equal(np.asarray(back.data[1:, :, 2]), data[1:, :, 2])


def test_energy_and_channel_axes_together(tmp_path, rng):
    data = rng.random((6, 7, 3, 2)).astype(np.float32)  # YXCE: stored ECYX, one custom and one channel axis
    write(Stack(data, axes="YXCE", metadata=Metadata(energies=(280.0, 290.0))), tmp_path / "ec.zarr")
    (entry,) = _image(tmp_path / "ec.zarr")
    assert [a.type for a in entry.axes] == ["energy", "channel", "space", "space"]
    assert _ome_zarr_py(tmp_path / "ec.zarr").metadata["axes"][0]["unit"] == "electronvolt"
    back = read(tmp_path / "ec.zarr", lazy=True)
    assert back.axes == "YXCE" and back.metadata.energies == (280.0, 290.0)
    np.testing.assert_array_equal(back.data[2:5, :, 1], data[2:5, :, 1])
