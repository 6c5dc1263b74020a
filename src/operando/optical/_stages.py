"""Stage classification of graphite pixels in CIELAB, with an unknown class, confidence and hysteresis.

Each stage is a Gaussian in (L*, a*, b*): its mean is given (a colour, or a region of a reference frame) or
learned from the video (a mixture fitted by EM, the components ordered by the known sequence III -> II -> I:
by the mean time at which their pixels are seen). A pixel takes the stage of highest posterior; it is
``unknown`` when it is far from every stage (Mahalanobis distance beyond ``max_distance``). A plating class
exists only when its colour is given (reported, never guessed). Temporal hysteresis: a pixel changes stage only
when the new stage's posterior reaches ``switch_confidence``; below it the pixel keeps its stage (flicker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._errors import InputError

#: Codes written in ``stages.tif``.
STAGE_CODES: dict[str, int] = {"background": 0, "III": 1, "II": 2, "I": 3, "plating": 4, "unknown": 255}
#: What each code means (written in the metadata of ``stages.tif``).
STAGE_LEGEND: dict[int, str] = {0: "background", 1: "stage III (LiC18, blue)", 2: "stage II (LiC12, red)",
                                3: "stage I (LiC6, gold)", 4: "plating (metallic Li)", 255: "unknown"}
#: Default state of charge x in Li_x C6 of each stage: ideal LiC18, LiC12, LiC6.
DEFAULT_CBAR: dict[str, float] = {"III": 1 / 3, "II": 1 / 2, "I": 1.0}
STAGE_ORDER = ("III", "II", "I")


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB in [0, 1] (values outside are clipped for the conversion) to CIELAB (D65), float32.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3)
        RGB values.

    Returns
    -------
    ndarray, shape (..., 3)
        L* (0..100), a*, b*.
    """
    from skimage.color import rgb2lab

    return rgb2lab(np.clip(rgb, 0.0, 1.0), channel_axis=-1).astype(np.float32)


@dataclass(frozen=True)
class StageModel:
    """Gaussian stage colours in CIELAB.

    Attributes
    ----------
    names : tuple of str
        Stage names (``"III"``, ``"II"``, ``"I"``, optionally ``"plating"``).
    means : ndarray, shape (K, 3)
        Lab means.
    covariances : ndarray, shape (K, 3, 3)
        Lab covariances.
    weights : ndarray, shape (K,)
        Mixture weights.
    source : str
        ``learned``, ``given`` or ``reference``.
    """

    names: tuple[str, ...]
    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray
    source: str

    def to_dict(self) -> dict:
        """Return the model as JSON-ready lists."""
        return {"names": list(self.names), "lab_means": self.means.round(3).tolist(),
                "lab_covariances": self.covariances.round(4).tolist(), "weights": self.weights.round(4).tolist(),
                "source": self.source}


def _log_gauss(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return log N(x | mean_k, cov_k) and the squared Mahalanobis distances, both shape (N, K)."""
    n, k = x.shape[0], means.shape[0]
    logp, d2 = np.empty((n, k)), np.empty((n, k))
    for j in range(k):
        precision = np.linalg.inv(covs[j])
        d = x - means[j]
        d2[:, j] = np.einsum("ni,ij,nj->n", d, precision, d, optimize=True)
        logp[:, j] = -0.5 * d2[:, j] - 0.5 * np.linalg.slogdet(covs[j])[1] - 1.5 * np.log(2 * np.pi)
    return logp, d2


def _em(x: np.ndarray, means: np.ndarray, *, fixed_means: bool, n_iter: int, tied: bool = True
        ) -> tuple[np.ndarray, ...]:
    """Fit a Gaussian mixture by EM from initial means; return means, covariances, weights.

    ``tied``: one covariance shared by the components (their weighted mean), else one full covariance each.
    """
    k = means.shape[0]
    covs = np.repeat((np.cov(x.T) / k + 4.0 * np.eye(3))[None], k, axis=0)
    weights = np.full(k, 1.0 / k)
    for _ in range(n_iter):
        logp, _ = _log_gauss(x, means, covs)
        logp += np.log(weights)
        resp = np.exp(logp - logp.max(1, keepdims=True))
        resp /= resp.sum(1, keepdims=True)
        nk = resp.sum(0) + 1e-9
        weights = nk / nk.sum()
        if not fixed_means:
            means = (resp.T @ x) / nk[:, None]
        for j in range(k):
            d = x - means[j]
            covs[j] = (resp[:, j, None] * d).T @ d / nk[j] + 0.5 * np.eye(3)
        if tied:
            covs[:] = (covs * weights[:, None, None]).sum(0)
    return means, covs, weights


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, n_iter: int = 30) -> np.ndarray:
    """Return k-means++ centres of the rows of ``x``."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        if not d2.sum() > 0:  # every sample is one of the centres already: fewer distinct colours than stages
            raise InputError(f"the particles show {len(centres)} distinct colour(s), too few to learn {k} stage "
                             "colours; give the stage colours (--stages stages.json) or check the video")
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    c = np.array(centres)
    for _ in range(n_iter):
        assign = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        c = np.array([x[assign == j].mean(0) if np.any(assign == j) else c[j] for j in range(k)])
    return c


def fit_stage_model(
    lab: np.ndarray,
    times: np.ndarray,
    *,
    given: dict[str, np.ndarray] | None = None,
    n_iter: int = 40,
    rng: int | np.random.Generator | None = None,
    covariance: Literal["tied", "full"] = "tied",
) -> StageModel:
    """Fit the stage colours to particle pixels: learned (ordered III -> II -> I in time) or around given means.

    Parameters
    ----------
    lab : ndarray, shape (N, 3)
        CIELAB values of particle pixels sampled over the video.
    times : ndarray, shape (N,)
        Frame index of each sample.
    given : dict, optional
        Stage name -> Lab mean (names from ``III``, ``II``, ``I``, ``plating``). The means stay fixed; the
        spreads are fitted. Without it, three stages are learned.
    n_iter : int
        EM iterations.
    rng : int or Generator, optional
        Seed of the k-means++ start (learned stages only).
    covariance : {"tied", "full"}
        ``tied``: one colour covariance shared by the stages (the camera noise and the texture within a stage
        are alike for all of them); ``full``: one per stage. With full covariances, a thin stage II ring (few
        pixels, a narrow spread once the frames are denoised) gets a small component, and stages III and I take
        its pixels: on the benchmark phantom stage accuracy after denoising was 0.927-0.944 with full and
        0.952-0.955 with tied covariances (raw frames 0.961 / 0.959).

    Returns
    -------
    StageModel
        The stage Gaussians.
    """
    if covariance not in ("tied", "full"):
        raise InputError(f"stage covariance {covariance!r}: use 'tied' or 'full'")
    x = np.asarray(lab, np.float64)
    if x.shape[0] < 30:
        raise InputError(f"only {x.shape[0]} particle pixels to learn stage colours from; check the segmentation "
                         "found particles (or give --stages)")
    if given:
        bad = sorted(set(given) - set(STAGE_CODES) - {"background", "unknown"})
        if bad or {"background", "unknown"} & set(given):
            raise InputError(f"unknown stage name(s) {bad or sorted({'background', 'unknown'} & set(given))} in "
                             "the stage colours; use III, II, I and plating")
        names = tuple(n for n in ("III", "II", "I", "plating") if n in given)
        means = np.array([np.asarray(given[n], float) for n in names])
        means, covs, weights = _em(x, means, fixed_means=True, n_iter=n_iter, tied=covariance == "tied")
        return StageModel(names, means, covs, weights, "given")
    gen = np.random.default_rng(rng)
    start = _kmeans(x, 3, gen)
    means, covs, weights = _em(x, start, fixed_means=False, n_iter=n_iter, tied=covariance == "tied")
    logp, _ = _log_gauss(x, means, covs)
    assign = np.argmax(logp + np.log(weights), axis=1)
    mean_time = np.array([times[assign == j].mean() if np.any(assign == j) else np.inf for j in range(3)])
    order = np.argsort(mean_time)
    return StageModel(STAGE_ORDER, means[order], covs[order], weights[order], "learned")


def classify_pixels(lab: np.ndarray, model: StageModel, *, max_distance: float = 4.5) -> tuple[np.ndarray, ...]:
    """Classify Lab pixels: stage codes (255 = unknown) and the posterior of the chosen stage.

    Parameters
    ----------
    lab : ndarray, shape (N, 3)
        CIELAB values.
    model : StageModel
        The stage Gaussians.
    max_distance : float
        Pixels farther than this many standard deviations (Mahalanobis) from every stage are unknown.

    Returns
    -------
    codes : ndarray of uint8, shape (N,)
        Stage codes (:data:`STAGE_CODES`).
    confidence : ndarray of float32, shape (N,)
        Posterior probability of the chosen stage (0 for unknown pixels).
    """
    logp, d2 = _log_gauss(np.asarray(lab, np.float64), model.means, model.covariances)
    logp += np.log(model.weights)
    post = np.exp(logp - logp.max(1, keepdims=True))
    post /= post.sum(1, keepdims=True)
    best = np.argmax(post, axis=1)
    lut = np.array([STAGE_CODES[n] for n in model.names], np.uint8)
    codes = lut[best]
    conf = post[np.arange(len(best)), best].astype(np.float32)
    far = d2.min(1) > max_distance**2
    codes[far] = STAGE_CODES["unknown"]
    conf[far] = 0.0
    return codes, conf


def apply_hysteresis(codes: np.ndarray, confidence: np.ndarray, *, switch_confidence: float = 0.9) -> np.ndarray:
    """Suppress flicker: a pixel changes stage only on a confident frame; otherwise it keeps its last stage.

    Parameters
    ----------
    codes : ndarray of uint8, shape (T, ...)
        Stage codes per frame (0 background, 255 unknown).
    confidence : ndarray, shape (T, ...)
        Posterior of each code.
    switch_confidence : float
        Posterior needed to change from one stage to another.

    Returns
    -------
    ndarray of uint8, shape (T, ...)
        The smoothed codes. Background stays background; a pixel with no stage yet takes any code.
    """
    out = codes.copy()
    unknown, background = STAGE_CODES["unknown"], STAGE_CODES["background"]
    for t in range(1, codes.shape[0]):
        prev, new = out[t - 1], codes[t]
        has_prev = (prev != background) & (prev != unknown)
        keep = has_prev & (new != background) & (new != prev) & (confidence[t] < switch_confidence)
        out[t] = np.where(keep, prev, new)
    return out
