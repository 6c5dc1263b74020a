"""The optical phantom family, particles found against a fitted background, and benchmark --variants."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import app
from operando.metrics import instance_f1
from operando.optical import (
    VARIANT_RANGES,
    background_class,
    choose_channel,
    draw_variant,
    find_particles,
    rgb_to_lab,
    simulate_graphite_phantom,
    video_rgb,
)
from operando.workflows.optical import OpticalConfig, analyze_video

runner = CliRunner()


def test_variant_zero_is_the_default_phantom_and_variants_are_reproducible():
    assert draw_variant(0) == {}
    assert draw_variant(5) == draw_variant(5) and draw_variant(5) != draw_variant(6)
    a = simulate_graphite_phantom(shape=(64, 64), n_particles=6, n_frames=3, rng=4, **draw_variant(4))
    b = simulate_graphite_phantom(shape=(64, 64), n_particles=6, n_frames=3, rng=4, **draw_variant(4))
    np.testing.assert_array_equal(a.video.to_numpy(), b.video.to_numpy())
    default = simulate_graphite_phantom(shape=(64, 64), n_particles=6, n_frames=3, rng=2)
    zero = simulate_graphite_phantom(shape=(64, 64), n_particles=6, n_frames=3, rng=2, **draw_variant(0))
    np.testing.assert_array_equal(default.video.to_numpy(), zero.video.to_numpy())


def test_the_family_covers_its_documented_ranges():
    draws = [draw_variant(s) for s in range(1, 301)]
    for name in ("illumination", "gradient", "haze", "flicker", "touching", "radius_px", "polydispersity",
                 "photons", "read_noise"):
        low, high = VARIANT_RANGES[name]
        values = np.array([d[name] for d in draws])
        assert values.min() >= low and values.max() <= high, name
        # 300 draws reach both ends of the range (within 10 % of its width)
        assert values.min() < low + 0.1 * (high - low) and values.max() > high - 0.1 * (high - low), name
    classes = [background_class(d) for d in draws]
    # seed % 3 picks dark, equal, bright; a dark grey near the top of its range may be as light as a dark blue
    assert all(classes.count(c) >= 90 for c in ("dark", "equal", "bright"))
    assert all(background_class(d) == "equal" for d in draws[::3])  # seeds 1, 4, 7, ...


@pytest.fixture(scope="module")
def equal_lightness_video():
    """A vignette + haze variant whose background is as light as stage III (the blue)."""
    settings = {**draw_variant(4), "illumination": 0.5, "gradient": 0.3, "haze": 0.3}
    assert background_class(settings) == "equal"
    return simulate_graphite_phantom(shape=(128, 128), n_particles=20, n_frames=10, rng=4, **settings)


def test_particles_are_found_on_an_equal_lightness_vignetted_hazy_video(equal_lightness_video):
    p = equal_lightness_video
    result = analyze_video(p.video, config=OpticalConfig(seed=0))
    assert result.channel == "contrast" and result.notes["warnings"] == []
    f1 = instance_f1(p.labels.astype(np.int64), result.labels.astype(np.int64)).f1
    assert f1 > 0.8
    # the method before issue 29 (the channel of the raw time-average with the best Otsu separability, and the
    # veil subtracted as if the background were dark) fails here
    channel = choose_channel(rgb_to_lab(video_rgb(p.video).mean(0)))
    old = analyze_video(p.video, config=OpticalConfig(seed=0, channel=channel, background_model="dark"))
    assert instance_f1(p.labels.astype(np.int64), old.labels.astype(np.int64)).f1 < 0.5


def test_find_particles_covers_the_true_particles_and_the_evidence_supports_them(equal_lightness_video):
    p = equal_lightness_video
    found = find_particles(video_rgb(p.video))
    truth = (p.labels > 0).mean(0) > 0.5
    iou = (found.mask & truth).sum() / (found.mask | truth).sum()
    assert iou > 0.6
    assert found.evidence["change_ratio"] > 2 and found.warnings == []


def test_a_video_without_colour_change_is_warned_about():
    p = simulate_graphite_phantom(shape=(96, 96), n_particles=12, n_frames=6, radius_px=7.0, rng=3)
    still = np.repeat(p.video.to_numpy()[:1], 6, axis=0)  # the first frame six times: nothing lithiates
    rng = np.random.default_rng(0)
    still = np.clip(still.astype(int) + rng.integers(-3, 4, still.shape), 0, 255).astype(np.float32) / 255
    found = find_particles(still)
    assert found.evidence["change_ratio"] < 2
    assert any("change" in w for w in found.warnings)


@pytest.mark.slow
def test_benchmark_optical_variants_cli(tmp_path):
    out = tmp_path / "bench"
    result = runner.invoke(app, ["benchmark", "optical", "-o", str(out), "--variants", "2", "--size", "64",
                                 "--particles", "6", "--frames", "6", "--denoiser", "gaussian", "--seed", "1"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "benchmark.json").read_text())
    assert [r["variant"] for r in record["rows"]] == [1, 1, 2, 2]
    assert {r["input"] for r in record["summary"]} == {"raw", "gaussian"}
    f1 = [r for r in record["summary"] if r["input"] == "raw" and r["figure"] == "instance_f1"][0]
    values = [r["instance_f1"] for r in record["rows"] if r["input"] == "raw"]
    assert f1["worst"] == pytest.approx(min(values), abs=1e-4) and f1["spread"] == pytest.approx(
        max(values) - min(values), abs=1e-4)
    assert (out / "report.md").is_file() and "worst" in result.output


def test_benchmark_optical_refuses_zero_variants(tmp_path):
    result = runner.invoke(app, ["benchmark", "optical", "-o", str(tmp_path / "b"), "--variants", "0"])
    assert result.exit_code == 2
