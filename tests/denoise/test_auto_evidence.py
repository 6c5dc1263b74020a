"""method="auto" leaves the pixel-wise blind spot only on evidence: textured white-noise images stay with n2v2.

Before the flat-patch measurement, `auto` sent a white-noise Cahn-Hilliard frame (read at rho1 0.21) and the
astronaut (0.15) to pixel_shuffle, which lost 0.5-23 dB there.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from operando.denoise import choose_method
from operando.noise import add_correlated_noise, add_poisson_noise

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "neutron" / "stepwedge"


def _labyrinth(n=96, width=6.0, seed=7):
    z = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((n, n)), width, mode="wrap")
    return (0.5 + 0.4 * np.tanh(4 * z / z.std())).astype(np.float32)


def _astronaut(n=256):
    from skimage import color, data
    from skimage.transform import resize

    return resize(color.rgb2gray(data.astronaut()), (n, n), anti_aliasing=True).astype(np.float32)


SCENES = {"labyrinth": _labyrinth, "astronaut": _astronaut}


@pytest.mark.parametrize("scene", SCENES)
def test_white_noise_on_texture_stays_with_the_pixel_blind_spot(scene):
    clean = SCENES[scene]()
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape).astype(np.float32)
    choice = choose_method(noisy)
    assert choice.method == "n2v2", choice.reason
    assert "+-" in choice.reason  # the measurement's error is printed with it
    assert choose_method(add_poisson_noise(clean, peak=30, rng=0)).method == "n2v2"


@pytest.mark.parametrize("scene", SCENES)
def test_psf_noise_on_texture_goes_to_a_correlated_scheme(scene):
    choice = choose_method(add_correlated_noise(SCENES[scene](), sigma=0.1, rho=0.4, rng=1))
    assert choice.method == "pixel_shuffle", choice.reason


def test_real_radiograph_goes_to_a_correlated_scheme():
    if not DATA.is_dir():
        pytest.skip("shared data folder not present")
    import tifffile

    def read(name):
        a = tifffile.imread(DATA / name).astype(np.float64)
        med = ndimage.median_filter(a, 3)
        return np.where(a - med > 5 * np.std(a - med), med, a)  # gamma spots

    dark = read("exp5s_dc.tif")
    transmission = (read("exp5s_h2o.tif") - dark) / (read("exp5s_ob.tif") - dark)
    cy, cx = transmission.shape[0] // 2, transmission.shape[1] // 2
    choice = choose_method(transmission[cy - 192:cy + 192, cx - 192:cx + 192].astype(np.float32))
    assert choice.method == "pixel_shuffle", choice.reason
