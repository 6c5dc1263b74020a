import numpy as np
import pytest

from operando.noise import corrupt

FAST = dict(max_steps=120, time_budget_s=120.0)


@pytest.fixture(scope="session")
def clean_video():
    from operando.simulate import simulate_cahn_hilliard

    # late, phase-separated frames: clear structure for the denoisers to keep
    return simulate_cahn_hilliard(size=32, n_frames=14, t_end=0.2, rng=0)


@pytest.fixture(scope="session")
def noisy_video(clean_video):
    return corrupt(clean_video, "gaussian:0.15", rng=1)


@pytest.fixture
def tiny_config():
    from operando.denoise import TrainConfig

    return TrainConfig(base=8, batch=4, patch=32, val_every=40, patience=50, lr=3e-3, **FAST)


def gain_db(clean, noisy, denoised):
    from operando.metrics import psnr

    return psnr(clean, denoised, data_range=1) - psnr(clean, noisy, data_range=1)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
