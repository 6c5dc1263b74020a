"""The manifest of a streamed output: what made it (input, model, settings), which chunks are done, complete.

Layout of ``OUT.zarr``: the Zarr group with the array ``data`` and the sub-group ``operando_stream`` holding
``manifest.json`` (input fingerprint, model digest, settings, chunk plan, ``complete`` written last) and
``chunks/NNNNNN.json``, one record per finished chunk (its frames and the SHA-256 of the bytes written), written
after the chunk's data. A model trained by the run is kept beside them (``model.safetensors`` + ``model.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._files import write_json_file
from ...io import STREAM_MANIFEST

CHUNK_RECORDS = "operando_stream/chunks"
#: Frames (evenly spaced along the sequence axis) whose bytes go into the input fingerprint.
FINGERPRINT_FRAMES = 8


def file_digest(*paths: str | os.PathLike) -> str:
    """Return the SHA-256 of the files' contents, in order (a saved model: weights and settings)."""
    sha = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(2**20), b""):
                sha.update(block)
    return sha.hexdigest()


def array_digest(data: np.ndarray) -> str:
    """Return the SHA-256 of an array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(data).data).hexdigest()


def input_fingerprint(stack: Any, seq_axis: int | None) -> dict[str, Any]:
    """Describe the input so a resumed run can tell it is the same: shape, dtype, axes and sampled bytes.

    Hashing every byte of a 100 GB input would cost a full read; the fingerprint hashes
    :data:`FINGERPRINT_FRAMES` whole frames spread along the sequence axis instead.
    """
    sha = hashlib.sha256()
    length = stack.shape[seq_axis] if seq_axis is not None else 1
    picks = sorted({int(i) for i in np.linspace(0, length - 1, min(FINGERPRINT_FRAMES, length))})
    for i in picks:
        key = tuple(i if a == seq_axis else slice(None) for a in range(stack.ndim))
        sha.update(np.ascontiguousarray(stack.data[key]).data)
    return {"shape": list(stack.shape), "dtype": str(stack.dtype), "axes": stack.axes,
            "frames_hashed": picks, "sha256": sha.hexdigest()}


def read_manifest(output: Path) -> dict[str, Any] | None:
    """Return the manifest of ``output``, or None when there is none."""
    path = output / STREAM_MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(output: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    write_json_file(output / STREAM_MANIFEST, manifest)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    names = []
    for key in ("input", "model", "settings"):
        if json.dumps(old.get(key), sort_keys=True) != json.dumps(new.get(key), sort_keys=True):
            names.append(key)
    return names


def check_resumable(output: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Return the existing manifest when ``output`` holds this same run, None when ``output`` does not exist.

    Raises :class:`InputError` (nothing is touched) when ``output`` exists but is not an operando streamed
    output, or when its manifest records another input, model or settings.
    """
    if not output.exists():
        return None
    old = read_manifest(output)
    if old is None:
        raise InputError(f"{output}: exists and holds no operando manifest (not a streamed output); choose another "
                         "output path or delete it")
    differ = _differences(old, identity)
    if differ:
        detail = ", ".join(differ)
        raise InputError(f"{output}: holds the output of another run (different {detail}); nothing was "
                         "overwritten: choose another output path, or delete it to start over")
    return old


def record_chunk(output: Path, index: int, start: int, stop: int, digest: str,
                 timing: dict[str, Any] | None = None) -> None:
    """Record chunk ``index`` as finished (after its data is written), with where its time went if given."""
    record = {"index": index, "start": start, "stop": stop, "sha256": digest}
    if timing is not None:
        record["timing"] = timing
    write_json_file(output / CHUNK_RECORDS / f"{index:06d}.json", record)


def chunk_record(output: Path, index: int) -> dict[str, Any] | None:
    """Return the record of chunk ``index``, or None when it was not finished."""
    path = output / CHUNK_RECORDS / f"{index:06d}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
