import warnings

import numpy as np
import pytest
from PIL import Image

from operando import InputError, Metadata, Stack
from operando.io import read, write


def _colour_video(n_frames=6, ny=33, nx=47):
    y, x = np.mgrid[:ny, :nx]
    return np.stack([np.stack([(y * 5 + t * 10) % 255, (x * 5) % 255, np.full_like(y, 128)], -1)
                     for t in range(n_frames)]).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mov", ".mkv"])
def test_movie_written_by_pyav_round_trips(tmp_path, suffix):
    video = _colour_video()
    meta = Metadata(frame_times=tuple(0.5 * i for i in range(6)))
    with pytest.warns(UserWarning, match="lossy"):
        write(Stack(video, axes="TYXC", metadata=meta), tmp_path / f"v{suffix}")
    back = read(tmp_path / f"v{suffix}")
    assert back.axes == "TYXC" and back.dtype == np.uint8
    assert back.shape == video.shape  # odd sizes are padded for H.264 and cropped again on reading
    assert np.abs(back.to_numpy().astype(float) - video).mean() < 4.0  # lossy, but close
    assert back.metadata.frame_times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], abs=1e-3)


def test_movie_refuses_float_data(tmp_path):
    with pytest.raises(InputError, match="8-bit"):
        write(Stack(np.zeros((3, 8, 8, 3), np.float32), axes="TYXC"), tmp_path / "v.mp4")


def test_unreadable_movie_is_a_one_line_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a movie" * 50)
    with pytest.raises(InputError, match="not a readable movie file") as info:
        read(bad)
    assert "\n" not in str(info.value) and "ffmpeg" in str(info.value)


def test_folder_of_png_frames_is_a_colour_video(tmp_path):
    video = _colour_video(n_frames=4)
    for i in range(4):  # frame10 sorts after frame2
        Image.fromarray(video[i]).save(tmp_path / f"frame{[0, 2, 10, 11][i]}.png")
    back = read(tmp_path)
    assert back.axes == "TYXC" and back.shape == video.shape
    np.testing.assert_array_equal(back.to_numpy(), video)
    assert read(tmp_path / "*.png").shape == video.shape
    single = read(tmp_path / "frame2.png")
    assert single.axes == "YXC"
    np.testing.assert_array_equal(single.to_numpy(), video[1])


def test_jpeg_frames_and_gray_frames(tmp_path):
    video = _colour_video(n_frames=3)
    for i in range(3):
        Image.fromarray(video[i]).save(tmp_path / f"f{i}.jpg", quality=95)
        Image.fromarray(video[i, ..., 0]).save(tmp_path / f"g{i}.png")
    colour = read(tmp_path / "f*.jpg")
    assert colour.axes == "TYXC" and np.abs(colour.to_numpy().astype(float) - video).mean() < 6
    gray = read(tmp_path / "g*.png")
    assert gray.axes == "TYX"
    np.testing.assert_array_equal(gray.to_numpy(), video[..., 0])


def test_folder_mixing_kinds_is_refused(tmp_path):
    video = _colour_video(n_frames=2)
    Image.fromarray(video[0]).save(tmp_path / "a.png")
    import tifffile

    tifffile.imwrite(tmp_path / "b.tif", video[1], photometric="rgb")
    with pytest.raises(InputError, match="mixes"):
        read(tmp_path)


def test_tiff_colour_frames_still_read(tmp_path):
    import tifffile

    video = _colour_video(n_frames=3)
    for i in range(3):
        tifffile.imwrite(tmp_path / f"f{i}.tif", video[i], photometric="rgb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = read(tmp_path)
    assert back.shape == video.shape and back.axes[0] == "T"
    np.testing.assert_array_equal(back.to_numpy(), video)
