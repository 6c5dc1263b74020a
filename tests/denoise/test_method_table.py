"""The method table: check_method / method_names, and denoise_masked (fill, denoise, NaN back)."""

import numpy as np
import pytest

from operando import Stack
from operando._errors import InputError
from operando.denoise import BASELINES, METHODS, NEURAL, check_method, denoise, denoise_masked, method_names
from operando.denoise._methods import METHOD_TABLE


def test_method_names_come_from_the_table():
    assert method_names() == METHODS == tuple(METHOD_TABLE)
    assert method_names("neural") == NEURAL
    assert method_names(("calibrated",)) == BASELINES
    streamed = method_names("streamed")
    assert "video" in streamed and "gaussian" in streamed and "bm3d" not in streamed and "bm3d_refine" not in streamed
    with pytest.raises(InputError, match="unknown method kind"):
        method_names("fast")


def test_check_method_refuses_in_one_line_naming_the_option_and_the_choices():
    assert check_method("n2v2") == "n2v2"
    assert check_method("auto", allow=("auto",)) == "auto"
    with pytest.raises(InputError) as err:
        check_method("n2v3", "--denoise")
    message = str(err.value)
    assert "\n" not in message and "--denoise 'n2v3'" in message and "n2v2" in message and "gaussian" in message
    with pytest.raises(InputError, match="not a deterministic method; choose one of none, gaussian"):
        check_method("video", "denoise", kinds="deterministic", allow=("none",))


def test_check_method_names_the_install_line_of_a_missing_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("bm3d", "bm4d") else real(name, *a))
    with pytest.raises(InputError) as err:
        check_method("bm3d")
    message = str(err.value)
    assert "pip install 'operando[bm3d]'" in message and "--method 'bm3d'" in message and "\n" not in message
    assert "bm4d" not in message.split("choose one of")[1]  # the choices offered are the available ones


def test_check_method_passes_an_installed_extra(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert check_method("bm3d") == "bm3d"


def test_denoise_masked_fills_denoises_and_puts_nan_back():
    rng = np.random.default_rng(0)
    data = (0.5 + 0.1 * rng.standard_normal((6, 24, 24))).astype(np.float32)
    data[2, 3:7, 4:9] = np.nan
    stack = Stack(data, axes="TYX")
    out = denoise_masked(stack, method="gaussian")
    assert out.shape == stack.shape and out.dtype == np.float32
    assert np.array_equal(np.isnan(out.to_numpy()), np.isnan(data))
    record = out.metadata.extra["denoise"]
    assert record["method"] == "gaussian" and record["masked"]["filled"] == 20 and record["masked"]["fill"] == "median"
    filled = np.where(np.isnan(data), np.nanmedian(data), data)
    expected = denoise(Stack(filled, axes="TYX"), method="gaussian").to_numpy()
    valid = ~np.isnan(data)
    np.testing.assert_array_equal(out.to_numpy()[valid], expected[valid])
    assert np.isnan(data).sum() == 20  # the input is left as it was


def test_denoise_masked_with_a_mask_and_the_mean_on_a_plain_array():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 200, (6, 20, 20)).astype(np.uint16)
    valid = np.ones(data.shape, bool)
    valid[:, :3] = False
    out = denoise_masked(data, valid, fill="mean", axes="TYX", method="median")
    assert isinstance(out, np.ndarray) and out.dtype == np.float32  # NaN needs a float
    assert np.isnan(out[:, :3]).all() and np.isfinite(out[:, 3:]).all()
    clean = denoise_masked(data.astype(np.float32), axes="TYX", method="median")  # nothing to fill: plain denoise
    np.testing.assert_array_equal(clean, denoise(data.astype(np.float32), axes="TYX", method="median"))


def test_denoise_masked_refusals():
    data = np.zeros((5, 16, 16), np.float32)
    with pytest.raises(InputError, match="mask shape"):
        denoise_masked(data, np.ones((5, 16), bool), axes="TYX", method="gaussian")
    with pytest.raises(InputError, match="no pixel"):
        denoise_masked(np.full((5, 16, 16), np.nan, np.float32), axes="TYX", method="gaussian")
    with pytest.raises(InputError, match="fill="):
        denoise_masked(data, fill="mode", axes="TYX", method="gaussian")
