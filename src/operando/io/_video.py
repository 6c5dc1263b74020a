"""Movie files (MP4, AVI, MOV, MKV) through PyAV: read as ``TYXC`` uint8 with the container's frame times.

Writing encodes H.264 (MPEG-4 part 2 in AVI), which is **lossy**: a written movie is for sharing and viewing, not
for analysis. Keep a TIFF for numbers.
"""

from __future__ import annotations

import logging
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw

logger = logging.getLogger(__name__)

_GRAY_FORMATS = ("gray", "gray8", "gray16le", "gray16be", "ya8")
_DEFAULT_FPS = 10


def _unreadable(file: Path, exc: BaseException) -> InputError:
    return InputError(f"{file}: not a readable movie file ({type(exc).__name__}: {exc}); check the file is "
                      "complete, or convert it with ffmpeg (e.g. 'ffmpeg -i in.avi -c:v libx264 out.mp4') or to "
                      "a folder of PNG frames")


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Decode every frame of the first video stream: ``TYXC`` uint8 RGB (``TYX`` for grayscale movies)."""
    import av

    frames: list[np.ndarray] = []
    times: list[float] = []
    try:
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise InputError(f"{file}: the file holds no video stream; give a movie with a video track")
            stream = container.streams.video[0]
            gray = stream.codec_context.pix_fmt in _GRAY_FORMATS
            size = _recorded_size(next((v for k, v in container.metadata.items() if k.lower() == "comment"), ""))
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="gray" if gray else "rgb24"))
                times.append(float(frame.time) if frame.time is not None else float("nan"))
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise _unreadable(file, exc) from None
    if not frames:
        raise InputError(f"{file}: the movie holds no decodable frames; check the file is complete")
    meta: dict = {"extra": {"container": file.suffix.lower().lstrip("."), "lossy_source": True}}
    if all(np.isfinite(times)):
        start = times[0]
        meta["frame_times"] = [t - start for t in times]
    data = np.stack(frames)
    if size is not None:  # written by operando with one pixel of padding to an even size
        data = data[:, : size[0], : size[1]]
    logger.debug("decoded %s: %d frames %s", file, len(frames), data.shape[1:])
    return Raw(data, "TYX" if gray else "TYXC", meta)


def _recorded_size(comment: str) -> tuple[int, int] | None:
    """Return the frame size operando recorded before padding to even sizes ('operando size=YxX'), if any."""
    if not comment.startswith("operando size="):
        return None
    y, x = comment.removeprefix("operando size=").split("x")
    return int(y), int(x)


def _frame_rate(stack: Stack) -> Fraction:
    """Frames per second from evenly spaced frame times (10 fps when the stack has none)."""
    times = stack.metadata.frame_times
    if times and len(times) > 1:
        steps = np.diff(np.asarray(times, float))
        if np.all(steps > 0) and np.ptp(steps) <= 0.01 * steps.mean():
            return Fraction(1.0 / float(steps.mean())).limit_denominator(1001)
    return Fraction(_DEFAULT_FPS)


def _rgb_frames(stack: Stack, data: np.ndarray, file: Path) -> np.ndarray:
    """Return the data as (T, Y, X, 3) uint8, or raise an InputError saying what to convert."""
    axes = stack.axes
    if data.dtype != np.uint8:
        raise InputError(f"{file}: a movie holds 8-bit colour, got dtype {data.dtype}; convert to uint8 first "
                         "(operando.convert_dtype) or write a .tif, which keeps the values")
    if axes in ("YX", "YXC"):
        data, axes = data[None], "T" + axes
    if axes == "TYX":
        data = np.repeat(data[..., None], 3, axis=-1)
    elif axes == "TYXC" and data.shape[-1] in (3, 4):
        data = data[..., :3]
    else:
        raise InputError(f"{file}: a movie needs axes TYX or TYXC with 3/4 channels, got {stack.axes!r} "
                         f"shape {stack.shape}; reorder with Stack.transpose or write a .tif")
    return np.ascontiguousarray(data)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Encode the frames as H.264 (lossy; odd sizes padded by one pixel, cropped again on reading), atomically."""
    import av

    frames = _rgb_frames(stack, data, file)
    warnings.warn(f"{file.name}: movie files are lossy (H.264 at crf 18); keep a .tif for analysis",
                  UserWarning, stacklevel=4)
    size = f"operando size={frames.shape[1]}x{frames.shape[2]}"
    pad_y, pad_x = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_y or pad_x:
        frames = np.pad(frames, ((0, 0), (0, pad_y), (0, pad_x), (0, 0)), mode="edge")
    codec = "mpeg4" if file.suffix.lower() == ".avi" else "libx264"
    with atomic_path(file) as tmp:
        with av.open(str(tmp), mode="w", format=file.suffix.lower().lstrip(".").replace("mkv", "matroska")) as out:
            out.metadata["comment"] = size
            stream = out.add_stream(codec, rate=_frame_rate(stack))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": "18"}
            else:
                stream.bit_rate = 8_000_000
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
