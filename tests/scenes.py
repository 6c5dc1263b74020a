"""Textured clean scenes shared by the noise-measurement and auto-choice tests."""

import numpy as np
from scipy import ndimage


def labyrinth(n=96, width=6.0, seed=7):
    """Spinodal-like domains ~15 px wide with sharp walls (a Cahn-Hilliard frame's texture)."""
    z = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((n, n)), width, mode="wrap")
    return (0.5 + 0.4 * np.tanh(4 * z / z.std())).astype(np.float32)


def astronaut(n=256):
    """The astronaut photograph in grey, n x n."""
    from skimage import color, data
    from skimage.transform import resize

    return resize(color.rgb2gray(data.astronaut()), (n, n), anti_aliasing=True).astype(np.float32)


SCENES = {"labyrinth": labyrinth, "astronaut": astronaut}
