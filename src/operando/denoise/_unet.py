"""Small U-Nets for CPU-first training: the video denoiser and the Noise2Void family (plain nn.Modules)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
    )


class BlurPool(nn.Module):
    """Anti-aliased 2x downsampling (binomial blur, then stride 2), as N2V2 uses against checkerboards."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = (k[:, None] * k[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone())
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.kernel, stride=2, groups=self.channels)


class UNet(nn.Module):
    """A ``depth``-level U-Net; ``blurpool`` and ``top_skip=False`` give the N2V2 variant."""

    def __init__(
        self, in_channels: int, out_channels: int, *, base: int = 32, depth: int = 2,
        blurpool: bool = False, top_skip: bool = True,
    ) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.top_skip = top_skip
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        cin = in_channels
        for i in range(depth):
            self.enc.append(_block(cin, widths[i]))
            self.down.append(BlurPool(widths[i]) if blurpool else nn.MaxPool2d(2))
            cin = widths[i]
        self.bottom = _block(cin, widths[depth])
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            skip = widths[i] if (i > 0 or top_skip) else 0
            self.dec.append(_block(widths[i + 1] + skip, widths[i]))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc, down in zip(self.enc, self.down, strict=True):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.bottom(x)
        for level, dec in zip(reversed(range(self.depth)), self.dec, strict=True):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if level > 0 or self.top_skip:
                x = torch.cat([x, skips[level]], dim=1)
            x = dec(x)
        return self.head(x)


class VideoDenoiser(nn.Module):
    """Predict frame t from its 2k neighbours (frame t hidden): temporal masking, UMVD family.

    Input channels are the neighbours' channels in time order, optionally followed by the target frame with a
    checkerboard blind spot (one parity of pixels zeroed) and the mask itself, so that single-frame events can
    be kept. The output is the mean of the two nearest neighbours plus a learned correction.
    """

    def __init__(self, n_neighbours: int, channels: int, *, base: int = 32, depth: int = 2,
                 blind_spot: bool = False) -> None:
        super().__init__()
        self.n_neighbours = n_neighbours
        self.channels = channels
        self.blind_spot = blind_spot
        extra = channels + 1 if blind_spot else 0
        self.unet = UNet(n_neighbours * channels + extra, channels, base=base, depth=depth)

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return self.unet.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, half = self.channels, self.n_neighbours // 2
        nearest = 0.5 * (x[:, (half - 1) * c: half * c] + x[:, half * c: (half + 1) * c])
        return nearest + self.unet(x)


class ImageDenoiser(nn.Module):
    """Blind-spot image denoiser (Noise2Void, N2V2, structN2V): a U-Net from the masked image."""

    def __init__(self, channels: int, *, base: int = 32, depth: int = 2, n2v2: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.unet = UNet(channels, channels, base=base, depth=depth, blurpool=n2v2, top_skip=not n2v2)

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return self.unet.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # no residual link: it would teach the network to trust the (hidden) centre pixel's value
        return self.unet(x)
