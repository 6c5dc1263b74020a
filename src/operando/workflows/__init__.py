"""Workflows: end-to-end runs that combine the job packages (demo, benchmarks, modality pipelines).

Each workflow module is imported on use (``from operando.workflows.demo import run_demo``), so that this
package stays light: the modules pull in torch or JAX only through the jobs they run.
"""
