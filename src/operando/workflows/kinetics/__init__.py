"""Kinetics: learn mu_h(c), j0(c), kappa and the rate map k(x) from a composition video of reacting particles.

::

    from operando.workflows.kinetics import run_kinetics, write_kinetics

    run = run_kinetics(read("x.tif"), frame_interval=30.0, rng=0)     # the output of `operando stxm composition`
    write_kinetics(run, "kinetics/")                                   # kinetics.json, k.tif, figures, report.md

The input is a TYX Li-fraction video (NaN outside the particles) or the TCYX maps of ``stxm composition``
(channels x, thickness, sd(x): sd(x) weights the residuals). Without an sd the noise is measured from the
video's second differences in time. The model and its inversion are :func:`operando.inverse.learn_kinetics`
(docs/physics.md).
"""

from ._files import write_kinetics
from ._run import KineticsRun, composition_video, estimate_noise_sd, run_kinetics

__all__ = ["KineticsRun", "composition_video", "estimate_noise_sd", "run_kinetics", "write_kinetics"]
