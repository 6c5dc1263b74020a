"""The denoising benchmarks on the built-in Cahn-Hilliard video.

Every method on every noise type (:func:`benchmark_denoisers`, ``operando benchmark denoise``), training-setting sweeps
(:func:`sweep_train_settings`), how much of its targets' noise a network learns (:func:`measure_noise_fitting`),
and training/inference speed and memory (:func:`measure_speed_memory`). The scripts under ``benchmarks/`` only
parse options and call these.

The data seeds are those of the documented figures: the clean video from ``seed``, its noise from ``seed + 1``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import write_csv_file, write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from .._stack import Stack
from ..denoise import METHODS

logger = logging.getLogger(__name__)

DEFAULT_NOISES = ("gaussian:0.1", "gaussian:0.2", "poisson:30", "poisson:10", "impulse:0.2", "impulse:0.3",
                  "mixed:30,0.05", "mixed:30,0.05,0.1")
DEFAULT_METHODS = (*METHODS, "oracle")  # every method of the denoise registry, and the supervised upper bound
DEFAULT_SCANLINE = "scanline:0.1,0,0.03"  # the extra scan-line case (STXM-like row offsets)


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

    def to_dict(self) -> dict[str, object]:
        """Return the row as a dict."""
        return dict(self.__dict__)


def stripe_fraction(clean: np.ndarray, denoised: np.ndarray) -> float:
    """Return the share of the error variance that is constant along rows.

    var(row means of the error) / var(error), the error's per-frame mean removed. About 1/width for white errors,
    near 1 when scan-line stripes survive denoising.

    Parameters
    ----------
    clean, denoised : ndarray, shape (..., Y, X)
        Truth and result.

    Returns
    -------
    float
        The share, in [0, 1].
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
    scanline: str | None = DEFAULT_SCANLINE,
    seed: int = 0,
    tta: bool = False,
    progress: Progress | None = None,
) -> list[BenchmarkRow]:
    """Run every method on every noise case of the simulated video; write CSV, Markdown and figures.

    ``oracle`` is the video network trained against the clean video with the same budget (the upper bound
    of a self-supervised run). ``stripe_fraction`` tells which methods remove scan-line stripes.
    PSNR and SSIM use data range 1 (c in (0, 1)); times are wall-clock seconds on this machine.
    ``tta`` averages every network's (and the oracle's) prediction over the training flips and rotations.

    Parameters
    ----------
    output : str or Path
        Folder for ``denoise_benchmark.csv``, ``denoise_benchmark.json`` (settings, and each run's method,
        training configuration and concrete seed), ``report.md`` and the figures.
    size, n_frames : int
        Grid points per side and frames of the simulated video.
    noises : sequence of str
        Noise cases (``operando.noise`` specs).
    methods : sequence of str
        Names of ``operando.denoise.METHODS`` and ``"oracle"``.
    time_budget_s : float
        Training budget of each network, in seconds.
    scanline : str or None
        An extra scan-line noise case (None: none).
    seed : int
        Seed of the clean video (the noise uses ``seed + 1``) and of every network.
    tta : bool
        Test-time augmentation for the networks.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops the
        run within a training step or a tile (nothing is written before the end).

    Returns
    -------
    list of BenchmarkRow
        One row per noise case and method (``noisy`` included).
    """
    from .. import metrics, noise, report, simulate

    unknown = [m for m in methods if m not in DEFAULT_METHODS]
    if unknown:
        raise InputError(f"unknown benchmark method(s) {', '.join(unknown)}; choose from {', '.join(DEFAULT_METHODS)}")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    clean = simulate.simulate_cahn_hilliard(size=size, n_frames=n_frames, rng=seed)
    cases = list(noises) + ([scanline] if scanline else [])
    rows: list[BenchmarkRow] = []
    runs: list[dict[str, Any]] = []
    total = len(cases) * (len(methods) + 1)
    examples: dict[str, np.ndarray] = {}
    for i, case in enumerate(cases):
        noisy = noise.corrupt(clean, case, rng=seed + 1)
        for j, method in enumerate(("noisy", *methods)):
            slot = i * (len(methods) + 1) + j
            sub = sub_progress(progress, slot / total, (slot + 1) / total, f"{case}: {method}: ")
            emit(sub, 0.0, "starting")
            t0 = time.perf_counter()
            result = _run_method(method, noisy, clean, time_budget_s=time_budget_s, seed=seed, tta=tta,
                                 progress=sub)
            if result is None:
                continue
            seconds = time.perf_counter() - t0 if method != "noisy" else 0.0
            ev = metrics.evaluate(clean, {method: result}, data_range=1.0)[0]
            rows.append(BenchmarkRow(case, method, ev.psnr_db, ev.ssim, ev.bias, ev.max_conditional_bias, seconds,
                                     stripe_fraction(clean.to_numpy(), result.to_numpy())))
            runs.append({"noise": case, "method": method, "denoise": result.metadata.extra.get("denoise")})
            if case == cases[0]:
                examples[method] = result.to_numpy()
    settings = {"size": size, "n_frames": n_frames, "noises": list(noises), "methods": list(methods),
                "time_budget_s": time_budget_s, "scanline": scanline, "seed": seed, "noise_seed": seed + 1, "tta": tta}
    write_json_file(out / "denoise_benchmark.json", {"settings": settings, "rows": [r.to_dict() for r in rows],
                                                     "runs": runs, "versions": versions()})
    _write_outputs(out, rows, clean.to_numpy(), examples, cases[0], report)
    return rows


def _run_method(method: str, noisy, clean, *, time_budget_s: float, seed: int, tta: bool,
                progress: Progress | None = None):
    """One benchmark entry: the noisy input itself, the supervised oracle, or a registry method (None: skipped)."""
    from ..denoise import denoise, predict, train_denoiser

    if method == "noisy":
        return noisy
    if method == "oracle":
        model = train_denoiser(noisy, method="video", time_budget_s=time_budget_s, rng=seed, clean=clean,
                               progress=sub_progress(progress, 0.0, 0.9))
        result = predict(model, noisy, tta=tta, progress=sub_progress(progress, 0.9, 1.0))
        record = {**result.metadata.extra["denoise"], "supervised": True}  # trained against the clean video
        return Stack(result.data, axes=result.axes,
                     metadata=result.metadata.replace(extra={**result.metadata.extra, "denoise": record}))
    try:
        return denoise(noisy, method=method, time_budget_s=time_budget_s, rng=seed, tta=tta, progress=progress)
    except ImportError as exc:
        logger.warning("skipping %s: %s", method, exc)
        return None


def _write_outputs(out: Path, rows: list[BenchmarkRow], clean: np.ndarray, examples: dict[str, np.ndarray],
                   first_case: str, report) -> None:
    """Write the CSV table, the Markdown report and its figures."""
    dicts = [r.to_dict() for r in rows]
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


def benchmark_video(*, size: int = 128, n_frames: int = 100, noise: str = "gaussian:0.1", seed: int = 0):
    """Return the built-in Cahn-Hilliard video (from ``seed``) and its corrupted copy (noise from ``seed + 1``).

    Parameters
    ----------
    size, n_frames : int
        Grid points per side and frames.
    noise : str
        Noise spec (``operando.noise.corrupt``).
    seed : int
        Seed of the video; the noise uses ``seed + 1`` (the documented figures' data).

    Returns
    -------
    clean, noisy : Stack
        The clean and the noisy video.
    """
    from ..noise import corrupt
    from ..simulate import simulate_cahn_hilliard

    clean = simulate_cahn_hilliard(size=size, n_frames=n_frames, rng=seed)
    return clean, corrupt(clean, noise, rng=seed + 1)


def parse_setting(text: str) -> dict[str, str]:
    """Parse comma-separated key=value pairs, e.g. ``'batch=4,lr=2e-3'`` (pydantic converts the values).

    Parameters
    ----------
    text : str
        Comma-separated ``key=value`` pairs (TrainConfig fields; ``oracle=1`` for the supervised oracle).

    Returns
    -------
    dict
        The pairs.
    """
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(p) != 2 for p in pairs):
        raise InputError(f"setting {text!r}: write key=value pairs separated by commas, e.g. batch=4,lr=2e-3")
    return dict(pairs)


def _train_with(noisy, clean, fields: dict[str, Any], *, method: str, time_budget_s: float, seed: int):
    """Train one network with TrainConfig ``fields`` (``oracle`` in them: against ``clean``); (model, seconds)."""
    from ..denoise import TrainConfig, train_denoiser

    fields = dict(fields)
    oracle = str(fields.pop("oracle", "0")) not in ("0", "false", "False")
    config = TrainConfig(**{"method": method, "time_budget_s": time_budget_s, **fields})
    start = time.perf_counter()
    model = train_denoiser(noisy, config=config, rng=seed, clean=clean if oracle else None)
    return model, time.perf_counter() - start


def sweep_train_settings(
    settings: Sequence[str],
    *,
    size: int = 128,
    n_frames: int = 100,
    noise: str = "gaussian:0.1",
    time_budget_s: float = 300.0,
    method: str = "video",
    seed: int = 0,
    output: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Train one denoiser per setting on the same noisy video, seed and budget; score each without TTA.

    Parameters
    ----------
    settings : sequence of str
        Each a comma-separated list of TrainConfig fields (:func:`parse_setting`); ``oracle=1`` trains
        against the clean video.
    size, n_frames, noise, seed
        The video (:func:`benchmark_video`); ``seed`` also seeds every run.
    time_budget_s : float
        Training seconds per run.
    method : str
        The network (a TrainConfig method).
    output : str or Path, optional
        Also write ``sweep.json`` here: the rows and each run's whole configuration with its seed.

    Returns
    -------
    list of dict
        One row per setting: setting, noise, steps, psnr_db, train_s, seed.
    """
    from ..denoise import predict
    from ..metrics import psnr

    clean, noisy = benchmark_video(size=size, n_frames=n_frames, noise=noise, seed=seed)
    rows, configs = [], []
    for text in settings:
        model, seconds = _train_with(noisy, clean, parse_setting(text), method=method, time_budget_s=time_budget_s,
                                     seed=seed)
        rows.append({"setting": text, "noise": noise, "steps": model.steps, "seed": model.config.seed,
                     "psnr_db": round(float(psnr(clean, predict(model, noisy), data_range=1.0)), 2),
                     "train_s": round(seconds)})
        configs.append(model.config.model_dump())
    if output is not None:
        write_json_file(Path(output) / "sweep.json", {"rows": rows, "configs": configs, "video": {
            "size": size, "n_frames": n_frames, "noise": noise, "seed": seed, "noise_seed": seed + 1},
            "versions": versions()})
    return rows


def measure_noise_fitting(
    *,
    size: int = 128,
    n_frames: int = 100,
    noise: str = "gaussian:0.1",
    time_budget_s: float = 300.0,
    method: str = "video",
    seed: int = 0,
    setting: str = "",
) -> list[dict[str, Any]]:
    """Compare loss-target frames with held-out ones, to see whether the network learns its targets' noise.

    A fit that absorbs a fraction k of its targets' noise adds about k x sigma^2 to their MSE; held-out
    frames (every 10th from frame 5, the trainer's rule) show none of it.

    Parameters
    ----------
    size, n_frames, noise, seed
        The video (:func:`benchmark_video`); ``seed`` also seeds the run.
    time_budget_s : float
        Training seconds.
    method : str
        The network.
    setting : str
        TrainConfig fields (:func:`parse_setting`).

    Returns
    -------
    list of dict
        Rows for loss targets, held-out frames and all: PSNR, the error's slope on the noise, its share of the
        MSE, steps, best step, training seconds and the seed.
    """
    from ..denoise import predict
    from ..metrics import noise_fit, psnr

    clean, noisy = benchmark_video(size=size, n_frames=n_frames, noise=noise, seed=seed)
    model, seconds = _train_with(noisy, None, parse_setting(setting), method=method, time_budget_s=time_budget_s,
                                 seed=seed)
    held_out = np.zeros(n_frames, bool)
    if n_frames >= 10:
        held_out[5::10] = True
    c, y, d = (np.asarray(x.data, np.float64) for x in (clean, noisy, predict(model, noisy)))
    noise_power = float(np.mean((y - c) ** 2))
    rows = []
    for name, frames in (("loss targets", ~held_out), ("held out", held_out), ("all", np.ones_like(held_out))):
        if not frames.any():
            continue
        slope = noise_fit(c, y, d, frames=frames)
        mse = float(np.mean((d[frames] - c[frames]) ** 2))
        rows.append({"frames": name, "psnr_db": round(float(psnr(c[frames], d[frames], data_range=1.0)), 2),
                     "noise_slope": round(slope, 5), "noise_share_of_mse": round(slope * noise_power / mse, 3),
                     "steps": model.steps, "best_step": model.best_step, "train_s": round(seconds),
                     "seed": model.config.seed})
    return rows


def peak_rss_during(fn: Callable[[], Any]) -> tuple[Any, int, float]:
    """Run ``fn`` and measure the resident-set growth (sampled every 2 ms) and the time it took.

    Parameters
    ----------
    fn : callable
        Called without arguments.

    Returns
    -------
    result : object
        What ``fn`` returned.
    peak_bytes : int
        Peak RSS above the level before the call.
    seconds : float
        Wall-clock time.
    """
    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak, running = [base], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    running[0] = False
    thread.join()
    return result, peak[0] - base, seconds


def measure_speed_memory(*, size: int = 128, n_frames: int = 100, train_seconds: float = 30.0,
                         seed: int = 0) -> list[dict[str, Any]]:
    """Measure training steps/s, inference Mpix/s and inference peak memory of the video and n2v2 networks.

    Parameters
    ----------
    size, n_frames : int
        The Gaussian-0.1 benchmark video (:func:`benchmark_video`).
    train_seconds : float
        Training time per network (early stopping off).
    seed : int
        Seed of the video and the runs.

    Returns
    -------
    list of dict
        One row per method and device (CPU, and CUDA when present): steps/s, Mpix/s, peak MiB, model MiB,
        the input's MiB and the torch thread count.
    """
    import torch

    from ..denoise import TrainConfig, predict, train_denoiser

    _, noisy = benchmark_video(size=size, n_frames=n_frames, seed=seed)
    rows = []
    for method in ("video", "n2v2"):
        for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
            cfg = TrainConfig(method=method, time_budget_s=train_seconds, patience=10**6)
            model = train_denoiser(noisy, config=cfg, rng=seed, device=device)
            predict(model, noisy.to_numpy()[:8], axes="TYX", device=device)  # warm-up
            _, peak, seconds = peak_rss_during(lambda model=model, device=device: predict(model, noisy, device=device))
            rows.append({"method": method, "device": device,
                         "train_steps_per_s": round(model.steps / train_seconds, 1),
                         "inference_mpix_per_s": round(noisy.to_numpy().size / 1e6 / seconds, 2),
                         "inference_peak_mib": round(peak / 2**20, 1),
                         "model_mib": round(sum(p.numel() * 4 for p in model.module.parameters()) / 2**20, 2),
                         "input_mib": round(noisy.to_numpy().nbytes / 2**20, 1),
                         "torch_threads": torch.get_num_threads()})
    return rows
