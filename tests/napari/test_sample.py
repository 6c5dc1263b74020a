"""Sample data: generated (never downloaded), quick, calibrated; opened in a real viewer through the plugin."""

import time

import numpy as np
import pytest

from operando.napari import _sample
from operando.noise import add_gaussian_noise

#: Seconds one sample may take here: the aim is < 2 s on an idle laptop (printed); this bound leaves room for a
#: busy 2-core CI runner and the first JAX import.
BOUND_S = 30.0


@pytest.mark.parametrize(("key", "names"), [
    ("cahn_hilliard", [_sample.CH_CLEAN, _sample.CH_NOISY]),
    ("stxm", [_sample.STXM_X, _sample.STXM_COUNTS]),
    ("neutron", [_sample.NEUTRON_DARK, _sample.NEUTRON_OPEN, _sample.NEUTRON_TRUTH, _sample.NEUTRON_SAMPLE]),
    ("optical", [_sample.OPTICAL_VIDEO, _sample.OPTICAL_STAGES]),
])
def test_samples_are_generated_quickly_with_scale_and_record(key, names, monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("a sample downloads"))
    start = time.perf_counter()
    layers = getattr(_sample, key)()
    took = time.perf_counter() - start
    print(f"sample {key}: {took:.2f} s")
    assert took < BOUND_S
    assert [settings["name"] for _, settings, _ in layers] == names
    for data, settings, kind in layers:
        ndim = data.ndim - (1 if settings.get("rgb") else 0)
        assert len(settings["scale"]) == len(settings["units"]) == len(settings["axis_labels"]) == ndim
        assert settings["axis_labels"][-2:] == ["y", "x"]
        assert settings["metadata"]["operando"]["extra"]["sample"] == key
        assert kind in ("image", "labels")


def test_cahn_hilliard_sample_is_noisy_around_its_clean_video():
    (clean, clean_settings, _), (noisy, settings, _) = _sample.cahn_hilliard()
    assert clean.shape == noisy.shape == (_sample.CH_FRAMES, _sample.CH_SIZE, _sample.CH_SIZE)
    assert float(np.std(noisy - clean)) == pytest.approx(_sample.CH_SIGMA, rel=0.05)
    assert np.array_equal(noisy, add_gaussian_noise(clean, sigma=_sample.CH_SIGMA, rng=1))  # operando's noise model
    assert clean_settings["units"][0] == "s" and settings["scale"] == clean_settings["scale"]
    assert settings["metadata"]["operando"]["extra"]["noise"]["sigma"] == _sample.CH_SIGMA


def test_stxm_sample_has_two_energies_in_ev_and_the_true_x():
    (x_true, x_settings, _), (counts, settings, _) = _sample.stxm()
    assert counts.ndim == 3 and counts.shape[0] == 2 and settings["units"] == ["eV", "um", "um"]
    assert settings["translate"][0] == pytest.approx(708.2) and settings["scale"][0] == pytest.approx(2.0)
    assert x_true.shape == counts.shape[1:] and x_settings["scale"] == settings["scale"][1:]
    inside = x_true[np.isfinite(x_true)]
    assert inside.size > 0 and inside.min() >= 0 and inside.max() <= 1


def test_viewer_opens_each_sample_with_its_scale(make_napari_viewer):
    viewer = make_napari_viewer()
    for key in ("cahn_hilliard", "stxm", "neutron", "optical"):
        expected = getattr(_sample, key)()
        viewer.layers.clear()
        viewer.open_sample("operando", key)
        assert [layer.name for layer in viewer.layers] == [settings["name"] for _, settings, _ in expected]
        for layer, (data, settings, _) in zip(viewer.layers, expected, strict=True):
            assert tuple(layer.scale) == pytest.approx(tuple(settings["scale"])), layer.name
            assert layer.metadata["operando"] == settings["metadata"]["operando"]
            assert layer.data.shape == data.shape
