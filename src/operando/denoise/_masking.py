"""Blind-spot masking for self-supervised training: N2V pixel masks, N2V2 median fill, structN2V line masks."""

from __future__ import annotations

import torch


def blind_spot_mask(
    images: torch.Tensor,
    *,
    fraction: float,
    generator: torch.Generator,
    radius: int = 2,
    replacement: str = "neighbour",
    line_width: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide a random ``fraction`` of pixels; return (masked images, mask of hidden pixels).

    Parameters
    ----------
    images : tensor, shape (B, C, H, W)
    fraction : float
        Share of pixels hidden (the loss is computed on them only).
    replacement : {"neighbour", "median"}
        Fill a hidden pixel with a random pixel of its (2 radius + 1)^2 neighbourhood, never itself (N2V),
        or with the median of that neighbourhood without the centre (N2V2).
    line_width : int
        structN2V: also overwrite this many pixels on each side along X (rows) with pixels of other rows, so
        noise correlated along a scan line cannot leak the hidden value. ``-1`` hides whole rows: every pixel
        of a hidden row is then a training target, since nothing of that row's noise is visible.
    generator : torch.Generator
        Source of the random positions and replacements.
    radius : int
        Half-width of the neighbourhood replacements come from.

    Returns
    -------
    masked : tensor, shape (B, C, H, W)
        The images with the hidden pixels replaced.
    mask : tensor of bool, shape (B, 1, H, W)
        The hidden (scored) pixels.
    """
    b, c, h, w = images.shape
    device = images.device
    if line_width < 0:
        return _row_mask(images, fraction=fraction, generator=generator, radius=radius)
    n_hidden = max(1, int(round(fraction * h * w)))
    ys = torch.randint(0, h, (b, n_hidden), generator=generator).to(device)
    xs = torch.randint(0, w, (b, n_hidden), generator=generator).to(device)
    bi = torch.arange(b, device=device)[:, None].expand(b, n_hidden)
    masked = images.clone()
    if replacement == "median":
        offs = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if dy or dx]
        vals = torch.stack([
            images[bi, :, (ys + dy).clamp(0, h - 1), (xs + dx).clamp(0, w - 1)] for dy, dx in offs
        ], dim=-1)
        fill = vals.median(dim=-1).values
    else:
        dy = torch.randint(-radius, radius + 1, (b, n_hidden), generator=generator).to(device)
        dx = torch.randint(-radius, radius + 1, (b, n_hidden), generator=generator).to(device)
        centre = (dy == 0) & (dx == 0)
        dx = torch.where(centre, torch.ones_like(dx), dx)  # never copy the pixel itself
        fill = images[bi, :, (ys + dy).clamp(0, h - 1), (xs + dx).clamp(0, w - 1)]
    if line_width:
        span = range(-(w - 1), w) if line_width < 0 else range(-line_width, line_width + 1)
        for off in span:
            if off == 0:
                continue
            xo = xs + off
            valid = (xo >= 0) & (xo < w)
            ry = (ys + torch.randint(-radius - 1, radius + 2, ys.shape, generator=generator).to(device)).clamp(0, h - 1)
            ry = torch.where(ry == ys, (ys + radius + 1).clamp(max=h - 1), ry)  # another row: not the same line
            rx = torch.randint(0, w, ys.shape, generator=generator).to(device)
            src = images[bi, :, ry, rx]
            cur = masked[bi, :, ys, xo.clamp(0, w - 1)]
            masked[bi, :, ys, xo.clamp(0, w - 1)] = torch.where(valid[..., None], src, cur)
    masked[bi, :, ys, xs] = fill
    mask = torch.zeros((b, 1, h, w), dtype=torch.bool, device=device)
    mask[bi, 0, ys, xs] = True
    return masked, mask


def _row_mask(
    images: torch.Tensor, *, fraction: float, generator: torch.Generator, radius: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide whole rows (scan lines): each is replaced by a nearby row; all its pixels become targets."""
    b, _, h, w = images.shape
    device = images.device
    n_rows = max(1, min(h // 4, round(4 * fraction * h)))
    rows = torch.stack([torch.randperm(h, generator=generator)[:n_rows] for _ in range(b)]).to(device)
    shift = torch.randint(1, radius + 2, rows.shape, generator=generator).to(device)
    sign = torch.where(torch.rand(rows.shape, generator=generator).to(device) < 0.5, -1, 1)
    src = rows + sign * shift
    src = torch.where((src < 0) | (src >= h), rows - sign * shift, src).clamp(0, h - 1)
    bi = torch.arange(b, device=device)[:, None].expand_as(rows)
    masked = images.clone()
    masked[bi, :, rows, :] = images[bi, :, src, :]
    mask = torch.zeros((b, 1, h, w), dtype=torch.bool, device=device)
    mask[bi, 0, rows, :] = True
    return masked, mask


def checkerboard(height: int, width: int, parity: torch.Tensor) -> torch.Tensor:
    """Return checkerboard masks of shape (B, 1, H, W): True where (y + x) % 2 == parity[b].

    Parameters
    ----------
    height, width : int
        Frame size in pixels.
    parity : tensor of int, shape (B,)
        Which parity each mask marks (0 or 1).

    Returns
    -------
    tensor of bool, shape (B, 1, H, W)
        The masks.
    """
    yy = torch.arange(height)[:, None]
    xx = torch.arange(width)[None, :]
    board = ((yy + xx) % 2)[None, None]
    return board == parity.view(-1, 1, 1, 1)


def hide_checkerboard(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the masked pixels and append the mask as a channel.

    Parameters
    ----------
    frames : tensor, shape (B, C, H, W)
        The target frames.
    mask : tensor of bool, shape (B, 1, H, W)
        The hidden pixels (:func:`checkerboard`).

    Returns
    -------
    tensor, shape (B, C + 1, H, W)
        The frames with the hidden pixels zeroed, then the mask.
    """
    return torch.cat([frames * (~mask), mask.to(frames.dtype)], dim=1)
