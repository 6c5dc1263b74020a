"""FITS reading/writing and read_sequence: series and image sets from files, folders and globs."""

import numpy as np
import pytest
import tifffile

from operando import InputError
from operando.io import read, read_sequence, write

fits = pytest.importorskip("astropy.io.fits")


def _fits(path, data, **header):
    hdu = fits.PrimaryHDU(data)
    for key, value in header.items():
        hdu.header[key.replace("_", "-")] = value
    hdu.writeto(path)
    return path


def test_fits_cube_reads_as_tyx_with_exposure_and_timestamp(tmp_path):
    data = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6)
    path = _fits(tmp_path / "cube.fits", data, EXPTIME=2.5, DATE_OBS="2024-03-01T10:00:00")
    stack = read(path)
    assert stack.axes == "TYX" and stack.shape == (2, 5, 6)
    np.testing.assert_array_equal(stack.to_numpy(), data)
    assert stack.metadata.extra["exposure_time_s"] == 2.5
    assert stack.metadata.extra["timestamp"] == pytest.approx(1709287200.0)


def test_fits_write_read_round_trip_keeps_exposure(tmp_path):
    from operando import Stack
    from operando._stack import Metadata

    stack = Stack(np.random.default_rng(0).random((3, 4, 5)).astype(np.float32), axes="TYX",
                  metadata=Metadata(extra={"exposure_time_s": 7.0}))
    write(stack, tmp_path / "out.fits")
    back = read(tmp_path / "out.fits")
    np.testing.assert_array_equal(back.to_numpy(), stack.to_numpy())
    assert back.metadata.extra["exposure_time_s"] == 7.0


def test_fits_without_data_is_a_one_line_error(tmp_path):
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(InputError, match="holds no image data") as info:
        read(tmp_path / "empty.fits")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="holds no image data"):
        read_sequence(tmp_path / "empty.fits")


def test_fits_image_in_an_extension_is_found(tmp_path):
    data = np.ones((4, 4), np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")]).writeto(tmp_path / "ext.fits")
    assert read(tmp_path / "ext.fits").shape == (4, 4)


def test_sequence_from_glob_folder_and_list_in_natural_order_with_fits_times(tmp_path):
    for i in (1, 2, 10):
        _fits(tmp_path / f"frame_{i}.fits", np.full((3, 4), i, np.uint16), EXPTIME=0.5,
              DATE_OBS=f"2024-03-01T10:00:{i:02d}")
    with pytest.raises(InputError, match="missing from the numbered series"):
        read_sequence(tmp_path / "frame_*.fits")
    stack = read_sequence(tmp_path / "frame_*.fits", allow_gaps=True)
    assert stack.axes == "TYX" and [int(f[0, 0]) for f in stack.to_numpy()] == [1, 2, 10]
    assert stack.metadata.frame_times == (0.0, 1.0, 9.0)
    assert stack.metadata.extra["exposure_time_s"] == 0.5 and stack.metadata.extra["exposure_from"] == "header"
    assert read_sequence(tmp_path, allow_gaps=True).shape == (3, 3, 4)
    assert read_sequence([tmp_path / "frame_2.fits", tmp_path / "frame_1.fits"]).to_numpy()[0, 0, 0] == 2


def test_sequence_exposure_from_file_name_and_tiff_tags(tmp_path):
    tifffile.imwrite(tmp_path / "exp5s_ob.tif", np.zeros((3, 4), np.uint16))
    tifffile.imwrite(tmp_path / "run_200ms_0001.tif", np.zeros((3, 4), np.uint16))
    tifffile.imwrite(tmp_path / "tagged.tif", np.zeros((3, 4), np.uint16), description="ExposureTime=0.25 s",
                     datetime="2024:03:01 10:00:00")
    assert read_sequence(tmp_path / "exp5s_ob.tif").metadata.extra["exposure_time_s"] == 5.0
    assert read_sequence(tmp_path / "run_200ms_0001.tif").metadata.extra["exposure_time_s"] == pytest.approx(0.2)
    tagged = read_sequence(tmp_path / "tagged.tif")
    assert tagged.metadata.extra["exposure_time_s"] == 0.25
    assert tagged.metadata.extra["timestamps"] == [pytest.approx(1709287200.0)]
    assert read_sequence(tmp_path / "exp5s_ob.tif", exposure_time_s=9.0).metadata.extra["exposure_from"] == "given"


def test_sequence_refuses_missing_files_empty_globs_and_mixed_sizes(tmp_path):
    tifffile.imwrite(tmp_path / "a_0001.tif", np.zeros((3, 4), np.uint16))
    tifffile.imwrite(tmp_path / "b.tif", np.zeros((3, 5), np.uint16))
    with pytest.raises(InputError, match="no such file"):
        read_sequence([tmp_path / "a_0001.tif", tmp_path / "gone.tif"])
    with pytest.raises(InputError, match="no TIFF or FITS images found"):
        read_sequence(tmp_path / "zzz_*.tif")
    with pytest.raises(InputError, match="same size"):
        read_sequence([tmp_path / "a_0001.tif", tmp_path / "b.tif"])


def test_multi_page_tiff_is_a_series(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.arange(24, dtype=np.uint16).reshape(2, 3, 4))
    assert read_sequence(tmp_path / "stack.tif").shape == (2, 3, 4)
