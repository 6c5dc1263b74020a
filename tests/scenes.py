"""Textured clean scenes and truths shared by the tests (noise measurement, auto choice, physics fits)."""

import numpy as np
from scipy import ndimage

#: ln D = CH_TRUTH_SLOPE (2c - 1) in the Cahn-Hilliard truth video (the ``truth_video`` fixture of conftest.py)
CH_TRUTH_SLOPE = 0.5


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
