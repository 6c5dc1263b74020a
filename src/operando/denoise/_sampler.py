"""Training and validation batches: random patches, augmentation, and each method's masking."""

from __future__ import annotations

import torch

from .._errors import InputError
from ._config import TrainConfig, augment_rotates, patch_shape
from ._masking import blind_spot_mask, checkerboard, hide_checkerboard
from ._preprocess import neighbour_indices


class Sampler:
    """Draws training and validation batches from the working array (B, S, C, Y, X)."""

    def __init__(self, data: torch.Tensor, config: TrainConfig, generator: torch.Generator,
                 targets: torch.Tensor | None = None, context: torch.Tensor | None = None,
                 shown: torch.Tensor | None = None, valid: torch.Tensor | None = None) -> None:
        self.data = data
        self.valid = None if targets is not None else valid  # loss pixels (False: impulses), or None for all
        self.context = data if context is None else context  # what the neighbour frames show
        self.shown = data if shown is None else shown  # what the donut sees of the target frame
        self.targets = data if targets is None else targets
        self.supervised = targets is not None
        self.cfg = config
        self.gen = generator
        n_b, n_s, _, h, w = data.shape
        self.patch_h, self.patch_w = patch_shape(config, h, w)
        self.rotate = augment_rotates(config, h, w)
        mult = 2**config.depth
        if self.patch_h < mult or self.patch_w < mult:
            raise InputError(f"images of {h} x {w} pixels are too small for this network; need >= {mult} x {mult}")
        self.half = config.frames // 2
        if config.method == "video":
            targets = [(b, t) for b in range(n_b) for t in range(n_s)]
        else:
            targets = [(b, s) for b in range(n_b) for s in range(n_s)]
        # hold out every 10th frame (or image) as validation targets when there are enough
        if len(targets) >= 10:
            self.val_targets = targets[5::10]
            self.train_targets = [tg for i, tg in enumerate(targets) if (i - 5) % 10 != 0]
        else:
            self.val_targets = targets
            self.train_targets = targets

    def _crop(self, b: int, s: int, y: int, x: int) -> tuple[torch.Tensor, ...]:
        """(network inputs, loss target, noisy target frame as the network may see it, loss pixels) of a patch."""
        ph, pw = self.patch_h, self.patch_w
        noisy = self.data[b, s, :, y:y + ph, x:x + pw]
        if self.cfg.method == "video" and self.cfg.blind_spot_kind == "donut":
            noisy = self.shown[b, s, :, y:y + ph, x:x + pw]
        target = self.targets[b, s, :, y:y + ph, x:x + pw]
        if self.cfg.method == "video":
            idx = neighbour_indices(s, self.data.shape[1], self.half)
            inputs = self.context[b, idx, :, y:y + ph, x:x + pw].reshape(-1, ph, pw)
        else:
            inputs = noisy
        valid = self.valid[b, s, :, y:y + ph, x:x + pw] if self.valid is not None else torch.ones((), dtype=bool)
        return inputs, target, noisy, valid

    def batch(self, targets: list[tuple[int, int]], gen: torch.Generator, augment: bool):
        """Return (inputs, targets, loss mask or None) for one batch."""
        _, _, _, h, w = self.data.shape
        picks = torch.randint(0, len(targets), (self.cfg.batch,), generator=gen).tolist()
        ys = torch.randint(0, h - self.patch_h + 1, (self.cfg.batch,), generator=gen).tolist()
        xs = torch.randint(0, w - self.patch_w + 1, (self.cfg.batch,), generator=gen).tolist()
        crops = [self._crop(*targets[p], y, x) for p, y, x in zip(picks, ys, xs, strict=True)]
        inputs, target, centre, valid = (torch.stack([c[i] for c in crops]) for i in range(4))
        if augment:
            flips = torch.randint(0, 2, (2,), generator=gen).tolist()
            dims = [d for d, f in zip((-2, -1), flips, strict=True) if f]
            if dims:
                inputs, target, centre = inputs.flip(dims), target.flip(dims), centre.flip(dims)
                valid = valid.flip(dims) if self.valid is not None else valid
            if self.rotate:
                k = int(torch.randint(0, 4, (1,), generator=gen))
                inputs, target, centre = (torch.rot90(t, k, (-2, -1)) for t in (inputs, target, centre))
                valid = torch.rot90(valid, k, (-2, -1)) if self.valid is not None else valid
        valid = valid if self.valid is not None else None
        inputs, mask = self._hide(inputs, target, centre, gen)
        if valid is not None:
            mask = valid if mask is None else mask & valid
        return inputs, target, mask

    def _hide(self, inputs, target, centre, gen):
        """(network inputs, mask of the scored pixels or None for all) under the method's masking."""
        if self.cfg.method == "video":
            if not self.cfg.blind_spot:
                return inputs, None
            if self.cfg.blind_spot_kind == "donut":  # the network itself never sees the scored pixel
                return torch.cat([inputs, centre], dim=1), None
            # J-invariant checkerboard: half of the target frame is hidden, and only that half is scored
            parity = torch.randint(0, 2, (inputs.shape[0],), generator=gen)
            mask = checkerboard(target.shape[-2], target.shape[-1], parity)
            return torch.cat([inputs, hide_checkerboard(centre, mask)], dim=1), mask
        if self.supervised:
            return inputs, None
        if self.cfg.method == "shaped":  # the scored pixel and its correlated neighbours hidden together
            from ._shaped_masks import shaped_blind_spot_mask, square_footprint

            return shaped_blind_spot_mask(inputs, fraction=self.cfg.mask_fraction, generator=gen,
                                          footprint=square_footprint(self.cfg.blind_spot_radius_px or 0))
        line = self.cfg.line_width if self.cfg.method == "structn2v" else 0
        return blind_spot_mask(inputs, fraction=self.cfg.mask_fraction, generator=gen,
                               replacement="median" if self.cfg.method == "n2v2" else "neighbour",
                               line_width=line)
