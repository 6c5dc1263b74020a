"""A denoised stack as a Dask array, for users who build their own graph.

The blocks run wherever the user's Dask scheduler puts them (their threads, their cluster's workers): they change
nothing process-wide there (no allocator or thread settings; a worker's GPU only for the block's duration).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._stack import Stack
from ._chunks import ChunkWork, cached_model, denoise_block
from ._plan import plan_chunks


def _block_fn(axes: str, work: ChunkWork, model: Any, model_path: str | None) -> Any:
    seq = work.plan.seq_axis

    def fn(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        net = model if model is not None else (cached_model(model_path, None)[0] if model_path else None)
        stack = Stack(np.asarray(block, np.float32), axes=axes)
        first = block_info[0]["array-location"][seq][0] if block_info and seq is not None else 0
        return denoise_block(stack, work, net, first_frame=int(first)).astype(np.float32, copy=False)

    return fn


def denoised_dask_array(
    data: Stack,
    *,
    model: Any = None,
    method: str | None = None,
    params: list[dict[str, float]] | None = None,
    memory_limit: str | int | None = None,
    tta: bool = False,
    device: str = "auto",
    tile: int = 256,
    pixel_shuffle: dict[str, Any] | None = None,
) -> Any:
    """Return the denoised stack as a lazy float32 Dask array (``dask.array.map_overlap`` with the halo).

    Parameters
    ----------
    data : Stack
        The input, lazy or not (``read(path, lazy=True)``); its ``data`` must be picklable for a cluster.
    model : TrainedDenoiser or str or path, optional
        A network, or the path of a saved one (loaded once per worker process).
    method, params : str, list of dict, optional
        Instead of a model: a calibrated baseline and its per-channel parameters (as recorded by
        :func:`operando.denoise.denoise_baseline` in ``metadata.extra["denoise"]["params"]``).
    memory_limit : str or int, optional
        Bytes (or ``"2GB"``) for one block in flight; sets the chunk size along the sequence axis.
    tta, device, tile
        As :func:`operando.denoise.predict`.
    pixel_shuffle : dict, optional
        With the network of a ``pixel_shuffle`` run: its inference stride and refinement, as a streamed run's
        manifest records them (``manifest["pixel_shuffle"]``: ``infer_stride``, ``refine_passes``,
        ``refine_fraction``, ``refine_seed``).

    Returns
    -------
    dask.array.Array
        Float32, the shape of ``data``; computing it gives what the in-memory path gives.
    """
    import dask.array as da

    from ._api import baseline_halo
    from ._plan import parse_memory

    net, path = (None, None)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        net_for_halo = cached_model(path, None)[0]
    elif model is not None:
        net = net_for_halo = model
    elif method is None or params is None:
        raise InputError("give a model, or a baseline method with its params, to denoise_dask_array")
    if model is not None:
        halo = net_for_halo.config.frames // 2 if net_for_halo.is_video else 0
        method = net_for_halo.config.method
    else:
        halo = baseline_halo(method, params)
    limit = parse_memory(memory_limit) if memory_limit is not None else 2 * 10**9
    plan = plan_chunks(data.shape, data.axes, halo=halo, memory_limit=limit)
    chunks = tuple(plan.chunk_frames if i == plan.seq_axis else n for i, n in enumerate(data.shape))
    extra = {}
    if pixel_shuffle is not None:
        if model is None:
            raise InputError("pixel_shuffle settings need the run's network too: pass model= (the store's "
                             "operando_stream/model)")
        method = "pixel_shuffle"
        extra = {"infer_stride": int(pixel_shuffle["infer_stride"]), "seed": int(pixel_shuffle["refine_seed"]),
                 "refine_passes": int(pixel_shuffle["refine_passes"]),
                 "refine_fraction": float(pixel_shuffle["refine_fraction"])}
    work = ChunkWork(source="", axes=data.axes, output="", plan=plan, method=method, params=params, tta=tta,
                     device=device, tile=tile, extra=extra)
    arr = da.from_array(data.data, chunks=chunks, asarray=True)
    fn = _block_fn(data.axes, work, net, path)
    if plan.seq_axis is None or halo == 0:
        return arr.map_blocks(fn, dtype=np.float32)
    return da.map_overlap(fn, arr, depth={plan.seq_axis: halo}, boundary="none", trim=True, dtype=np.float32,
                          allow_rechunk=True)
