"""Xradia / Zeiss TXM ``.xrm`` (one image) and ``.txrm`` (many) files: OLE2 compound documents (olefile).

Streams: ``ImageInfo/ImageWidth`` / ``ImageHeight`` / ``NoOfImages`` (uint32), ``ImageInfo/DataType`` (5: uint16,
10: float32), ``ImageDataK/ImageN`` (row-major, 100 images per ``ImageDataK`` folder), ``ImageInfo/ExpTimes``
(float32 s per image), ``ImageInfo/PixelSize`` (float32 um), ``ImageInfo/Energy`` (float32 eV per image; 0 in some
series, where the energy is in the file name, ``..._08324.0_eV_...``).

A folder or glob of ``.xrm`` frames is read as an energy series (:func:`read_series`). The SSRL 6-2c names say what
each frame is: ``rep01_000051_ssrl-test-data_08324.0_eV_001of003.xrm`` is time step ``rep01``, 8324 eV, repeat 1 of
3; ``rep01_000051_ref_20161456_ssrl-test-data_08324.0_eV_001of010.xrm`` is a reference (flat) frame, the sample moved
out, ``_ref_`` in the name. Reference frames and sample frames are read apart (a glob mixing them is refused).

A ``.txrm`` may hold the reference its acquisition used: streams ``ReferenceData/Image`` (the image shape;
``ReferenceData/DataType`` 5 or 10, else the images' type) and, where present, ``ReferenceData/ExpTime``. These
names are the ones the dxchange and txrm2tiff readers use; no ``.txrm`` with a reference has been checked here.
Read it as ``scan.txrm:/reference``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ._formats import Raw
from ._paths import is_pattern, matching_files

_DTYPES = {5: np.dtype("<u2"), 10: np.dtype("<f4")}
_ENERGY_IN_NAME = re.compile(r"_(\d+(?:\.\d+)?)_?eV", re.IGNORECASE)
_REPEAT_IN_NAME = re.compile(r"_(\d+)of(\d+)\.t?xrm$", re.IGNORECASE)
_REFERENCE_IN_NAME = re.compile(r"(?:^|_)ref(?:_|\.)", re.IGNORECASE)
_TIMESTEP_IN_NAME = re.compile(r"^(rep\d+)_", re.IGNORECASE)
#: Energies closer than this (eV) are one energy of a series (names print 0.1 eV; metadata float32).
ENERGY_TOLERANCE_EV = 0.05


def _values(ole: Any, stream: str, dtype: str, n: int | None = None) -> np.ndarray | None:
    if not ole.exists(stream):
        return None
    raw = ole.openstream(stream).read()
    values = np.frombuffer(raw[: len(raw) - len(raw) % np.dtype(dtype).itemsize], dtype=dtype)
    return values if n is None else values[:n]


def energy_from_name(name: str) -> float | None:
    """Return the energy written in an Xradia file name (``..._08324.0_eV_...``), or None.

    Parameters
    ----------
    name : str
        The file name.

    Returns
    -------
    float or None
        The energy in eV.
    """
    match = _ENERGY_IN_NAME.search(name)
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class FrameName:
    """What an Xradia file name says about its frame (SSRL 6-2c naming; every field may be absent)."""

    energy_ev: float | None
    repeat: int | None
    n_repeats: int | None
    reference: bool
    timestep: str | None


def describe_name(name: str) -> FrameName:
    """Return what an Xradia file name says: energy, repeat ``NNNofMMM``, ``_ref_`` (reference), time step ``repNN``.

    Parameters
    ----------
    name : str
        The file name (no folder).

    Returns
    -------
    FrameName
        The fields found (None or False where the name says nothing).
    """
    repeat = _REPEAT_IN_NAME.search(name)
    step = _TIMESTEP_IN_NAME.match(name)
    return FrameName(energy_from_name(name), int(repeat.group(1)) if repeat else None,
                     int(repeat.group(2)) if repeat else None, bool(_REFERENCE_IN_NAME.search(name)),
                     step.group(1).lower() if step else None)


def _image_stream(ole: Any, i: int) -> str:
    return f"ImageData{i // 100 + 1}/Image{i + 1}"


def _open(file: Path) -> Any:
    import olefile

    if not olefile.isOleFile(str(file)):
        raise InputError(f"{file}: not an OLE2 compound file; is this an Xradia .xrm/.txrm file?")
    return olefile.OleFileIO(str(file))


def _read_images(ole: Any, file: Path, width: int, height: int, n_images: int, dtype: np.dtype) -> np.ndarray:
    frames = []
    for i in range(n_images):
        stream = _image_stream(ole, i)
        if not ole.exists(stream):
            raise InputError(f"{file}: stream {stream} is missing ({n_images} images announced); the file is "
                             "incomplete")
        raw = ole.openstream(stream).read()
        if len(raw) < width * height * dtype.itemsize:
            raise InputError(f"{file}: image {i + 1} holds {len(raw)} bytes, {width}x{height} {dtype} needs "
                             f"{width * height * dtype.itemsize}; the file is truncated")
        frames.append(np.frombuffer(raw[: width * height * dtype.itemsize], dtype=dtype).reshape(height, width))
    return np.stack(frames).astype(dtype.newbyteorder("="))


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read an Xradia file, its embedded reference (``inner`` "reference"), or a folder or glob of ``.xrm`` frames.

    One file: every image as ``EYX`` (energy series or a single frame) or ``TYX`` (same energy). A folder or glob:
    see :func:`read_series`.
    """
    if is_pattern(file) or file.is_dir():
        return read_series(file)
    if inner is not None and inner.strip("/").lower() != "reference":
        raise InputError(f"{file}:{inner}: an Xradia file holds its images and, in a .txrm, its reference; read "
                         f"{file} or {file}:/reference")
    return _guarded(file, reference=inner is not None)


def _reference_image(ole: Any, file: Path, width: int, height: int, code: int) -> tuple[np.ndarray, float | None]:
    """Return the reference a .txrm embeds (``ReferenceData/Image``) and its exposure, if recorded."""
    if not ole.exists("ReferenceData/Image"):
        raise InputError(f"{file}: holds no reference image (no ReferenceData/Image stream); give the reference "
                         "frames as files (--flat)")
    ref_code = _values(ole, "ReferenceData/DataType", "<u4", 1)
    dtype = _DTYPES.get(int(ref_code[0]) if ref_code is not None and ref_code.size else code, _DTYPES[code])
    raw = ole.openstream("ReferenceData/Image").read()
    if len(raw) < width * height * dtype.itemsize:
        raise InputError(f"{file}: ReferenceData/Image holds {len(raw)} bytes, {width}x{height} {dtype} needs "
                         f"{width * height * dtype.itemsize}; the reference is damaged")
    image = np.frombuffer(raw[: width * height * dtype.itemsize], dtype=dtype).reshape(height, width)
    exposure = _values(ole, "ReferenceData/ExpTime", "<f4", 1)
    t = float(exposure[0]) if exposure is not None and exposure.size and exposure[0] > 0 else None
    return image.astype(dtype.newbyteorder("=")), t


def _read(file: Path, *, reference: bool = False) -> Raw:
    ole = _open(file)
    try:
        size = [_values(ole, f"ImageInfo/{k}", "<u4", 1) for k in ("ImageWidth", "ImageHeight", "DataType")]
        if any(v is None or v.size == 0 for v in size):
            raise InputError(f"{file}: ImageInfo/ImageWidth, ImageHeight or DataType is missing; not an Xradia image")
        width, height, code = (int(v[0]) for v in size)  # type: ignore[index]
        if code not in _DTYPES:
            raise InputError(f"{file}: ImageInfo/DataType {code} is not supported (5 = uint16, 10 = float32)")
        pixel = _values(ole, "ImageInfo/PixelSize", "<f4", 1)
        if reference:
            image, t_ref = _reference_image(ole, file, width, height, code)
            extra_ref: dict[str, Any] = {"format": "Xradia .txrm embedded reference", "reference_frames": True,
                                         "embedded_reference_of": file.name}
            if t_ref is not None:
                extra_ref["exposure_s"] = [round(t_ref, 6)]
            meta_ref: dict[str, Any] = {"extra": extra_ref}
            if pixel is not None and pixel.size and pixel[0] > 0:
                meta_ref.update(pixel_size=round(float(pixel[0]), 6), pixel_unit="um")
            return Raw(image, "YX", meta_ref)
        count = _values(ole, "ImageInfo/NoOfImages", "<u4", 1)
        n_images = int(count[0]) if count is not None and count.size and count[0] > 0 else 1
        data = _read_images(ole, file, width, height, n_images, _DTYPES[code])
        energies = _values(ole, "ImageInfo/Energy", "<f4", n_images)
        exposure = _values(ole, "ImageInfo/ExpTimes", "<f4", n_images)
        current = _values(ole, "ImageInfo/Current", "<f4", n_images)
        has_reference = bool(ole.exists("ReferenceData/Image"))
        ref_exposure = _values(ole, "ReferenceData/ExpTime", "<f4", 1) if has_reference else None
    finally:
        ole.close()
    name = describe_name(file.name)
    extra: dict[str, Any] = {"format": "Xradia .xrm/.txrm", "reference_frames": name.reference}
    energy_list = [float(e) for e in energies] if energies is not None and energies.size == n_images else []
    if not energy_list or all(e == 0 for e in energy_list):
        from_name = name.energy_ev
        energy_list = [from_name] * n_images if from_name is not None else []
        extra["energy_source"] = "file name" if from_name is not None else "none (ImageInfo/Energy is 0)"
    else:
        extra["energy_source"] = "ImageInfo/Energy"
    if exposure is not None and exposure.size:
        extra["exposure_s"] = [round(float(v), 6) for v in exposure]
    if current is not None and current.size == n_images and np.any(current != 0):
        extra["current"] = [float(v) for v in current]
    if name.repeat is not None:
        extra["repeat"] = [name.repeat, name.n_repeats]
    if name.timestep is not None:
        extra["timestep"] = name.timestep
    if has_reference:
        t = float(ref_exposure[0]) if ref_exposure is not None and ref_exposure.size else None
        extra["embedded_reference"] = {"stream": "ReferenceData/Image", "read_as": f"{file}:/reference",
                                       "exposure_s": round(t, 6) if t and t > 0 else None}
    axes = "TYX" if n_images > 1 and len(set(energy_list)) == 1 else "EYX"
    meta: dict[str, Any] = {"extra": extra}
    if axes == "EYX" and energy_list:
        meta["energies"] = energy_list
    elif energy_list:
        extra["energy_ev"] = energy_list[0]
    if pixel is not None and pixel.size and pixel[0] > 0:
        meta.update(pixel_size=round(float(pixel[0]), 6), pixel_unit="um")
    return Raw(data, axes, meta)


def _guarded(file: Path, *, reference: bool = False) -> Raw:
    try:
        return _read(file, reference=reference)
    except InputError:
        raise
    except (OSError, ValueError, IndexError, KeyError, TypeError, EOFError) as exc:  # olefile on a damaged file
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # permission, a folder, ...: the error boundary words these
        raise InputError(f"{file}: a damaged Xradia file ({exc}); check the file is complete") from None


def _names(files: list[Path], limit: int = 2) -> str:
    shown = ", ".join(p.name for p in files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


def read_series(pattern: Path) -> Raw:
    """Read a folder or glob of Xradia ``.xrm`` frames as an energy series.

    Energies come from each file's ``ImageInfo/Energy``, else its name; frames at one energy (within
    :data:`ENERGY_TOLERANCE_EV`) are repeats, ordered by the ``NNNofMMM`` in their names. Every energy with the same
    number of repeats R gives ``TEYX`` with T the repeat (``EYX`` when R is 1); energies with fewer repeats than
    others give ``EYX`` with one plane per frame (energies repeated) and a warning naming them.
    ``extra["exposure_s"]`` and ``extra["files"]`` hold one value per image, in the order of the leading axes.

    Parameters
    ----------
    pattern : Path
        A folder or a glob.

    Returns
    -------
    Raw
        The frames, their axes and metadata.

    Raises
    ------
    InputError
        A glob mixing reference (``_ref_``) and sample frames, several time steps (``rep01_``, ``rep02_``), frames
        of different sizes, a frame without an energy, or several ``.txrm`` files.
    """
    files = matching_files(pattern, (".xrm", ".txrm"), "Xradia .xrm frames")
    stacks = [p for p in files if p.suffix.lower() == ".txrm"]
    if stacks:
        if len(files) == 1:
            return _guarded(files[0])
        raise InputError(f"{pattern}: matches {len(files)} Xradia files of which {len(stacks)} are .txrm stacks "
                         f"({_names(stacks)}); read one .txrm at a time, or a glob of .xrm frames")
    names = {p: describe_name(p.name) for p in files}
    refs = [p for p in files if names[p].reference]
    if refs and len(refs) < len(files):
        samples = [p for p in files if not names[p].reference]
        raise InputError(f"{pattern}: mixes {len(refs)} reference frames ('_ref_' in the name: {_names(refs, 1)}) and "
                         f"{len(samples)} sample frames ({_names(samples, 1)}); give them apart, e.g. operando txm od "
                         f"SAMPLES... --flat '{Path(pattern).parent / '*_ref_*.xrm'}'")
    steps = sorted({names[p].timestep for p in files if names[p].timestep})
    if len(steps) > 1:
        raise InputError(f"{pattern}: holds frames of {len(steps)} time steps ({', '.join(steps[:4])}); read one time "
                         f"step at a time, e.g. '{Path(pattern).parent / (steps[0] + '_*.xrm')}'")
    frames: list[tuple[float, int, Path, np.ndarray, float | None, dict[str, Any]]] = []
    shape = None
    for order, path in enumerate(files):
        raw = _guarded(path)
        if raw.data.shape[0] != 1:
            raise InputError(f"{path}: holds {raw.data.shape[0]} images; a series is one image per .xrm file")
        image = raw.data[0]
        if shape is None:
            shape, first = image.shape, path
        elif image.shape != shape:
            raise InputError(f"{path}: frame size {image.shape[1]}x{image.shape[0]} differs from {first.name}'s "
                             f"{shape[1]}x{shape[0]}; a series needs frames of one size (one binning)")
        extra = raw.meta.get("extra", {})
        energy = (raw.meta.get("energies") or [extra.get("energy_ev")])[0]
        if energy is None:
            raise InputError(f"{path}: no energy in ImageInfo/Energy or in the name (..._08324.0_eV_...); cannot "
                             "place it in an energy series")
        exposure = (extra.get("exposure_s") or [None])[0]
        repeat = names[path].repeat if names[path].repeat is not None else order
        frames.append((float(energy), repeat, path, image, exposure, raw.meta))
    return _assemble(pattern, frames, bool(refs))


def _assemble(pattern: Path, frames: list[tuple[float, int, Path, np.ndarray, float | None, dict[str, Any]]],
              reference: bool) -> Raw:
    """Group frames by energy (within the tolerance) and stack them as TEYX (balanced repeats) or EYX."""
    frames.sort(key=lambda f: (f[0], f[1]))
    groups: list[list[tuple[float, int, Path, np.ndarray, float | None, dict[str, Any]]]] = []
    for frame in frames:
        if groups and abs(frame[0] - groups[-1][0][0]) <= ENERGY_TOLERANCE_EV:
            groups[-1].append(frame)
        else:
            groups.append([frame])
    counts = [len(g) for g in groups]
    energies = [float(np.mean([f[0] for f in g])) for g in groups]
    first_meta = frames[0][5]
    extra: dict[str, Any] = {"format": "Xradia .xrm series", "reference_frames": reference,
                             "energy_source": first_meta.get("extra", {}).get("energy_source"),
                             "pattern": str(pattern)}
    step = first_meta.get("extra", {}).get("timestep")
    if step:
        extra["timestep"] = step
    if len(set(counts)) == 1:
        n_rep = counts[0]
        order = [groups[e][r] for r in range(n_rep) for e in range(len(groups))]
        data = np.stack([f[3] for f in order])
        data = data.reshape(n_rep, len(groups), *data.shape[1:]) if n_rep > 1 else data
        axes = "TEYX" if n_rep > 1 else "EYX"
        extra["repeats"] = n_rep
        if n_rep > 1:
            extra["t_axis"] = "repeat (NNNofMMM in the names)"
        plane_energies = energies
    else:
        order = [f for g in groups for f in g]
        data = np.stack([f[3] for f in order])
        axes = "EYX"
        most = max(counts)
        short = [f"{e:g} eV ({c} of {most})" for e, c in zip(energies, counts, strict=True) if c < most]
        warnings.warn(f"{pattern}: energies with fewer repeats than the others: {', '.join(short[:5])}"
                      f"{' ...' if len(short) > 5 else ''}; read one plane per frame (energies repeated)",
                      UserWarning, stacklevel=5)
        extra["repeats"] = counts
        plane_energies = [energies[i] for i, g in enumerate(groups) for _ in g]
    extra["files"] = [f[2].name for f in order]
    exposures = [f[4] for f in order]
    if all(t is not None for t in exposures):
        extra["exposure_s"] = exposures
    pixels = sorted({m.get("pixel_size") for *_, m in frames if m.get("pixel_size")})
    meta: dict[str, Any] = {"energies": plane_energies, "extra": extra}
    if pixels:
        meta.update(pixel_size=pixels[0], pixel_unit="um")
        if len(pixels) > 1:
            extra["pixel_sizes_um"] = pixels
    return Raw(data, axes, meta)
