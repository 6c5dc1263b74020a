"""STXM spectromicroscopy pipeline: counts -> composition maps (Li fraction x, thickness, sd(x)) with a full record.

:func:`run_composition` follows what a beamline user does by hand, in this order:

1. optical density per image, OD = -ln(I / I0), I0 from the particle-free pixels (per scan line by default, which
   removes line-to-line flux changes: the scan-line stripes), with its Poisson variance;
2. optional row-offset removal (median OD of each line's particle-free pixels);
3. optional denoising of the OD images (before the ratio, the paper's way) or of x afterwards;
4. registration of every image onto the first (gradient-weighted phase correlation), the variance moved along;
5. per-pixel Beer-Lambert unmixing with propagated standard errors; mask from t / sd(t) (for denoised OD, also
   significant in the raw OD).

::

    from operando.workflows.stxm import CompositionConfig, read_series, run_composition, write_composition

    counts = read_series(["scan_t*.hdr"])
    run = run_composition(counts, config=CompositionConfig(denoise="tv"))
    write_composition(run, "x.tif", counts=counts)

The phantom lives in :mod:`operando.xray` (``make_phantom``), the split error estimate there too
(``split_denoise``), the joint denoisers in :mod:`operando.denoise` (``joint_tv``, ``joint_bm3d``); scoring
against a truth, the benchmark and the demo one floor up, in :mod:`operando.bench.stxm`.
"""

from ._checks import check_composition, check_denoisers, check_references, energy_stack, warn_bad_pixels
from ._config import CompositionConfig, CompositionRun
from ._figures import plot_maps
from ._files import read_series, write_composition
from ._run import run_composition, run_optical_density

__all__ = [
    "CompositionConfig", "CompositionRun", "check_composition", "check_denoisers", "check_references",
    "energy_stack", "plot_maps", "read_series", "run_composition", "run_optical_density", "warn_bad_pixels",
    "write_composition",
]
