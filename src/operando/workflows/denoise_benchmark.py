"""The denoising benchmark: the paper's simulated study on the built-in Cahn-Hilliard video."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import write_csv_file

logger = logging.getLogger(__name__)

DEFAULT_NOISES = ("gaussian:0.1", "gaussian:0.2", "poisson:30", "poisson:10", "impulse:0.2", "impulse:0.3",
                  "mixed:30,0.05", "mixed:30,0.05,0.1")
DEFAULT_METHODS = ("video", "n2v", "n2v2", "structn2v", "gaussian", "median", "nlm", "tv", "bm4d", "oracle")


@dataclass(frozen=True)
class BenchmarkRow:
    """One method on one noise case."""

    noise: str
    method: str
    psnr_db: float
    ssim: float
    bias: float
    max_conditional_bias: float
    seconds: float
    stripe_fraction: float

    def as_dict(self) -> dict[str, object]:
        """The row as a dict."""
        return dict(self.__dict__)


def stripe_fraction(clean: np.ndarray, denoised: np.ndarray) -> float:
    """Share of the error variance that is constant along rows: var(row means of error) / var(error).

    About 1/width for white errors, near 1 when scan-line stripes survive denoising.
    """
    err = (denoised - clean).astype(np.float64)
    err -= err.mean(axis=(-2, -1), keepdims=True)
    total = err.var()
    return float(err.mean(axis=-1).var() / total) if total > 0 else 0.0


def benchmark_denoisers(
    output: str | Path,
    *,
    size: int = 128,
    n_frames: int = 100,
    noises: Sequence[str] = DEFAULT_NOISES,
    methods: Sequence[str] = DEFAULT_METHODS,
    time_budget_s: float = 300.0,
    scanline: str | None = "scanline:0.1,0,0.03",
    seed: int = 0,
    tta: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> list[BenchmarkRow]:
    """Run every method on every noise case of the simulated video; write CSV, Markdown and figures.

    ``oracle`` is the video network trained against the clean video with the same budget (the upper bound
    of a self-supervised run). ``stripe_fraction`` tells which methods remove scan-line stripes.
    PSNR and SSIM use data range 1 (c in (0, 1)); times are wall-clock seconds on this machine.
    ``tta`` averages every network's (and the oracle's) prediction over the training flips and rotations.
    """
    from .. import metrics, noise, report, simulate
    from ..denoise import denoise, predict, train_denoiser

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    clean = simulate.simulate_cahn_hilliard(size=size, n_frames=n_frames, rng=seed)
    cases = list(noises) + ([scanline] if scanline else [])
    rows: list[BenchmarkRow] = []
    total = len(cases) * (len(methods) + 1)
    done = 0
    examples: dict[str, np.ndarray] = {}
    for case in cases:
        noisy = noise.corrupt(clean, case, rng=seed + 1)
        for method in ("noisy", *methods):
            if progress is not None:
                progress(done / total, f"{case}: {method}")
            t0 = time.perf_counter()
            if method == "noisy":
                result = noisy
            elif method == "oracle":
                model = train_denoiser(noisy, method="video", time_budget_s=time_budget_s, rng=seed, clean=clean)
                result = predict(model, noisy, tta=tta)
            else:
                try:
                    result = denoise(noisy, method=method, time_budget_s=time_budget_s, rng=seed, tta=tta)
                except ImportError as exc:
                    logger.warning("skipping %s: %s", method, exc)
                    done += 1
                    continue
            seconds = time.perf_counter() - t0 if method != "noisy" else 0.0
            ev = metrics.evaluate(clean, {method: result}, data_range=1.0)[0]
            rows.append(BenchmarkRow(case, method, ev.psnr_db, ev.ssim, ev.bias, ev.max_conditional_bias, seconds,
                                     stripe_fraction(clean.to_numpy(), result.to_numpy())))
            if case == cases[0]:
                examples[method] = result.to_numpy()
            done += 1
    _write_outputs(out, rows, clean.to_numpy(), examples, cases[0], report)
    return rows


def _write_outputs(out: Path, rows: list[BenchmarkRow], clean: np.ndarray, examples: dict[str, np.ndarray],
                   first_case: str, report) -> None:
    dicts = [r.as_dict() for r in rows]
    write_csv_file(out / "denoise_benchmark.csv", dicts)
    rep = report.Report("operando denoising benchmark (simulated Cahn-Hilliard video)")
    rep.text(f"Clean video {clean.shape[1]} x {clean.shape[2]} x {clean.shape[0]}; PSNR/SSIM with data range 1. "
             "stripe_fraction: share of the error variance constant along rows (~1/width when no stripes are left).")
    rep.table(dicts)
    picks = [int(clean.shape[0] * f) for f in (0.25, 0.5, 0.9)]
    report.plot_frames_side_by_side({"clean": clean, **examples}, out / "frames.png", frames=picks, vmin=0, vmax=1)
    rep.figure("frames.png", f"Frames side by side ({first_case})")
    for case in dict.fromkeys(r.noise for r in rows):
        name = "psnr_" + case.replace(":", "_").replace(",", "_") + ".png"
        report.plot_bars({r.method: r.psnr_db for r in rows if r.noise == case}, out / name, ylabel="PSNR (dB)",
                         title=case)
        rep.figure(name, f"PSNR per method, {case}")
    rep.write(out)
