import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando import InputError, Metadata, Stack
from operando.io import read, write

FORMATS = ["a.tif", "a.ome.tif", "a.btf", "a.npy", "a.h5", "a.h5:/entry/data", "a.zarr", "a.zarr:/raw"]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_roundtrip_keeps_shape_dtype_values(tmp_path, name, dtype, rng):
    data = (rng.random((5, 12, 10)) * 200).astype(dtype)
    stack = Stack(data, axes="TYX", metadata=Metadata(pixel_size=0.25, pixel_unit="um"))
    write(stack, tmp_path / name)
    back = read(tmp_path / name)
    assert back.shape == data.shape
    assert back.dtype == data.dtype
    assert back.axes == "TYX"
    np.testing.assert_array_equal(back.to_numpy(), data)
    if not name.endswith(".npy"):
        assert back.metadata.pixel_size == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["rgb.tif", "rgb.h5", "rgb.zarr"])
def test_rgb_roundtrip(tmp_path, name, rng):
    data = rng.integers(0, 255, (4, 9, 11, 3), dtype=np.uint8)
    write(Stack(data, axes="TYXC"), tmp_path / name)
    back = read(tmp_path / name)
    assert back.axes == "TYXC"
    np.testing.assert_array_equal(back.to_numpy(), data)


def test_rgb_tiff_is_a_real_rgb_tiff(tmp_path, rng):
    data = rng.integers(0, 255, (9, 11, 3), dtype=np.uint8)
    write(data, tmp_path / "rgb.tif", axes="YXC")
    with tifffile.TiffFile(tmp_path / "rgb.tif") as tif:
        assert tif.pages.first.photometric == tifffile.PHOTOMETRIC.RGB


def test_frame_times_and_energies_roundtrip(tmp_path):
    meta = Metadata(frame_times=(0.0, 1.5, 3.0), energies=None)
    write(Stack(np.zeros((3, 8, 8), np.float32), axes="TYX", metadata=meta), tmp_path / "a.tif")
    assert read(tmp_path / "a.tif").metadata.frame_times == (0.0, 1.5, 3.0)
    spectral = Metadata(energies=(706.0, 710.0))
    write(Stack(np.zeros((2, 8, 8), np.float32), axes="EYX", metadata=spectral), tmp_path / "e.h5")
    back = read(tmp_path / "e.h5")
    assert back.axes == "EYX" and back.metadata.energies == (706.0, 710.0)


def test_float_result_of_integer_input_is_written_back_as_integer(tmp_path):
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, np.array([[[10, 20], [30, 40]]] * 3, np.uint16).repeat(4, 1).repeat(4, 2),
                     photometric="minisblack")
    stack = read(src)
    result = stack.with_data(stack.to_numpy().astype(np.float32) + 0.6)
    write(result, tmp_path / "out.tif")
    back = read(tmp_path / "out.tif")
    assert back.dtype == np.uint16
    assert back.to_numpy()[0, 0, 0] == 11
    write(result, tmp_path / "out32.tif", dtype="float32")
    assert read(tmp_path / "out32.tif").dtype == np.float32


def test_folder_and_glob_of_frames_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2, 10):
        tifffile.imwrite(folder / f"frame{i}.tif", np.full((6, 7), i, np.uint16))
    for source in (folder, str(folder / "frame*.tif")):
        stack = read(source)
        assert stack.axes == "TYX"
        assert stack.to_numpy()[:, 0, 0].tolist() == [1, 2, 10]


def test_plain_tiff_without_axes_reads_as_video(tmp_path):
    tifffile.imwrite(tmp_path / "v.tif", np.zeros((4, 8, 8), np.uint16), photometric="minisblack")
    assert read(tmp_path / "v.tif").axes == "TYX"
    assert read(tmp_path / "v.tif", axes="ZYX").axes == "ZYX"


def test_writer_refuses_to_overwrite_input(tmp_path):
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    stack = read(src)
    before = src.read_bytes()
    with pytest.raises(InputError, match="overwrite the input"):
        write(stack, src)
    assert src.read_bytes() == before


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import numpy.lib.format

    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    stack = Stack(np.zeros((3, 8, 8), np.float32), axes="TYX")

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(numpy.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space"):
        write(stack, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


@pytest.mark.parametrize(
    ("name", "match"),
    [("a.xyz", "unknown file type"), ("missing.tif", "no such file")],
)
def test_bad_paths_give_one_line_errors(tmp_path, name, match):
    with pytest.raises(InputError, match=match) as info:
        read(tmp_path / name)
    assert "\n" not in str(info.value)


def test_unreadable_file(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(InputError, match="not a readable TIFF"):
        read(tmp_path / "broken.tif")


def test_wrong_axes(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 8, 8)))
    with pytest.raises(InputError, match="names 2 axes but the data has 3"):
        read(tmp_path / "a.npy", axes="YX")
    with pytest.raises(InputError, match="unknown axis letter"):
        read(tmp_path / "a.npy", axes="QYX")
    with pytest.raises(InputError, match="repeated axis"):
        read(tmp_path / "a.npy", axes="YYX")


def test_nan_pixels_are_refused_unless_allowed(tmp_path):
    data = np.zeros((3, 8, 8), np.float32)
    data[1, 2, 3] = np.nan
    np.save(tmp_path / "nan.npy", data)
    with pytest.raises(InputError, match="1 NaN or infinite"):
        read(tmp_path / "nan.npy")
    assert np.isnan(read(tmp_path / "nan.npy", allow_nan=True).to_numpy()).sum() == 1


def test_hdf5_needs_dataset_name_when_ambiguous(tmp_path):
    import h5py

    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"] = np.zeros((4, 4))
        f["b"] = np.zeros((4, 4))
    with pytest.raises(InputError, match="name the dataset"):
        read(tmp_path / "two.h5")
    assert read(str(tmp_path / "two.h5") + ":/b").shape == (4, 4)


def test_lazy_zarr_reads_on_access(tmp_path, rng):
    data = rng.random((4, 8, 8)).astype(np.float32)
    write(Stack(data, axes="TYX"), tmp_path / "a.zarr")
    lazy = read(tmp_path / "a.zarr", lazy=True)
    assert not isinstance(lazy.data, np.ndarray)
    np.testing.assert_array_equal(lazy.to_numpy(), data)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(2, 9), st.integers(2, 9)),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]),
    axes=st.sampled_from(["TYX", "EYX", "ZYX"]),
    ext=st.sampled_from([".tif", ".h5", ".zarr"]),
)
def test_any_stack_roundtrips(tmp_path_factory, shape, dtype, axes, ext):
    folder = tmp_path_factory.mktemp("rt")
    data = (np.arange(np.prod(shape)).reshape(shape) % 250).astype(dtype)
    write(Stack(data, axes=axes), folder / f"x{ext}")
    back = read(folder / f"x{ext}")
    assert back.axes == axes and back.dtype == data.dtype
    np.testing.assert_array_equal(back.to_numpy(), data)
