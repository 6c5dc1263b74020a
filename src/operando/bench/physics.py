"""The physics benchmark: learn mu_h and M back from clean, noisy and denoised simulated videos."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .._errors import InputError
from .._files import atomic_path, write_csv_file, write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from ..inverse import InversionConfig, InversionResult, compare_to_truth, learn_physics, regular_solution_truth
from ..report import plot_learned

logger = logging.getLogger(__name__)


def _slug(name: str) -> str:
    """Return a noise case as part of a file name: 'gaussian:0.05' -> 'gaussian_0.05'."""
    return name.replace(":", "_").replace(",", "_")


def simulate_truth_video(*, size: int = 128, n_frames: int = 50, t_end: float = 0.2, d_slope: float = 0.5,
                         truth_dt: float = 1e-5, seed: int = 0):
    """Return the benchmark's clean video and its truth (Stack, Truth).

    The video is :func:`operando.simulate.simulate_regular_solution` (``truth_dt`` its time step, ``seed`` its
    initial noise), the truth ``regular_solution_truth(3.0, d_slope)``.
    """
    from ..simulate import simulate_regular_solution

    clean = simulate_regular_solution(size=size, n_frames=n_frames, t_end=t_end, d_slope=d_slope, dt=truth_dt,
                                      rng=seed)
    return clean, regular_solution_truth(3.0, d_slope)


class _Fits:
    """The benchmark's fits, one after another: each saved as JSON, refused videos noted, progress per fit."""

    def __init__(self, config: InversionConfig, out: Path, n_fits: int, seed: int, progress: Progress | None):
        self.config, self.out, self.n_fits, self.seed, self.progress = config, out, n_fits, seed, progress
        self.done = 0
        self.refused: dict[str, str] = {}

    def here(self, prefix: str) -> Progress | None:
        """Return a callback that reports at the current fit's start (denoising before the fit)."""
        at = self.done / self.n_fits
        return sub_progress(self.progress, at, at, prefix)

    def __call__(self, name: str, video) -> InversionResult | None:
        """Learn from one video; None (and the reason in ``refused``) when the fit refuses the data."""
        start = self.done / self.n_fits
        self.done += 1
        sub = sub_progress(self.progress, start, self.done / self.n_fits, f"learning from {name}: ")
        emit(sub, 0.0, "starting")
        try:
            res = learn_physics(video, self.config, rng=self.seed, progress=sub)
        except InputError as exc:  # e.g. noisy values outside (0, 1): a user could not fit this video either
            self.refused[name] = str(exc)
            return None
        res.save_json(self.out / f"{_slug(name)}.json")
        return res


def _noise_case(case: str, clean, truth, clean_result: InversionResult, fit: _Fits, rep, out: Path, *,
                denoisers: Sequence[str], denoise_budget_s: float, denoise_ensemble: int,
                seed: int) -> list[dict[str, object]]:
    """One noise case of :func:`benchmark_physics`: corrupt, fit the noisy video, denoise and fit each; the rows."""
    from .. import io, noise
    from ..denoise import NEURAL, denoise
    from ..metrics import psnr

    noisy = noise.corrupt(clean, case, rng=seed + 1)
    results = {"clean": clean_result, f"noisy ({case})": fit(f"noisy_{case}", noisy)}
    quality = {f"noisy ({case})": psnr(clean, noisy, data_range=1.0)}
    for method in denoisers:
        den = denoise(noisy, method=method, time_budget_s=denoise_budget_s, rng=seed,
                      ensemble=denoise_ensemble if method in NEURAL else 1,
                      progress=fit.here(f"denoising {case} with {method}: "))
        io.write(den, out / f"denoised_{method}_{_slug(case)}.npy", dtype="float32")
        quality[f"{method} ({case})"] = psnr(clean, den, data_range=1.0)
        results[f"{method} ({case})"] = fit(f"{method}_{case}", den)
    rows: list[dict[str, object]] = []
    for name, res in list(results.items())[1:]:
        data = name.split(" (")[0]
        if res is None:
            reason = fit.refused[f"noisy_{case}" if data == "noisy" else f"{data}_{case}"]
            rows.append({"noise": case, "data": data, "psnr_db": quality[name], "mu_h_rel_l2": float("nan"),
                         "mobility_rel_l2": float("nan"), "seconds": None, "status": f"refused: {reason}"})
            continue
        rows.append({"noise": case, "data": data, "psnr_db": quality[name], **compare_to_truth(res, truth),
                     "seconds": res.seconds, "status": res.status})
    fig = f"physics_{_slug(case)}.png"
    plot_learned({k: v for k, v in results.items() if v is not None}, out / fig, truth)
    rep.figure(fig, f"Learned curves, {case}")
    return rows


def benchmark_physics(
    output: str | Path,
    *,
    size: int = 128,
    n_frames: int = 50,
    noises: Sequence[str] = ("gaussian:0.05",),
    denoisers: Sequence[str] = ("video", "n2v"),
    d_slope: float = 0.5,
    truth_dt: float = 1e-5,
    inversion_dt: float = 4e-5,
    n_mu: int = 4,
    n_d: int = 2,
    window: int = 3,
    fit_initial_states: int = 0,
    bootstrap: int = 20,
    denoise_budget_s: float = 300.0,
    denoise_ensemble: int = 1,
    fit_budget_s: float | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[dict[str, object]]:
    """Simulate a truth (finer time step than the inversion: no inverse crime), corrupt, denoise, and learn.

    Truth: mu_h = ln(c/(1-c)) + 3 (1 - 2c), ln D = d_slope (2c - 1), M = D c (1 - c)
    (:func:`operando.simulate.simulate_regular_solution`). Writes
    ``physics_benchmark.csv``, ``report.md``/``.html``, one figure per noise case and every result as JSON.
    Returns one row per (noise, data) with relative L2 errors over c in [0.1, 0.9], band widths and coverage,
    and the PSNR of the data the fit saw against the clean video. Each denoised video is kept as
    ``denoised_<method>_<noise>.npy`` (time-budgeted training differs from run to run, and the fit with it).
    ``denoise_ensemble`` > 1 averages that many networks per neural denoiser (see :func:`operando.denoise.denoise`).
    ``progress`` receives :class:`~operando.ProgressEvent` objects; a :class:`~operando.Cancelled` raised by it stops
    the run within one solver iteration or training step (the files of finished fits stay; the tables and the
    report are written only at the end).
    """
    from .. import report

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    emit(progress, 0.0, "simulating the truth")
    clean, truth = simulate_truth_video(size=size, n_frames=n_frames, d_slope=d_slope, truth_dt=truth_dt, seed=seed)
    config = InversionConfig(n_mu=n_mu, n_d=n_d, window=window, dt=inversion_dt, bootstrap=bootstrap,
                             fit_initial_states=fit_initial_states, time_budget_s=fit_budget_s)
    fit = _Fits(config, out, 1 + len(noises) * (1 + len(denoisers)), seed, progress)
    clean_result = fit("clean", clean)
    if clean_result is None:
        raise InputError(f"the clean video cannot be fitted: {fit.refused['clean']}")
    rows = [{"noise": "none", "data": "clean", "psnr_db": None, **compare_to_truth(clean_result, truth),
             "seconds": clean_result.seconds, "status": clean_result.status}]
    rep = report.Report("operando physics benchmark: mu_h(c) and M(c) learned back")
    training = f"{denoise_budget_s:g} s" + (f" x {denoise_ensemble} seeds, averaged" if denoise_ensemble > 1 else "")
    rep.text(f"Truth: {truth.label}, {size} x {size} x {n_frames}, truth dt {truth_dt:g}, inversion dt "
             f"{inversion_dt:g}, window {window}, {fit_initial_states} initial-state rounds, {bootstrap} bootstrap "
             f"resamples, denoising networks trained for {training}. Errors are relative L2 over c in [0.1, 0.9]; "
             "coverage is the share of that range where the 95 % band holds the truth; status says how each fit "
             "ended (converged, did_not_move, not_converged).")
    for case in noises:
        rows += _noise_case(case, clean, truth, clean_result, fit, rep, out, denoisers=denoisers,
                            denoise_budget_s=denoise_budget_s, denoise_ensemble=denoise_ensemble, seed=seed)
    rep.heading("Errors")
    rep.table(rows)
    rep.write(out)
    write_csv_file(out / "physics_benchmark.csv", rows)
    write_json_file(out / "physics_benchmark.json", rows, indent=1)
    emit(progress, 1.0, "done")
    return rows


# ---------------------------------------------------------------------------------------------------------------
# The family: noise model and level, truth and initial state drawn from a seed
# ---------------------------------------------------------------------------------------------------------------

#: What the physics family varies, and over which range (docs/physics.md lists the same).
PHYSICS_FAMILY: dict[str, str] = {
    "noise model": "gaussian, poisson, mixed (poisson + gaussian), correlated (blurred white noise)",
    "gaussian sigma": "0.03 - 0.10 (c in (0, 1))",
    "poisson peak": "20 - 100 counts at c = 1",
    "mixed": "peak 30 - 100 counts + gaussian sigma 0.01 - 0.04",
    "correlated": "sigma 0.03 - 0.08, neighbour correlation 0.2 - 0.5",
    "ln D slope": "-0.5 - 0.8 (ln D = slope (2c - 1))",
    "initial state": "a new seed of the random initial composition per variant",
}


def draw_physics_variant(seed: int) -> dict[str, object]:
    """Draw one member of the physics family: a noise case, the truth's ln D slope and the simulation seed.

    Parameters
    ----------
    seed : int
        The variant's seed; the same seed gives the same variant.

    Returns
    -------
    dict
        ``noise`` (a noise spec for :func:`operando.noise.corrupt`), ``d_slope`` and ``seed`` (of the video).
    """
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    model = ("gaussian", "poisson", "mixed", "correlated")[int(rng.integers(4))]
    if model == "gaussian":
        spec = f"gaussian:{rng.uniform(0.03, 0.10):.3f}"
    elif model == "poisson":
        spec = f"poisson:{rng.uniform(20, 100):.0f}"
    elif model == "mixed":
        spec = f"mixed:{rng.uniform(30, 100):.0f},{rng.uniform(0.01, 0.04):.3f}"
    else:
        spec = f"correlated:{rng.uniform(0.03, 0.08):.3f},{rng.uniform(0.2, 0.5):.2f}"
    return {"noise": spec, "d_slope": round(float(rng.uniform(-0.5, 0.8)), 3), "seed": int(rng.integers(2**31 - 1))}


#: The figures summarised over the family, and the physics issue's targets on them (None: reported only).
FAMILY_FIGURES: tuple[tuple[str, str, float | None], ...] = (
    ("clean", "mu_h_rel_l2", 0.02),
    ("clean", "mobility_rel_l2", 0.05),
    ("noisy", "mu_h_rel_l2", None),
    ("noisy", "mobility_rel_l2", None),
    ("denoised", "mu_h_rel_l2", None),
    ("denoised", "mobility_rel_l2", None),
    ("denoised", "mu_h_gain", None),
    ("denoised", "mobility_gain", None),
)


def summarise_family(per_variant: list[dict[str, object]]) -> list[dict[str, object]]:
    """Worst, median and spread (min - max) of each family figure over the variants, with the target if any.

    Parameters
    ----------
    per_variant : list of dict
        One dict per variant: ``{"variant", "noise", "rows"}`` with the rows of :func:`benchmark_physics`.

    Returns
    -------
    list of dict
        One row per figure: ``data``, ``figure``, ``worst``, ``median``, ``min``, ``max``, ``target``, ``met``
        (errors: the worst is the largest; gains, noisy over denoised error: the worst is the smallest), ``fitted``
        (how many variants' fits ran: a fit refuses a video with values outside (0, 1), as raw noisy data often is).
    """
    import numpy as np

    table = []
    for data, figure, target in FAMILY_FIGURES:
        values = []
        for item in per_variant:
            rows = item["rows"]  # type: ignore[index]
            by = {r["data"]: r for r in rows}  # type: ignore[union-attr]
            denoised = [r for r in rows if r["data"] not in ("clean", "noisy")]  # type: ignore[union-attr]
            if figure.endswith("_gain"):
                key = figure.replace("_gain", "_rel_l2")
                values += [float(by["noisy"][key]) / max(float(r[key]), 1e-12) for r in denoised]
            elif data == "denoised":
                values += [float(r[figure]) for r in denoised]
            elif data in by:
                values.append(float(by[data][figure]))
        arr = np.asarray(values, float)
        fitted = arr[np.isfinite(arr)]
        if not fitted.size:
            table.append({"data": data, "figure": figure, "worst": float("nan"), "median": float("nan"),
                          "min": float("nan"), "max": float("nan"), "fitted": f"0/{arr.size}", "target": target,
                          "met": None if target is None else False})
            continue
        worst = float(fitted.min() if figure.endswith("_gain") else fitted.max())
        table.append({"data": data, "figure": figure, "worst": worst, "median": float(np.median(fitted)),
                      "min": float(fitted.min()), "max": float(fitted.max()), "fitted": f"{fitted.size}/{arr.size}",
                      "target": target, "met": None if target is None else bool(worst < target)})
    return table


def benchmark_physics_family(
    output: str | Path,
    *,
    variants: int = 8,
    family_seed: int = 0,
    progress: Progress | None = None,
    **settings: object,
) -> dict[str, object]:
    """Run :func:`benchmark_physics` on ``variants`` members of the physics family; summarise worst / median / spread.

    Parameters
    ----------
    output : str or path
        Output folder: one sub-folder per variant, ``family.json`` and ``family.md``.
    variants : int
        How many variants (drawn with seeds ``family_seed``, ``family_seed + 1``, ...).
    family_seed : int
        The first variant's seed.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops
        the run (finished variants' files stay; ``family.md`` is written only at the end).
    **settings
        Passed to :func:`benchmark_physics` (size, n_frames, denoisers, bootstrap, budgets, ...); ``noises``,
        ``d_slope`` and ``seed`` come from each variant.

    Returns
    -------
    dict
        ``variants`` (each variant's draw and rows), ``summary`` (:func:`summarise_family`), ``family``.
    """
    from .._errors import InputError

    if variants < 1:
        raise InputError(f"variants {variants}: run at least one variant")
    for key in ("noises", "d_slope", "seed"):
        if key in settings:
            raise InputError(f"{key} is drawn for each variant of the family; leave it out")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    per_variant = []
    for k in range(variants):
        draw = draw_physics_variant(family_seed + k)
        sub = sub_progress(progress, k / variants, (k + 1) / variants, f"variant {k + 1}/{variants}: ")
        rows = benchmark_physics(out / f"variant_{k:02d}", noises=[str(draw["noise"])], d_slope=float(draw["d_slope"]),
                                 seed=int(draw["seed"]), progress=sub, **settings)  # type: ignore[arg-type]
        per_variant.append({"variant": k, **draw, "rows": rows})
        write_json_file(out / "family.json", {"family": PHYSICS_FAMILY, "settings": settings, "seed": family_seed,
                                              "variants": per_variant, "summary": summarise_family(per_variant),
                                              "versions": versions()}, indent=1)
    summary = summarise_family(per_variant)
    lines = ["# Physics benchmark over the family", "",
             f"{variants} variants (seeds {family_seed}-{family_seed + variants - 1}); settings {settings}.", "",
             "| data | figure | worst | median | min | max | variants fitted | target | met on the worst |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['data']} | {r['figure']} | {r['worst']:.4g} | {r['median']:.4g} | {r['min']:.4g} | {r['max']:.4g} "
              f"| {r['fitted']} | {'-' if r['target'] is None else r['target']} "
              f"| {'-' if r['met'] is None else r['met']} |"
              for r in summary]
    lines += ["", "| variant | noise | ln D slope | video seed |", "|---|---|---|---|"]
    lines += [f"| {v['variant']} | {v['noise']} | {v['d_slope']} | {v['seed']} |" for v in per_variant]
    with atomic_path(out / "family.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_json_file(out / "family.json", {"family": PHYSICS_FAMILY, "settings": settings, "seed": family_seed,
                                          "variants": per_variant, "summary": summary, "versions": versions()},
                    indent=1)
    emit(progress, 1.0, "done")
    return {"variants": per_variant, "summary": summary, "family": PHYSICS_FAMILY}
