"""A streamed output is an OME-Zarr image (NGFF 0.5) while it stays chunked, resumable and verified."""

import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Multiscales, Reader
from ome_zarr_models.v05 import Image

from operando import Metadata, Stack
from operando.io import read, write
from operando.workflows.scale import denoise_large


def _entry(path):
    (entry,) = Image.from_zarr(zarr.open_group(str(path), mode="r")).ome_attributes.multiscales
    return entry


def test_streamed_output_is_an_ngff_image_with_its_scale(tmp_path):
    from operando.denoise import denoise_with_params

    x = np.random.default_rng(2).random((12, 24, 20)).astype(np.float32)
    meta = Metadata(pixel_size=0.0312, pixel_unit="um", frame_times=tuple(0.25 * i for i in range(len(x))))
    write(Stack(x, axes="TYX", metadata=meta), tmp_path / "in.zarr")
    result = denoise_large(tmp_path / "in.zarr", tmp_path / "o.zarr", method="gaussian", memory_limit="400KB",
                           dtype="float32")
    assert result.n_chunks > 1
    entry = _entry(tmp_path / "o.zarr")
    assert [(a.name, a.type, a.unit) for a in entry.axes] == [("t", "time", "second"), ("y", "space", "micrometer"),
                                                              ("x", "space", "micrometer")]
    assert entry.datasets[0].path == "data"
    assert list(entry.datasets[0].coordinateTransformations[0].scale) == [0.25, 0.0312, 0.0312]
    node = next(n for n in Reader(parse_url(str(tmp_path / "o.zarr")))() if any(isinstance(s, Multiscales)
                                                                                for s in n.specs))
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [0.25, 0.0312, 0.0312]
    expected = denoise_with_params(Stack(x, axes="TYX"), method="gaussian",
                                   params=result.manifest["settings"]["params"]).to_numpy()
    assert np.abs(np.asarray(node.data[0]) - expected).max() <= 1e-6
    back = read(tmp_path / "o.zarr")
    assert back.metadata.frame_times == meta.frame_times and back.metadata.pixel_size == 0.0312


def test_stack_in_another_order_streams_into_ngff_order_and_resumes(tmp_path):
    from operando.denoise import denoise_with_params

    x = np.random.default_rng(3).random((30, 28, 15)).astype(np.float32)
    meta = Metadata(pixel_size=0.02, pixel_unit="um", frame_times=tuple(2.0 * i for i in range(15)))
    write(Stack(x, axes="YXT", metadata=meta), tmp_path / "in.zarr")
    kwargs = dict(method="gaussian", memory_limit="600KB", dtype="float32")
    result = denoise_large(tmp_path / "in.zarr", tmp_path / "o.zarr", **kwargs)
    assert result.n_chunks > 1
    arr = zarr.open_array(str(tmp_path / "o.zarr"), path="data", mode="r+")
    assert arr.metadata.dimension_names == ("t", "y", "x") and arr.shape == (15, 30, 28)
    assert [a.name for a in _entry(tmp_path / "o.zarr").axes] == ["t", "y", "x"]
    expected = denoise_with_params(Stack(x, axes="YXT"), method="gaussian",
                                   params=result.manifest["settings"]["params"]).to_numpy()
    out = read(tmp_path / "o.zarr")
    assert out.axes == "YXT" and out.metadata.frame_times == meta.frame_times
    assert np.abs(out.to_numpy() - expected).max() <= 1e-6
    again = denoise_large(tmp_path / "in.zarr", tmp_path / "o.zarr", **kwargs)
    assert again.skipped == result.n_chunks and again.frames_computed == 0  # verified in the stack's order
    arr[1] = 0.0  # damage the first chunk behind the records' back
    third = denoise_large(tmp_path / "in.zarr", tmp_path / "o.zarr", **kwargs)
    assert third.skipped == result.n_chunks - 1
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6


def test_chunks_follow_the_layout_of_the_output_array(tmp_path):
    """A run resumed on an output of an earlier version (the stack's own order) writes into that order."""
    from operando.workflows.scale._chunks import stored_key, stored_order

    group = zarr.open_group(str(tmp_path / "o.zarr"), mode="w", zarr_format=3)
    old = group.create_array("old", shape=(6, 5, 4), dtype="f4", dimension_names=["y", "x", "t"])
    new = group.create_array("new", shape=(4, 6, 5), dtype="f4", dimension_names=["t", "y", "x"])
    assert stored_order(old, "YXT") is None
    perm = stored_order(new, "YXT")
    assert perm == (2, 0, 1)
    key = (slice(None), slice(None), slice(1, 3))
    assert stored_key(key, perm) == (slice(1, 3), slice(None), slice(None))
    block = np.arange(6 * 5 * 2, dtype=np.float32).reshape(6, 5, 2)
    new[stored_key(key, perm)] = block.transpose(perm)
    np.testing.assert_array_equal(new[...].transpose(np.argsort(perm))[key], block)
