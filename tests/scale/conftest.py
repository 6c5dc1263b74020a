import numpy as np
import pytest

from operando import Stack
from operando.io import write


@pytest.fixture(scope="module")
def stream_setup(tmp_path_factory):
    """A 23-frame 40x36 float32 video in Zarr, a saved 3-step video model and the in-memory prediction."""
    from operando.denoise import predict, save_model, train_denoiser

    folder = tmp_path_factory.mktemp("stream")
    x = np.random.default_rng(0).random((23, 40, 36)).astype(np.float32)
    stack = Stack(x, axes="TYX")
    write(stack, folder / "in.zarr")
    model = train_denoiser(stack, method="video", max_steps=3, rng=0, device="cpu")
    save_model(model, folder / "model")
    expected = predict(model, stack, device="cpu").to_numpy()
    return folder, x, expected
