"""Pipelines: end-to-end runs on a user's data that combine the job packages.

One small package per modality (``stxm``, ``neutron``, ``optical``), ``compare`` (a modality against a
reference) and ``scale`` (stacks larger than memory, Dask). Each is imported on use
(``from operando.workflows.scale import denoise_large``), so that this package imports nothing heavy. Nothing here
knows a ground truth: benchmarks, scoring and demos live one floor up, in :mod:`operando.bench`.
"""
