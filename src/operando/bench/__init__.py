"""Benchmarks, scoring and demos: everything in operando that knows a ground truth.

This floor sits above the pipelines (``operando.workflows``) and below the command line: it draws phantoms with
known truth, runs the pipelines on them and scores the results. No pipeline imports it (import-linter). Each
module is imported on use (``from operando.bench.denoise import benchmark_denoisers``), so that importing one
benchmark does not import the others' heavy dependencies.

Modules: ``denoise`` (the Cahn-Hilliard video), ``correlated`` (correlated noise), ``real`` (the real step
wedge), ``physics`` and ``physics_replicates`` (the constitutive-law fit), ``scale`` (large data),
``stxm``, ``neutron``, ``optical`` (the modality phantoms and their families) and ``demo``.
"""
