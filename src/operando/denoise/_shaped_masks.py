"""Blind spots shaped like the noise's correlation: structN2V generalised beyond whole rows.

A pixel-wise blind spot hides one pixel; when the noise of its neighbours is correlated with its own, the
network reads the hidden noise off the neighbours. Hiding a *footprint* instead (every pixel whose noise
correlates with the centre's by more than a threshold, as measured by
:func:`operando.noise.measure_noise_correlation`) removes that path:

* :func:`footprint_from_correlation` turns a measured 2-D autocorrelation into the footprint (the connected
  set of lags with correlation >= 0.1 around the centre), :func:`disc_footprint` gives a disc of radius r;
* :func:`shaped_blind_spot_mask` replaces, around each hidden pixel, every pixel of the footprint by a pixel
  drawn from just outside it, and scores the centre only (the image networks);
* :func:`carve_donut_hole` widens the video denoiser's donut (a convolution with a zero centre tap) to the
  footprint, so the target frame is seen only beyond the correlation length.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage


def disc_footprint(radius: int) -> np.ndarray:
    """Return a boolean disc of ``radius`` pixels (Euclidean), shape (2 radius + 1, 2 radius + 1).

    Parameters
    ----------
    radius : int
        0 gives the single centre pixel (plain N2V).

    Returns
    -------
    ndarray of bool
    """
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return yy**2 + xx**2 <= radius**2 + 0.5


def footprint_from_correlation(acf_2d: np.ndarray, *, threshold: float = 0.1) -> np.ndarray:
    """Return the lags a blind spot must hide: connected to the centre, noise correlation >= ``threshold``.

    Parameters
    ----------
    acf_2d : ndarray, shape (2L + 1, 2L + 1)
        Normalised 2-D autocorrelation of the noise, lag (0, 0) in the middle.
    threshold : float
        Correlation above which a neighbour would leak the hidden pixel's noise.

    Returns
    -------
    ndarray of bool, shape (2R + 1, 2R + 1)
        Symmetric footprint cropped to its extent R (the centre is always in it).
    """
    acf = np.asarray(acf_2d, np.float64)
    c = acf.shape[0] // 2
    strong = (acf >= threshold) | (acf[::-1, ::-1] >= threshold)
    strong[c, c] = True
    labels, _ = ndimage.label(strong)
    keep = labels == labels[c, c]
    rows = np.nonzero(keep.any(axis=1))[0]
    cols = np.nonzero(keep.any(axis=0))[0]
    r = int(max(c - rows.min(), rows.max() - c, c - cols.min(), cols.max() - c))
    return keep[c - r:c + r + 1, c - r:c + r + 1]


def shaped_blind_spot_mask(
    images: torch.Tensor,
    *,
    fraction: float,
    generator: torch.Generator,
    footprint: np.ndarray,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide a random ``fraction`` of pixels together with their footprint; return (masked images, scored mask).

    Parameters
    ----------
    images : tensor, shape (B, C, H, W)
        Training patches.
    fraction : float
        Share of pixels hidden and scored.
    generator : torch.Generator
        Draws the hidden pixels and their replacements.
    footprint : ndarray of bool, shape (2R + 1, 2R + 1)
        Offsets hidden around each scored pixel (centre included).

    Returns
    -------
    masked : tensor, shape (B, C, H, W)
        Every footprint pixel replaced by a pixel drawn from a ring 1-2 pixels outside the footprint's extent.
    mask : tensor of bool, shape (B, 1, H, W)
        The scored (centre) pixels.
    """
    b, _, h, w = images.shape
    device = images.device
    r = footprint.shape[0] // 2
    n_hidden = max(1, int(round(fraction * h * w)))
    ys = torch.randint(0, h, (b, n_hidden), generator=generator).to(device)
    xs = torch.randint(0, w, (b, n_hidden), generator=generator).to(device)
    bi = torch.arange(b, device=device)[:, None].expand(b, n_hidden)
    masked = images.clone()
    ring = [(dy, dx) for dy in range(-r - 2, r + 3) for dx in range(-r - 2, r + 3) if max(abs(dy), abs(dx)) > r]
    ring_t = torch.tensor(ring, device=device)
    for oy, ox in zip(*np.nonzero(footprint), strict=True):
        ty = (ys + int(oy) - r).clamp(0, h - 1)
        tx = (xs + int(ox) - r).clamp(0, w - 1)
        pick = ring_t[torch.randint(0, len(ring), (b, n_hidden), generator=generator).to(device)]
        sy = (ys + pick[..., 0]).clamp(0, h - 1)
        sx = (xs + pick[..., 1]).clamp(0, w - 1)
        masked[bi, :, ty, tx] = images[bi, :, sy, sx]
    mask = torch.zeros((b, 1, h, w), dtype=torch.bool, device=device)
    mask[bi, 0, ys, xs] = True
    return masked, mask


def carve_donut_hole(hole: torch.Tensor, footprint: np.ndarray) -> torch.Tensor:
    """Zero the donut kernel's taps inside ``footprint`` (centred); return the same tensor, changed in place.

    Parameters
    ----------
    hole : tensor, shape (1, 1, k, k)
        The donut convolution's multiplicative tap mask (1 = seen).
    footprint : ndarray of bool, shape (2R + 1, 2R + 1), 2R + 1 <= k
        Offsets the kernel must not see.

    Returns
    -------
    tensor
        ``hole``.
    """
    k = hole.shape[-1]
    r = footprint.shape[0] // 2
    if 2 * r + 1 > k:
        raise ValueError(f"a footprint of radius {r} does not fit a {k} x {k} donut; use donut_size >= {2 * r + 3}")
    c = k // 2
    window = hole[..., c - r:c + r + 1, c - r:c + r + 1]
    window[..., torch.from_numpy(footprint)] = 0.0
    return hole


def square_footprint(radius: int) -> np.ndarray:
    """Return a (2 radius + 1)^2 square of True: every lag within ``radius`` pixels (Chebyshev).

    Parameters
    ----------
    radius : int
        0 gives the single centre pixel.

    Returns
    -------
    ndarray of bool
    """
    return np.ones((2 * radius + 1, 2 * radius + 1), bool)
