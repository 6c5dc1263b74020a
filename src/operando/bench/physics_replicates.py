"""Refit the physics on fresh noise realisations (optionally denoised first): noise-realisation bands.

A workflow, not part of ``operando.inverse``: it combines the ``noise`` and ``denoise`` jobs with the fit.
"""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._progress import Progress, sub_progress
from .._stack import Stack
from ..inverse import InversionConfig, InversionResult, learn_physics


def refit_on_fresh_noise(
    clean: Stack | np.ndarray,
    noise: str,
    config: InversionConfig | None = None,
    *,
    replicates: int,
    denoise_method: str | None = None,
    denoise_budget_s: float = 60.0,
    axes: str | None = None,
    rng: int | np.random.Generator | None = None,
    progress: Progress | None = None,
    **settings: object,
) -> InversionResult:
    """Fit the clean video's physics once per fresh noise realisation (optionally denoised first).

    The only replicates that capture the denoiser's own bias and variance: each one corrupts ``clean`` with
    ``noise``, denoises it with ``denoise_method`` if given, and refits. Replicate i takes its seeds (noise,
    denoiser, fit) from child i of ``numpy.random.SeedSequence(seed).spawn(replicates)``. The returned result
    holds the first replicate's fit as the point estimate and all replicates in ``bootstrap`` (so the bands
    of :meth:`InversionResult.curves` are noise-realisation bands).

    Parameters
    ----------
    clean : Stack or ndarray, shape (T, n, n)
        Clean concentration video.
    noise : str
        Noise model, as :func:`operando.noise.corrupt` takes it (e.g. ``"gaussian:0.05"``).
    config : InversionConfig, optional
        Settings of each fit (or give them as keywords, never both); the window bootstrap is switched off.
    replicates : int
        Noise realisations (>= 1).
    denoise_method : str, optional
        Denoise each noisy video with this method first (see :func:`operando.denoise.denoise`).
    denoise_budget_s : float
        Training budget of a neural denoiser, per replicate.
    axes : str, optional
        Axis letters of an ndarray ``clean``.
    rng : int or Generator, optional
        Seed of the whole run; when None one is drawn. Recorded in ``settings["seed"]``.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects from each replicate's denoising and fit; raising
        :class:`~operando.Cancelled` from it stops the run within a training step or a solver iteration.
    **settings
        Fields of :class:`~operando.inverse.InversionConfig`, when no ``config`` is given.

    Returns
    -------
    InversionResult
        The first replicate's fit, with every replicate's parameters in ``bootstrap``.
    """
    from ..noise import corrupt

    if replicates < 1:
        raise InputError(f"replicates must be >= 1, got {replicates}")
    if config is not None and settings:
        raise InputError(f"refit_on_fresh_noise got both a config and keyword settings {sorted(settings)}; pass one")
    cfg = (config or InversionConfig.from_keywords(**settings)).model_copy(update={"bootstrap": 0})
    seed = int(rng) if isinstance(rng, int | np.integer) else int(np.random.default_rng(rng).integers(2**63))
    fits, seeds = [], []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(replicates)):
        noise_seed, denoise_seed, fit_seed = (int(s.generate_state(1)[0]) for s in child.spawn(3))
        noisy = corrupt(clean, noise, axes=axes, rng=noise_seed)
        where = f"noise replicate {i + 1}/{replicates}: "
        if denoise_method is not None:
            from ..denoise import denoise

            noisy = denoise(noisy, method=denoise_method, time_budget_s=denoise_budget_s, rng=denoise_seed,
                            progress=sub_progress(progress, i / replicates, (i + 0.5) / replicates, where))
        fits.append(learn_physics(noisy, cfg, rng=fit_seed, progress=sub_progress(
            progress, (i + 0.5 * (denoise_method is not None)) / replicates, (i + 1) / replicates, where)))
        seeds.append({"noise": noise_seed, "denoise": denoise_seed, "fit": fit_seed})
    first = fits[0]
    settings_out = {**first.settings, "seed": seed, "replicate_seeds": seeds, "replicates": "noise",
                    "noise": noise, "denoise_method": denoise_method, "denoise_budget_s": denoise_budget_s,
                    "n_replicates": replicates}
    return InversionResult(
        a=first.a, b=first.b, kappa=first.kappa, covariance=first.covariance,
        bootstrap=np.stack([f.theta for f in fits]), cost=first.cost, iterations=first.iterations,
        status=first.status, seconds=float(sum(f.seconds for f in fits)), settings=settings_out,
    )
