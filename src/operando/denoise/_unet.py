"""Small U-Nets for CPU-first training: the video denoiser and the Noise2Void family (plain nn.Modules).

Also where they run: :func:`build_model` (seeded weights), :func:`pick_device`, :func:`memory_format`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._errors import InputError
from ._config import TrainConfig
from ._methods import method_entry


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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last decoder level's features (``base`` channels at full resolution), before the head."""
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
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DonutConv(nn.Module):
    """A k x k convolution whose centre tap is always zero: its output at a pixel never sees that pixel."""

    def __init__(self, cin: int, cout: int, size: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, size, padding=size // 2)
        hole = torch.ones(1, 1, size, size)
        hole[..., size // 2, size // 2] = 0.0
        self.register_buffer("hole", hole, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv.weight * self.hole, self.conv.bias, padding=self.conv.padding)


class VideoDenoiser(nn.Module):
    """Predict frame t from its 2k neighbours (frame t hidden): temporal masking, UMVD family.

    Input channels are the neighbours' channels in time order, then (with a blind spot) the target frame.

    * ``blind_spot="donut"`` (default): the target frame goes through one convolution whose centre tap is
      zero, and is then fused with the U-Net's features by 1 x 1 convolutions only, so the output at a pixel
      sees the target frame's surroundings but never that pixel (J-invariant in one pass; every pixel scored).
    * ``blind_spot="checkerboard"``: the target frame is shown with one parity of pixels zeroed plus the mask
      as a channel; inference takes two passes.
    * ``None``: the target frame is not shown at all.

    The output is the mean of the two nearest neighbours plus a learned correction.
    """

    def __init__(self, n_neighbours: int, channels: int, *, base: int = 32, depth: int = 2,
                 blind_spot: str | None = None, donut_size: int = 5) -> None:
        super().__init__()
        if blind_spot not in (None, "donut", "checkerboard"):
            raise ValueError(f"unknown blind spot {blind_spot!r}")
        self.n_neighbours = n_neighbours
        self.channels = channels
        self.blind_spot = blind_spot
        extra = channels + 1 if blind_spot == "checkerboard" else 0
        self.unet = UNet(n_neighbours * channels + extra, channels, base=base, depth=depth)
        if blind_spot == "donut":
            self.donut = DonutConv(channels, base, donut_size)
            self.fuse = nn.Sequential(
                nn.Conv2d(2 * base, base, 1), nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(base, channels, 1),
            )

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return self.unet.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, half = self.channels, self.n_neighbours // 2
        nearest = 0.5 * (x[:, (half - 1) * c: half * c] + x[:, half * c: (half + 1) * c])
        if self.blind_spot != "donut":
            return nearest + self.unet(x)
        n_in = self.n_neighbours * c
        feats = self.unet.features(x[:, :n_in])
        around = F.leaky_relu(self.donut(x[:, n_in:n_in + c] - nearest), 0.1)
        return nearest + self.fuse(torch.cat([feats, around], dim=1))


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


def build_model(config: TrainConfig, channels: int) -> nn.Module:
    """Create the network for ``config`` with weights seeded by ``config.seed`` (no global seeding).

    Parameters
    ----------
    config : TrainConfig
        The run's settings; ``seed`` must be concrete.
    channels : int
        Channels of the data (1, or 3 for RGB).

    Returns
    -------
    torch.nn.Module
        A :class:`VideoDenoiser` or :class:`ImageDenoiser`.
    """
    if config.seed is None:
        raise InputError("build_model needs a concrete config.seed, got None; set seed=... in the TrainConfig")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if method_entry(config.method).network == "video":
            model = VideoDenoiser(config.frames - 1, channels, base=config.base, depth=config.depth,
                                  blind_spot=config.blind_spot_kind if config.blind_spot else None,
                                  donut_size=config.donut_size)
            if config.blind_spot and config.blind_spot_kind == "donut" and config.blind_spot_radius_px:
                from ._shaped_masks import carve_donut_hole, square_footprint

                carve_donut_hole(model.donut.hole, square_footprint(config.blind_spot_radius_px))
            return model
        return ImageDenoiser(channels, base=config.base, depth=config.depth,
                             n2v2=method_entry(config.method).network == "n2v2")


def memory_format(dev: torch.device) -> torch.memory_format:
    """Choose channels-last on CPU (1.2-1.7x faster convolutions there), the default layout elsewhere.

    Parameters
    ----------
    dev : torch.device
        Where the network runs.

    Returns
    -------
    torch.memory_format
        The layout to use.
    """
    return torch.channels_last if dev.type == "cpu" else torch.contiguous_format


def pick_device(device: str) -> torch.device:
    """Resolve ``auto`` to CUDA when available, else CPU; refuse CUDA when there is none.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        The device asked for.

    Returns
    -------
    torch.device
        The device to use.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device='cuda' was asked for but no CUDA GPU is visible; use device='cpu' or 'auto'")
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    return torch.device(device)
