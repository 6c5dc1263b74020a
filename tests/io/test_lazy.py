"""Lazy inputs (only what is asked is read, no handle left open) and the axes conventions of other tools."""

import json
import pickle
import warnings

import h5py
import numpy as np
import pytest
import zarr

from operando import InputError, Metadata, Stack
from operando.io import STREAM_MANIFEST, read, write


@pytest.fixture
def video(rng):
    return rng.random((6, 12, 10)).astype(np.float32)


def test_lazy_hdf5_leaves_no_open_handle(tmp_path, video):
    write(Stack(video, axes="TYX"), tmp_path / "a.h5:/entry/data")
    lazy = read(tmp_path / "a.h5:/entry/data", lazy=True)
    assert not isinstance(lazy.data, np.ndarray)
    np.testing.assert_array_equal(lazy.data[2:4, 1:5], video[2:4, 1:5])
    np.testing.assert_array_equal(lazy.to_numpy(), video)
    assert h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE) == 0
    with h5py.File(tmp_path / "a.h5", "w"):  # truncating an open file fails in HDF5
        pass


def test_lazy_tiff_reads_only_the_pages_asked_and_pickles(tmp_path, video):
    write(Stack(video, axes="TYX"), tmp_path / "a.tif")
    lazy = read(tmp_path / "a.tif", lazy=True)
    assert lazy.axes == "TYX" and lazy.shape == video.shape and lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy.data[3], video[3])
    again = pickle.loads(pickle.dumps(lazy.data))  # Dask sends it to worker processes
    np.testing.assert_array_equal(again[1:3, :, 2], video[1:3, :, 2])
    (tmp_path / "a.tif").unlink()  # no handle keeps the file (matters on Windows; checks the reader closed)


def test_lazy_bigtiff_and_ome_tiff(tmp_path, video):
    for name in ("a.btf", "a.ome.tif"):
        write(Stack(video, axes="TYX"), tmp_path / name)
        np.testing.assert_array_equal(read(tmp_path / name, lazy=True).data[4:], video[4:])


def test_zarr_dimension_names_are_written_and_read(tmp_path, video):
    write(Stack(video, axes="TYX"), tmp_path / "a.zarr")
    assert zarr.open_array(str(tmp_path / "a.zarr"), path="data").metadata.dimension_names == ("t", "y", "x")
    store = zarr.open_group(str(tmp_path / "x.zarr"), mode="w", zarr_format=3)  # as xarray writes it
    store.create_array("data", shape=(3, 8, 8), dtype="f4", dimension_names=["energy", "y", "x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recorded axes: no AxesAssumedWarning
        assert read(tmp_path / "x.zarr").axes == "EYX"


def test_ome_zarr_multiscales_axes_and_pixel_size(tmp_path, video):
    group = zarr.open_group(str(tmp_path / "ome.zarr"), mode="w", zarr_format=2)
    group.create_array("0", shape=video.shape, dtype="f4")[...] = video
    group.create_array("1", shape=(6, 6, 5), dtype="f4")
    axes = [{"name": "t", "type": "time"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    datasets = [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]},
                {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    stack = read(tmp_path / "ome.zarr")
    assert stack.axes == "TYX" and stack.shape == video.shape
    assert stack.metadata.pixel_size == 0.5 and stack.metadata.pixel_unit == "um"
    np.testing.assert_array_equal(stack.to_numpy(), video)


def test_nexus_axes_of_an_nxdata_group_are_read(tmp_path, video):
    with h5py.File(tmp_path / "stxm.nxs", "w") as f:
        data = f.create_group("entry/counter0")
        data.attrs.update(NX_class="NXdata", signal="data", axes=["energy", "sample_y", "sample_x"])
        data["data"] = video
        data["energy"] = np.linspace(700.0, 710.0, 6)
        data["sample_y"] = np.arange(12.0)
        data["sample_x"] = np.arange(10.0)
    stack = read(tmp_path / "stxm.nxs")
    assert stack.axes == "EYX"
    assert stack.metadata.energies == pytest.approx(tuple(np.linspace(700.0, 710.0, 6)))
    assert read(str(tmp_path / "stxm.nxs") + ":/entry/counter0").axes == "EYX"  # the NXdata group itself


def test_old_nexus_axes_attribute_on_the_dataset(tmp_path, video):
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f["scan/data"] = video
        f["scan/data"].attrs["axes"] = "time:sample_y:sample_x"
    assert read(tmp_path / "old.h5").axes == "TYX"


def test_written_hdf5_carries_standard_nexus_axes(tmp_path, video):
    meta = Metadata(energies=tuple(np.linspace(280.0, 290.0, 6)))
    write(Stack(video, axes="EYX", metadata=meta), tmp_path / "e.nxs:/entry/data/data")
    with h5py.File(tmp_path / "e.nxs", "r") as f:
        group = f["entry/data"]
        assert group.attrs["NX_class"] == "NXdata" and group.attrs["signal"] == "data"
        assert [a.decode() if isinstance(a, bytes) else a for a in group.attrs["axes"]] == ["energy", "y", "x"]
        np.testing.assert_allclose(group["energy"][()], meta.energies)
    with h5py.File(tmp_path / "e.nxs", "a") as f:  # what another tool sees: only the NeXus attributes
        del f["entry/data/data"].attrs["operando"]
    back = read(tmp_path / "e.nxs:/entry/data/data")
    assert back.axes == "EYX" and back.metadata.energies == pytest.approx(meta.energies)


def test_unfinished_stream_output_is_refused(tmp_path, video):
    write(Stack(video, axes="TYX"), tmp_path / "out.zarr")
    (tmp_path / "out.zarr" / STREAM_MANIFEST).parent.mkdir()
    (tmp_path / "out.zarr" / STREAM_MANIFEST).write_text(json.dumps({"complete": False}))
    with pytest.raises(InputError, match="interrupted run"):
        read(tmp_path / "out.zarr")
    (tmp_path / "out.zarr" / STREAM_MANIFEST).write_text(json.dumps({"complete": True}))
    np.testing.assert_array_equal(read(tmp_path / "out.zarr").to_numpy(), video)


def test_unknown_dimension_names_fall_back_to_the_assumed_layout(tmp_path):
    store = zarr.open_group(str(tmp_path / "q.zarr"), mode="w", zarr_format=3)
    store.create_array("data", shape=(3, 8, 8), dtype="f4", dimension_names=["q", "y", "x"])
    with pytest.warns(UserWarning, match="does not record its axes"):
        assert read(tmp_path / "q.zarr").axes == "TYX"
