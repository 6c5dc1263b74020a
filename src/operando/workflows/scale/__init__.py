"""Scale: denoise stacks larger than memory, chunk by chunk into Zarr, resumably, on one machine or Dask.

::

    from operando.workflows.scale import denoise_large, predict_large, denoised_dask_array

    result = predict_large("big.zarr", "out.zarr", model="model", memory_limit="2GB", scheduler="local:4")
    arr = denoised_dask_array(read("big.zarr", lazy=True), model="model")   # lazy float32 Dask array

The stack is cut along its sequence axis (T, else E, else Z) into chunks sized by the memory limit; each chunk
is read with a halo of the model's temporal window (or the filter's radius), denoised by the in-memory code
(which tiles each frame spatially as usual) and written as whole Zarr chunks, so the output equals the
in-memory result. A manifest in the store records the input, model and settings, one record per finished
chunk, and a ``complete`` flag written last (docs/large-data.md).
"""

from ._api import STREAMED_NETWORKS, baseline_halo, denoise_large, model_files, predict_large
from ._dask import denoised_dask_array
from ._manifest import CHUNK_RECORDS
from ._plan import ChunkPlan, default_memory_limit, parse_memory, plan_chunks
from ._run import ScaleResult, time_breakdown
from ._train import fill_masked, training_sample

__all__ = [
    "CHUNK_RECORDS", "STREAMED_NETWORKS", "ChunkPlan", "ScaleResult", "baseline_halo", "default_memory_limit",
    "denoise_large", "denoised_dask_array", "fill_masked", "model_files", "parse_memory", "plan_chunks",
    "predict_large", "time_breakdown", "training_sample",
]
