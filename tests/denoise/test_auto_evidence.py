"""method="auto" leaves the pixel-wise blind spot only on evidence: textured white-noise images stay with n2v2.

Before the flat-patch measurement, `auto` sent a white-noise Cahn-Hilliard frame (read at rho1 0.21) and the
astronaut (0.15) to pixel_shuffle, which lost 0.5-23 dB there.
"""

from pathlib import Path

import numpy as np
import pytest

from operando.denoise import choose_method
from operando.denoise._bm3d import bm3d_available
from operando.noise import add_correlated_noise, add_poisson_noise
from tests.scenes import SCENES

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "neutron" / "stepwedge"


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
    assert choice.method == ("bm3d_refine" if bm3d_available() else "pixel_shuffle"), choice.reason


def test_real_radiograph_goes_to_a_correlated_scheme():
    if not DATA.is_dir():
        pytest.skip("shared data folder not present")
    from operando.neutron import read_normalized

    transmission = read_normalized(*(DATA / f"exp5s_{k}.tif" for k in ("h2o", "ob", "dc"))).stack.to_numpy()
    cy, cx = transmission.shape[0] // 2, transmission.shape[1] // 2
    choice = choose_method(transmission[cy - 192:cy + 192, cx - 192:cx + 192].astype(np.float32))
    assert choice.method == ("bm3d_refine" if bm3d_available() else "pixel_shuffle"), choice.reason
