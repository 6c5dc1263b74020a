"""Correlated-noise benchmark with ground truth: every method on PSF-blurred, scintillator and scan-line noise.

Scenes: the simulated Cahn-Hilliard video and a natural image (``skimage.data.camera()``, shipped with
scikit-image, no download). Noise cases (``DEFAULT_NOISES``): white Gaussian noise of SD 0.1 (20 dB on the
image) blurred by a PSF scaled to a neighbour correlation of 0.2, 0.4 and 0.6 (``correlated:SIGMA,RHO``),
Poisson counts spread by a scintillator-like PSF (``scintillator:PEAK,RHO``), STXM-like scan-line offsets
(``scanline:...``) plus correlated positioning jitter (``jitter:PX[,CORR]``, handled here: each row of the
scene is displaced along X by an AR(1) amount of SD ``PX`` pixels; the unjittered scene stays the truth), and
white noise as the control. Every method runs at the same training budget;
rows report PSNR, SSIM, and the no-clean-data residual check (:func:`operando.metrics.check_residual`).
``bm3d_true`` is BM3D given the true noise power spectrum, ``bm3d`` the measured one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import write_csv_file, write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from .._stack import Stack

logger = logging.getLogger(__name__)

DEFAULT_NOISES = ("gaussian:0.1", "correlated:0.1,0.2", "correlated:0.1,0.4", "correlated:0.1,0.6",
                  "scintillator:30,0.4", "scanline:0.05,0,0.05,0.5", "jitter:0.3,0.8+scanline:0.05,0,0.05,0.5")
DEFAULT_METHODS = ("auto", "n2v2", "pixel_shuffle", "video", "gaussian", "bm3d", "bm3d_true")
SCENES = ("camera", "cahn_hilliard")
VIDEO_ONLY = ("video",)


@dataclass(frozen=True)
class CorrelatedRow:
    """One method on one scene and noise case."""

    scene: str
    noise: str
    method: str
    psnr_db: float
    ssim: float
    residual_passed: bool | None
    residual_variance_ratio: float | None
    residual_acf_mismatch: float | None
    residual_structure_corr: float | None
    seconds: float
    chosen: str = ""
    residual_kept_noise: float | None = None
    residual_removed_signal: float | None = None
    residual_correlation_kept: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the row as a dict."""
        return dict(self.__dict__)


def scene(name: str, *, size: int, n_frames: int, rng: int) -> Stack:
    """Return a clean benchmark scene in (0, 1): ``camera`` (YX, ``size`` px) or ``cahn_hilliard`` (TYX)."""
    if name == "camera":
        from skimage import data as skdata
        from skimage.transform import resize

        img = resize(skdata.camera().astype(np.float64) / 255.0, (size, size), anti_aliasing=True)
        return Stack(img.astype(np.float32), axes="YX")
    if name == "cahn_hilliard":
        from ..simulate import simulate_cahn_hilliard

        return simulate_cahn_hilliard(size=size, n_frames=n_frames, rng=rng)
    from .._errors import InputError

    raise InputError(f"unknown scene {name!r}; choose one of {', '.join(SCENES)}")


def split_jitter(noise_spec: str) -> tuple[tuple[float, float] | None, str]:
    """Split ``jitter:PX[,CORR]`` off a noise spec; returns ((px, corr) or None, the rest of the spec).

    Parameters
    ----------
    noise_spec : str
        Noise models joined by ``+``, possibly with one ``jitter:PX[,CORR]`` (CORR defaults to 0.8).

    Returns
    -------
    tuple
        The jitter's SD (pixels) and row-to-row correlation, or None; and the remaining spec ('' if none).
    """
    from .._errors import InputError

    jitter, rest = None, []
    for part in noise_spec.split("+"):
        name, _, values = part.strip().partition(":")
        if name.lower() != "jitter":
            rest.append(part.strip())
            continue
        try:
            numbers = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 2 or numbers[0] < 0 or not 0 <= (numbers + [0.8])[1] < 1:
            raise InputError(f"jitter {part!r}: use jitter:PX[,CORR] with PX >= 0 and 0 <= CORR < 1")
        jitter = (numbers[0], (numbers + [0.8])[1])
    return jitter, "+".join(rest)


def add_row_jitter(images: np.ndarray, px: float, corr: float, rng) -> np.ndarray:
    """Displace each row along X by an AR(1) amount (SD ``px`` pixels, row-to-row correlation ``corr``).

    Parameters
    ----------
    images : ndarray, shape (..., Y, X)
        Clean images.
    px : float
        SD of the displacement, pixels.
    corr : float
        Correlation of neighbouring rows' displacements, in [0, 1).
    rng : int, Generator or None
        Seed.

    Returns
    -------
    ndarray
        Jittered copy (linear interpolation, edge values held), same dtype.
    """
    gen = np.random.default_rng(rng)
    arr = np.asarray(images)
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.empty_like(flat)
    x = np.arange(arr.shape[-1], dtype=np.float64)
    for k, img in enumerate(flat):
        shifts = gen.standard_normal(img.shape[0])
        for i in range(1, shifts.size):
            shifts[i] = corr * shifts[i - 1] + np.sqrt(1 - corr**2) * shifts[i]
        for i, row in enumerate(img):
            out[k, i] = np.interp(x + px * shifts[i], x, row)
    return out.reshape(arr.shape)


def corrupt_case(clean: Stack, noise_spec: str, rng: int) -> Stack:
    """Apply a benchmark noise case (noise models of ``operando.noise`` plus optional ``jitter:``) to a scene.

    Parameters
    ----------
    clean : Stack
        The clean scene (stays the truth).
    noise_spec : str
        The case, e.g. ``"jitter:0.3,0.8+scanline:0.05,0,0.05,0.5"``.
    rng : int
        Seed (the jitter uses a child seed).

    Returns
    -------
    Stack
        The noisy scene.
    """
    from .. import noise

    jitter, rest = split_jitter(noise_spec)
    data = clean
    if jitter is not None:
        seed = np.random.SeedSequence(rng).spawn(1)[0]
        data = clean.with_data(add_row_jitter(clean.to_numpy(), *jitter, rng=np.random.default_rng(seed)))
    return noise.corrupt(data, rest, rng=rng) if rest else data


def true_autocovariance(noise_spec: str, clean: np.ndarray, max_lag: int = 5) -> np.ndarray | None:
    """Return the exact noise autocovariance of a ``gaussian``, ``correlated`` or ``scintillator`` case (else None)."""
    from scipy.signal import fftconvolve

    from ..noise import correlated_noise_kernel, parse_noise

    if split_jitter(noise_spec)[0] is not None:
        return None
    models = parse_noise(noise_spec)
    if len(models) != 1:
        return None
    name, params = models[0].name, dict(models[0].params)
    out = np.zeros((2 * max_lag + 1, 2 * max_lag + 1))
    if name == "gaussian":
        out[max_lag, max_lag] = params["sigma"] ** 2
        return out
    if name not in ("correlated", "scintillator"):
        return None
    k = correlated_noise_kernel(params.get("rho", 0.4))
    if name == "scintillator":
        k = k / k.sum()
        variance = float(np.mean(clean)) / params["peak"]  # Poisson: mean / peak per pixel before spreading
    else:
        variance = params["sigma"] ** 2
    kk = fftconvolve(k, k[::-1, ::-1])
    c = kk.shape[0] // 2
    return variance * kk[c - max_lag:c + max_lag + 1, c - max_lag:c + max_lag + 1]


def run_method(method: str, noisy: Stack, *, time_budget_s: float, max_steps: int | None, seed: int,
               true_acov: np.ndarray | None, progress: Progress | None = None) -> tuple[Stack, str]:
    """Run one benchmark method (a registry name, ``auto`` or ``bm3d_true``); returns (denoised, auto's choice).

    Parameters
    ----------
    method : str
        Registry name, ``auto`` (chosen from the measured noise) or ``bm3d_true`` (BM3D given ``true_acov``).
    noisy : Stack
        The noisy scene.
    time_budget_s : float
        Training budget of the networks, seconds.
    max_steps : int, optional
        Training step cap.
    seed : int
        Training seed.
    true_acov : ndarray, optional
        The true noise autocovariance (``bm3d_true``).
    progress : callable, optional
        Receives the method's :class:`~operando.ProgressEvent` objects (it may raise :class:`~operando.Cancelled`).

    Returns
    -------
    tuple
        The denoised stack and, for ``auto``, the chosen method with its reason ('' otherwise).
    """
    from ..denoise import NEURAL, TrainConfig, choose_method, denoise, denoise_bm3d

    if method == "bm3d_true":
        return denoise_bm3d(noisy, autocovariance=true_acov, progress=progress), ""
    chosen, settings, diagnosis = "", {}, None
    if method == "auto":
        choice = choose_method(noisy)
        method, settings, chosen = choice.method, dict(choice.settings), f"{choice.method}: {choice.reason}"
        diagnosis = choice.diagnosis  # measured once: denoise() and training take it, never measure again
    if method not in NEURAL:
        return denoise(noisy, method=method, diagnosis=diagnosis, progress=progress), chosen
    steps = {"max_steps": max_steps} if max_steps is not None else {}
    config = TrainConfig(method=method, time_budget_s=time_budget_s, seed=seed, **steps, **settings)
    return denoise(noisy, config=config, diagnosis=diagnosis, progress=progress), chosen


def benchmark_correlated(
    output: str | Path,
    *,
    scenes: Sequence[str] = SCENES,
    noises: Sequence[str] = DEFAULT_NOISES,
    methods: Sequence[str] = DEFAULT_METHODS,
    size: int = 256,
    video_size: int = 128,
    n_frames: int = 50,
    time_budget_s: float = 300.0,
    max_steps: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[CorrelatedRow]:
    """Run every method on every scene and correlated-noise case; write CSV, JSON and a Markdown report.

    Parameters
    ----------
    output : path
        Folder for ``correlated_benchmark.csv``, ``.json`` and ``report.md``.
    scenes, noises, methods : sequence of str
        What to run (``video`` only runs on the video scene).
    size, video_size, n_frames : int
        Image side, video side and video frames.
    time_budget_s : float
        Training budget of every network, seconds.
    max_steps : int, optional
        Training step cap (equal steps rather than equal time when the CPU is shared).
    seed : int
        Seed of the scenes, the noise and the training.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops the
        run within a training step or an image (nothing is written before the end).

    Returns
    -------
    list of CorrelatedRow
    """
    from .. import metrics, noise

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[CorrelatedRow] = []
    jobs = [(s, n) for s in scenes for n in noises]
    total = len(jobs) * (len(methods) + 1)
    done = 0
    for scene_name, case in jobs:
        clean = scene(scene_name, size=size if scene_name == "camera" else video_size, n_frames=n_frames, rng=seed)
        noisy = corrupt_case(clean, case, rng=seed + 1)
        true_acov = true_autocovariance(case, clean.to_numpy())
        measured = noise.measure_noise_correlation(noisy)
        for method in ("noisy", *methods):
            done += 1
            if method in VIDEO_ONLY and scene_name != "cahn_hilliard" or (method == "bm3d_true" and true_acov is None):
                continue
            sub = sub_progress(progress, (done - 1) / total, done / total, f"{scene_name} {case}: {method}: ")
            emit(sub, 0.0, "starting")
            rows.append(_row(method, scene_name, case, clean, noisy, measured, time_budget_s=time_budget_s,
                             max_steps=max_steps, seed=seed, true_acov=true_acov, metrics=metrics, progress=sub))
            logger.info("%s", rows[-1])
    dicts = [r.to_dict() for r in rows]
    write_csv_file(out / "correlated_benchmark.csv", dicts)
    write_json_file(out / "correlated_benchmark.json", {"rows": dicts, "seed": seed, "time_budget_s": time_budget_s,
                                                         "max_steps": max_steps, "size": size,
                                                         "video_size": video_size, "n_frames": n_frames,
                                                         "versions": versions()})
    _write_report(out, dicts)
    return rows


def _row(method, scene_name, case, clean, noisy, measured, *, time_budget_s, max_steps, seed, true_acov,
         metrics, progress=None) -> CorrelatedRow:
    """Run and score one method."""
    t0 = time.perf_counter()
    chosen = ""
    try:
        result, chosen = (noisy, "") if method == "noisy" else run_method(
            method, noisy, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed, true_acov=true_acov,
            progress=progress)
    except ImportError as exc:
        logger.warning("skipping %s: %s", method, exc)
        return CorrelatedRow(scene_name, case, method, float("nan"), float("nan"), None, None, None, None, 0.0)
    seconds = time.perf_counter() - t0
    ev = metrics.evaluate(clean, {method: result}, data_range=1.0)[0]
    check = None if method == "noisy" else metrics.check_residual(noisy, result, noise=measured)
    if check is None:
        return CorrelatedRow(scene_name, case, method, ev.psnr_db, ev.ssim, None, None, None, None, seconds, chosen)
    return CorrelatedRow(
        scene_name, case, method, ev.psnr_db, ev.ssim, check.passed, check.variance_ratio, check.acf_mismatch,
        check.structure_corr, seconds, chosen, check.kept_noise, check.removed_signal, check.correlation_kept)


def _write_report(out: Path, dicts: list[dict[str, object]]) -> None:
    """Markdown table of the rows."""
    from ..report import Report

    rep = Report("operando correlated-noise benchmark")
    rep.text("PSNR/SSIM with data range 1 against the clean scene. residual_*: the no-clean-data check of "
             "noisy - denoised against a Wiener filter built from the measured noise spectrum "
             "(operando.metrics.check_residual): kept noise and removed signal in units of the noise power, "
             "the share of the noise's neighbour correlation the residual keeps.")
    rep.table(dicts)
    rep.write(out)
