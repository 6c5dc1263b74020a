"""FITS images and cubes (astropy), with exposure time and timestamps from the header."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw

logger = logging.getLogger(__name__)

#: Header keywords that hold the exposure time, in seconds (first found wins).
EXPOSURE_KEYS = ("EXPTIME", "EXPOSURE", "EXP_TIME", "ITIME", "TEXP", "EXPOSURE_TIME")
#: Header keywords that hold the acquisition time (ISO 8601), first found wins.
TIMESTAMP_KEYS = ("DATE-OBS", "DATE_OBS", "DATE-BEG", "DATE", "TIMESTAMP")


def parse_timestamp(text: Any) -> float | None:
    """Return an ISO-8601-like date-time as POSIX seconds (UTC when no zone is given), or None if unreadable."""
    if text is None:
        return None
    value = str(text).strip().replace("/", "-")
    for candidate in (value, value.replace(" ", "T", 1)):
        try:
            stamp = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y%m%d_%H%M%S", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def header_info(header: Any) -> dict[str, Any]:
    """Exposure time (s) and acquisition timestamp (POSIX s) found in a FITS header (keys absent if not found)."""
    info: dict[str, Any] = {}
    for key in EXPOSURE_KEYS:
        if key in header:
            try:
                info["exposure_time_s"] = float(header[key])
                break
            except (TypeError, ValueError):
                continue
    for key in TIMESTAMP_KEYS:
        stamp = parse_timestamp(header.get(key))
        if stamp is not None:
            info["timestamp"] = stamp
            break
    return info


def _data_hdu(hdul: Any, inner: str | None, file: Path) -> Any:
    """Return the HDU holding image data: the one named by ``inner`` (index or EXTNAME), else the first with data."""
    if inner:
        key: Any = inner.strip("/")
        key = int(key) if key.isdigit() else key
        try:
            hdu = hdul[key]
        except (KeyError, IndexError):
            raise InputError(f"{file}: no HDU {inner!r}; the file has {len(hdul)} HDU(s), give an index "
                             "or EXTNAME such as file.fits:/1") from None
        if hdu.data is None:
            raise InputError(f"{file}: HDU {inner!r} holds no data; choose another HDU")
        return hdu
    for hdu in hdul:
        if getattr(hdu, "is_image", False) and hdu.data is not None and np.asarray(hdu.data).ndim >= 2:
            return hdu
    raise InputError(f"{file}: the FITS file holds no image data (only headers); check the file was written "
                     "completely or give the HDU holding the image")


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read the first image HDU (or ``file.fits:/N``): 2-D as ``YX``, 3-D cubes as ``TYX`` (NAXIS3 is T)."""
    from astropy.io import fits

    try:
        with fits.open(file, memmap=lazy) as hdul:
            hdu = _data_hdu(hdul, inner, file)
            data = np.asarray(hdu.data) if lazy else np.array(hdu.data)
            header = hdu.header
            primary = hdul[0].header
            info = {**header_info(primary), **header_info(header)}
    except InputError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{file}: not a readable FITS file ({exc}); check the file is complete") from None
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    axes = {2: "YX", 3: "TYX"}.get(data.ndim)
    extra = {k: v for k, v in info.items()}
    meta: dict[str, Any] = {"extra": extra} if extra else {}
    logger.debug("read FITS %s: shape %s, %s", file, data.shape, extra)
    return Raw(data, axes, meta)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write a 2-D or 3-D (``TYX``) stack as a FITS primary image, with ``EXPTIME`` when known, atomically."""
    from astropy.io import fits

    if data.ndim not in (2, 3):
        raise InputError(f"{file}: FITS output holds 2-D or 3-D images, got shape {data.shape}; "
                         "write .tif or .zarr instead")
    hdu = fits.PrimaryHDU(np.ascontiguousarray(data))
    exposure = stack.metadata.extra.get("exposure_time_s")
    if isinstance(exposure, (int, float)):
        hdu.header["EXPTIME"] = float(exposure)
    with atomic_path(file) as tmp:
        hdu.writeto(tmp, overwrite=True)
