"""Zarr stores (v2 and v3).

Axes are read from operando's own ``operando`` attribute, else from the conventions other tools write: Zarr v3
``dimension_names`` (xarray, tensorstore) and OME-Zarr ``multiscales`` ``axes`` (NGFF 0.4 in the group's
attributes, 0.5 under ``ome``). A group holding OME-Zarr multiscales is read at its full resolution, with the
pixel size, frame times and energies its scale gives when operando's record is absent.

Written stores are OME-Zarr images (NGFF 0.5, :mod:`operando.io._ngff`): each array is stored in NGFF's axis
order with ``dimension_names`` and described in the group's ``ome`` attribute; operando's record (metadata, the
stack's own axis order) stays in the array's ``operando`` attribute, so a read gives back the same Stack. Plain
Zarr stores written by earlier versions (the array in the stack's order, no ``ome``) read as before.

A store written chunk by chunk (``operando.workflows.scale``) holds :data:`STREAM_MANIFEST`; until its
``complete`` flag is set (last), reading it is refused, so an interrupted output is never taken for a result.

Integrity: the stored chunks (shards, when sharded) are listed once and compared with the array's chunk grid; a
missing one is refused in one line naming how many and where, unless ``allow_missing`` reads them as NaN (with a
note) or as the fill value. (Another program's array that stores no chunk at all, created but never written,
reads as its fill value, as Zarr defines.) A chunk that cannot be decoded (truncated, garbage) is refused the
same way or read as NaN. operando's own writers store every chunk, also those equal to the fill value, and say
so in the array's attributes (:data:`EVERY_CHUNK`).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack, check_finite
from ._formats import Raw
from ._ngff import Transposed, multiscales, ngff_axes, permutation, read_image, write_ome_image
from ._read import STANDARD_NAMES, LazyArray, axes_from_names
from ._tiff import metadata_record

#: The file inside a Zarr store written chunk by chunk: model, config, input and the ``complete`` flag. It sits
#: in a (Zarr) sub-group, so that Zarr itself and other tools listing the store see no unknown files.
STREAM_MANIFEST = "operando_stream/manifest.json"
#: Attribute of an array whose writer stores every chunk (operando's writers): a chunk missing from its store is
#: damage, never a chunk left out for equalling the fill value (Zarr's ``write_empty_chunks=False``).
EVERY_CHUNK = "operando_every_chunk"


def _check_complete(file: Path) -> None:
    manifest = file / STREAM_MANIFEST
    if not manifest.is_file():
        return
    try:
        done = bool(json.loads(manifest.read_text(encoding="utf-8")).get("complete"))
    except (OSError, ValueError):
        done = False
    if not done:
        raise InputError(f"{file}: the output of an interrupted run (its manifest is not marked complete); "
                         "run the same command again to finish it")


def _pick_array(node: Any, file: Path, inner: str | None) -> tuple[str, dict[str, Any] | None]:
    """Return the array to read and the multiscales entry that describes it (None if none).

    The array named, else ``data``, else the full resolution of an OME-Zarr image, else the only array.
    """
    names = [name for name, _ in node.arrays()]
    scales = multiscales(dict(node.attrs))
    name = (inner or "").strip("/")
    if not name and "data" in names:
        name = "data"
    if not name and scales and scales[0].get("datasets"):
        name = str(scales[0]["datasets"][0]["path"])  # full resolution
    if not name:
        name = names[0] if len(names) == 1 else ""
    if not name or name not in names:
        raise InputError(f"{file}: name the array as '{file}:/name' (arrays found: {', '.join(names) or 'none'})")
    entry = next((s for s in scales if any(str(d.get("path")) == name for d in s.get("datasets") or [])), None)
    return name, entry


def stored_blocks(arr: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return the shape of the blocks stored as one key (the shards when sharded, else the chunks) and their grid."""
    block = tuple(int(b) for b in (getattr(arr, "shards", None) or arr.chunks))
    return block, tuple(-(-int(n) // b) for n, b in zip(arr.shape, block, strict=True))


def _stored_keys(arr: Any) -> set[str]:
    """Return the keys stored under the array (relative to it), listed once from its store."""
    from zarr.core.sync import sync

    store, prefix = arr.store_path.store, arr.store_path.path.strip("/")
    head = f"{prefix}/" if prefix else ""

    async def listing() -> list[str]:
        return [key async for key in store.list_prefix(head)]

    return {key[len(head):] for key in sync(listing()) if key.startswith(head)}


def missing_blocks(arr: Any) -> list[tuple[int, ...]]:
    """Return the grid coordinates of the blocks (chunks, or shards) of ``arr`` that its store does not hold.

    Parameters
    ----------
    arr : zarr.Array
        A Zarr v2 or v3 array (sharded or not).

    Returns
    -------
    list of tuple of int
        The missing blocks, in C order.
    """
    _, grid = stored_blocks(arr)
    keys = _stored_keys(arr)
    encode = arr.metadata.encode_chunk_key
    return [coords for coords in np.ndindex(*grid) if encode(coords) not in keys]


def _region(arr: Any, blocks: list[tuple[int, ...]], axes: str | None) -> str:
    """Describe the region the blocks cover: ``T 4:8, Y 0:64, X 0:64`` (the bounding box of them all)."""
    block, _ = stored_blocks(arr)
    names = axes if axes and len(axes) == arr.ndim else [f"axis {i}" for i in range(arr.ndim)]
    parts = []
    for i, name in enumerate(names):
        lo = min(c[i] for c in blocks) * block[i]
        hi = min((max(c[i] for c in blocks) + 1) * block[i], int(arr.shape[i]))
        parts.append(f"{name} {lo}:{hi}")
    return ", ".join(parts)


def _nan_dtype(dtype: Any) -> np.dtype:
    """Return the dtype that holds a stored dtype's values and NaN (float32 for small integers, else float64)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return dtype
    return np.dtype(np.float32 if dtype.itemsize <= 2 else np.float64)


def _is_decode_error(exc: BaseException) -> bool:
    """Whether ``exc`` (raised by a Zarr read) means a stored chunk could not be decoded."""
    return isinstance(exc, Exception) and not isinstance(exc, (OSError, MemoryError, InputError))


class ZarrReader:
    """Read ``arr[key]`` with missing or undecodable stored blocks either refused or read as NaN.

    Picklable (a Zarr array and plain values), so a lazy stack built on it travels to Dask workers.

    Parameters
    ----------
    arr : zarr.Array
        The array.
    source : str
        The store, for messages.
    missing : iterable of tuple of int
        Blocks known to be missing from the store (read as NaN).
    mask : bool
        Read missing and undecodable blocks as NaN (``allow_missing=True``); else a block that cannot be
        decoded is refused.
    dtype : dtype
        The dtype returned: the stored one, or a float one when blocks are masked.
    refuse_nan : bool
        Refuse NaN or infinite values stored in the blocks read (outside the masked ones).
    promote : bool
        Return float data when an integer array has a block to mask (a whole read); a lazy array, whose dtype
        is declared, refuses such a block instead.
    axes : str, optional
        The axis letters, for messages.
    """

    def __init__(self, arr: Any, source: str, missing: Any = (), *, mask: bool = False, dtype: Any = None,
                 refuse_nan: bool = False, promote: bool = False, axes: str | None = None) -> None:
        self.arr = arr
        self.source = source
        self.missing = frozenset(tuple(c) for c in missing)
        self.mask = mask
        self.dtype = np.dtype(dtype if dtype is not None else arr.dtype)
        self.refuse_nan = refuse_nan
        self.promote = promote
        self.axes = axes
        self.undecodable: set[tuple[int, ...]] = set()

    def __call__(self, key: Any) -> np.ndarray:
        if not self.missing:
            try:
                return np.asarray(self.arr[key]).astype(self.dtype, copy=False)
            except Exception as exc:
                if not _is_decode_error(exc):
                    raise
        return self._blockwise(key)

    def _boxes(self, key: Any) -> tuple[tuple[int, ...], list[np.ndarray], list[bool]] | None:
        """Per axis: the indices asked for and whether the axis is dropped (an integer); None for fancy keys."""
        items = key if isinstance(key, tuple) else (key,)
        if any(item is Ellipsis for item in items):
            at = next(i for i, item in enumerate(items) if item is Ellipsis)
            fill = (slice(None),) * (self.arr.ndim - len(items) + 1)
            items = items[:at] + fill + items[at + 1:]
        items = items + (slice(None),) * (self.arr.ndim - len(items))
        if len(items) != self.arr.ndim:
            return None
        picks, dropped = [], []
        for item, n in zip(items, self.arr.shape, strict=True):
            if isinstance(item, slice):
                picks.append(np.arange(*item.indices(int(n))))
                dropped.append(False)
            elif isinstance(item, (int, np.integer)):
                index = int(item) + (int(n) if int(item) < 0 else 0)
                if not 0 <= index < n:
                    return None
                picks.append(np.array([index]))
                dropped.append(True)
            else:
                return None
        return tuple(int(n) for n in self.arr.shape), picks, dropped

    def _blockwise(self, key: Any) -> np.ndarray:
        """Read the blocks under ``key`` one by one, so that a missing or broken one is found and masked."""
        found = self._boxes(key)
        if found is None:  # fancy indexing: read everything block by block, then index with numpy
            return self._blockwise(...)[key]
        shape, picks, dropped = found
        out_shape = tuple(len(p) for p, d in zip(picks, dropped, strict=True) if not d)
        if any(len(p) == 0 for p in picks):
            return np.empty(out_shape, self.dtype)
        lo = [int(p.min()) for p in picks]
        hi = [int(p.max()) + 1 for p in picks]
        block, _ = stored_blocks(self.arr)
        box = np.full([h - lo_ for lo_, h in zip(lo, hi, strict=True)], np.nan if self.dtype.kind in "fc" else 0,
                      self.dtype)
        ranges = [range(a // b, (h - 1) // b + 1) for a, h, b in zip(lo, hi, block, strict=True)]
        broken: list[tuple[slice, ...]] = []
        for coords in np.ndindex(*[len(r) for r in ranges]):
            grid = tuple(r[c] for r, c in zip(ranges, coords, strict=True))
            if grid in self.missing:
                continue
            region = tuple(slice(max(g * b, a), min((g + 1) * b, h, n))
                           for g, b, a, h, n in zip(grid, block, lo, hi, shape, strict=True))
            inside = tuple(slice(r.start - a, r.stop - a) for r, a in zip(region, lo, strict=True))
            try:
                values = np.asarray(self.arr[region])
            except Exception as exc:
                if not _is_decode_error(exc):
                    raise
                self._undecodable(grid, exc)
                broken.append(inside)
                continue
            if self.refuse_nan:
                check_finite(values, source=self.source)
            box[inside] = values
        if broken and box.dtype.kind not in "fc":
            box = box.astype(_nan_dtype(box.dtype))
        for inside in broken:
            box[inside] = np.nan
        local = [p - a for p, a in zip(picks, lo, strict=True)]
        return box[np.ix_(*local)].reshape(out_shape)

    def _undecodable(self, grid: tuple[int, ...], exc: BaseException) -> None:
        where = _region(self.arr, [grid], self.axes)
        if not self.mask or (self.dtype.kind not in "fc" and not self.promote):
            raise InputError(f"{self.source}: the stored chunk at {where} cannot be decoded ({exc}); the store is "
                             "damaged: restore it from a copy, or pass allow_missing=True (command line: "
                             "--allow-missing) to read it as NaN (masked)")
        if grid not in self.undecodable:
            self.undecodable.add(grid)
            warnings.warn(f"{self.source}: the stored chunk at {where} cannot be decoded ({exc}); read as NaN "
                          "(masked), as allow_missing asks", UserWarning, stacklevel=4)


def _missing_mode(allow_missing: bool | str) -> bool | str:
    if allow_missing in (True, False, "fill"):
        return allow_missing
    raise InputError(f"allow_missing={allow_missing!r}; use False (refuse missing chunks), True (read them as NaN) "
                     "or 'fill' (read them as the array's fill value)")


def _check_blocks(arr: Any, file: Path, axes: str | None, mode: bool | str) -> list[tuple[int, ...]]:
    """Return the missing blocks to mask; refuse them when ``mode`` is False."""
    if mode == "fill":
        return []
    missing = missing_blocks(arr)
    if not missing or mode is True:
        return missing
    _, grid = stored_blocks(arr)
    total = int(np.prod(grid))
    ours = bool(arr.attrs.get(EVERY_CHUNK)) or "operando" in arr.attrs
    if len(missing) == total and not ours:  # another program's array created but never written: all fill value
        return []
    what = "shards" if getattr(arr, "shards", None) else "chunks"
    where = _region(arr, missing, axes)
    text = (f"{file}: {len(missing)} of {total} stored {what} of the array are missing ({where}); the store is "
            "damaged or was not copied completely: restore it, or pass allow_missing=True (command line: "
            "--allow-missing) to read them as NaN (masked)")
    if not arr.attrs.get(EVERY_CHUNK):
        fill = getattr(arr.fill_value, "item", lambda: arr.fill_value)()
        text += (f", or allow_missing='fill' to read them as the fill value {fill} if the program "
                 "that wrote it skipped empty chunks")
    raise InputError(text)


def _open(file: Path, inner: str | None) -> tuple[Any, dict[str, Any], str | None]:
    """Open the array to read; return it, its metadata and the axes it is stored with.

    The metadata is operando's record over the OME-Zarr calibration; the stored axes are the array's
    ``dimension_names``, else the OME-Zarr axes.
    """
    import zarr

    _check_complete(file)
    try:
        node = zarr.open(str(file), mode="r")
    except Exception as exc:  # zarr raises several types for a missing or broken store
        raise InputError(f"{file}: not a readable Zarr store ({exc})") from None
    group_meta: dict[str, Any] = {}
    ome: tuple[str | None, dict[str, Any]] = (None, {})
    if isinstance(node, zarr.Group):
        name, entry = _pick_array(node, file, inner)
        group_meta = dict(node.attrs.get("operando", {}))
        node = node[name]
        if entry:
            ome = read_image(entry, name, node.shape)
    names = getattr(node.metadata, "dimension_names", None)
    stored = axes_from_names(list(names)) if names and None not in names else None
    if stored is None or len(stored) != node.ndim:
        stored = ome[0] if ome[0] and len(ome[0]) == node.ndim else None
    return node, {**ome[1], **dict(node.attrs.get("operando", group_meta))}, stored


def read(file: Path, inner: str | None, *, lazy: bool, allow_missing: bool | str = False,
         allow_nan: bool = True) -> Raw:
    """Read an array of a Zarr store (``data.zarr``, ``data.zarr:/name`` in a group, or an OME-Zarr image).

    Stored chunks (shards, when sharded) missing from the store are refused (``allow_missing=False``), read as
    NaN with a note (``True``; integer data becomes float), or read as the fill value (``"fill"``, for writers
    that skip chunks equal to it). A stored chunk that cannot be decoded is refused, or read as NaN with a note
    (``True``). ``allow_nan=False`` refuses NaN values stored in the chunks read (the masked ones aside).
    """
    mode = _missing_mode(allow_missing)
    node, meta, stored = _open(file, inner)
    recorded = meta.pop("axes", None)
    axes = recorded or stored
    turned = bool(recorded and stored and recorded != stored and sorted(recorded) == sorted(stored))
    perm = permutation(recorded, stored) if turned else None  # stored in NGFF order, read in the stack's own
    where = stored or axes  # messages name the blocks of the stored array
    missing = _check_blocks(node, file, where, mode)
    dtype = _nan_dtype(node.dtype) if missing else node.dtype
    reader = ZarrReader(node, str(file), missing, mask=mode is True, dtype=dtype, refuse_nan=not (allow_nan or lazy),
                        promote=not lazy, axes=where)
    view: Any = reader if perm is None else Transposed(reader, perm)
    shape = tuple(node.shape) if perm is None else tuple(node.shape[perm.index(i)] for i in range(len(perm)))
    data: Any = LazyArray(view, shape, dtype) if lazy else view(...)
    masked = len(missing) + len(reader.undecodable)
    if missing:
        _, grid = stored_blocks(node)
        warnings.warn(f"{file}: {len(missing)} of {int(np.prod(grid))} stored chunk(s) are missing "
                      f"({_region(node, missing, where)}); read as NaN (masked), as allow_missing asks",
                      UserWarning, stacklevel=3)
    if masked:
        blocks = sorted(set(missing) | reader.undecodable)
        record = {"chunks": masked, "region": _region(node, blocks, where), "read_as": "NaN"}
        meta["extra"] = {**dict(meta.get("extra") or {}), "missing_chunks": record}
    return Raw(data, axes, meta)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write (or replace) one array of a Zarr v3 group as an OME-Zarr (NGFF 0.5) image, atomically.

    The group's other arrays are kept. The array is stored in NGFF's axis order (``TYXC`` is stored ``TCYX``;
    operando's record keeps the stack's own order, so it reads back as written) and described in the group's
    ``ome`` attribute with its units and scale (:mod:`operando.io._ngff`). A stack of 6 axes, which NGFF cannot
    describe, is written as plain Zarr in its own order, with a note. Every chunk is stored, also those equal to
    the fill value, and the array says so (:data:`EVERY_CHUNK`): a chunk missing later is damage, never a fill
    value. Chunks are written one after another, so that a full disk stops the write at once (Zarr's concurrent
    writes would go on behind the error).
    """
    import zarr

    name = (inner or "data").strip("/") or "data"
    stored = ngff_axes(stack.axes)
    if stored is None:
        warnings.warn(f"{file}: a stack with {len(stack.axes)} axes ({stack.axes}) cannot be an OME-Zarr image "
                      "(NGFF images have at most 5 axes); written as plain Zarr, which operando reads back but "
                      "OME-Zarr viewers do not open with its scale", UserWarning, stacklevel=4)
        stored = stack.axes
    data = data.transpose(permutation(stack.axes, stored))
    with atomic_path(file, directory=True) as tmp:
        if file.exists():
            shutil.copytree(file, tmp)
        group = zarr.open_group(str(tmp), mode="a", zarr_format=3)
        chunks = tuple(1 if a in "TE" else min(n, 512) for a, n in zip(stored, data.shape, strict=True))
        if name in group:
            del group[name]
        with zarr.config.set({"array.write_empty_chunks": True}):
            arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks,
                                     dimension_names=[STANDARD_NAMES[a] for a in stored])
            write_blocks(arr, data)
        arr.attrs.update({"operando": metadata_record(stack), EVERY_CHUNK: True})
        write_ome_image(group, stored, stack.metadata, name)


def write_blocks(arr: Any, data: np.ndarray, offset: tuple[int, ...] | None = None) -> None:
    """Write ``data`` into ``arr`` at ``offset`` one stored block after another (whole blocks where aligned).

    Parameters
    ----------
    arr : zarr.Array
        The target, opened with ``write_empty_chunks`` on to store every chunk.
    data : ndarray
        The values.
    offset : tuple of int, optional
        Where ``data`` starts in ``arr`` (default: the origin).
    """
    offset = offset or (0,) * data.ndim
    block, _ = stored_blocks(arr)
    ranges = [range(o // b, -(-(o + n) // b)) for o, n, b in zip(offset, data.shape, block, strict=True)]
    for coords in np.ndindex(*[len(r) for r in ranges]):
        grid = [r[c] for r, c in zip(ranges, coords, strict=True)]
        target = tuple(slice(max(g * b, o), min((g + 1) * b, o + n))
                       for g, b, o, n in zip(grid, block, offset, data.shape, strict=True))
        arr[target] = data[tuple(slice(t.start - o, t.stop - o) for t, o in zip(target, offset, strict=True))]
