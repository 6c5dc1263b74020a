"""Gamma spots and normalisation: what a user checks on counts they know."""

import numpy as np
import pytest

from operando import InputError, Stack
from operando._regions import Region
from operando._stack import Metadata
from operando.neutron import (
    combine_images,
    normalize,
    parse_box,
    remove_spots_spatial,
    remove_spots_temporal,
)


def _series(rng, n=8, shape=(32, 40), level=1000.0):
    return rng.poisson(level, (n, *shape)).astype(np.float64)


def test_temporal_rule_finds_planted_spots_with_few_false_alarms(rng):
    data = _series(rng)
    spots = [(0, 3, 4), (3, 10, 10), (7, 31, 39), (5, 0, 0)]
    for t, y, x in spots:
        data[t, y, x] += 3000
    result = remove_spots_temporal(data, k=5)
    assert all(result.mask[s] for s in spots)
    assert result.mask.sum() <= len(spots) + 2
    assert np.abs(result.data[result.mask] - 1000).max() < 200
    assert result.counts[3] >= 1 and len(result.counts) == 8


def test_temporal_rule_needs_enough_frames(rng):
    with pytest.raises(InputError, match="needs >= 5 frames"):
        remove_spots_temporal(_series(rng, n=3))


def test_spatial_robust_rule_clears_a_spot_with_a_halo_that_neunorm_leaves(rng):
    img = _series(rng, n=1)[0]
    img[10:13, 10:13] += 600
    img[11, 11] += 9000
    robust = remove_spots_spatial(img)
    neunorm = remove_spots_spatial(img, rule="neunorm")
    assert robust.mask[0, 10:13, 10:13].sum() >= 8
    assert neunorm.mask[0, 10:13, 10:13].sum() < robust.mask[0, 10:13, 10:13].sum()
    assert abs(robust.data[0, 10:13, 10:13].mean() - 1000) < 60
    assert robust.mask.sum() < 20


def test_saturated_pixels_are_replaced():
    img = np.full((16, 16), 500.0)
    img[4, 4] = 65535
    result = remove_spots_spatial(img, saturation=65530)
    assert result.mask[0, 4, 4] and result.data[0, 4, 4] == 500


def _stacks(rng, transmission=0.5, t_sample=10.0, t_open=10.0, dark=300.0, n=6):
    shape = (24, 32)
    flat = 2000.0 * (1 + 0.1 * np.linspace(-1, 1, shape[1]))[None, :] * np.ones(shape)
    sample_signal = flat * transmission * t_sample / 10
    sample_signal[:4] = flat[:4] * t_sample / 10  # air rows at the top
    sample = rng.poisson(sample_signal, (n, *shape)) + dark
    ob = rng.poisson(flat * t_open / 10, (3, *shape)) + dark
    dc = dark + rng.normal(0, 3, (3, *shape))
    meta = lambda t: Metadata(extra={"exposure_time_s": t})  # noqa: E731
    return (Stack(sample.astype(np.uint16), axes="TYX", metadata=meta(t_sample)),
            Stack(ob.astype(np.uint16), axes="TYX", metadata=meta(t_open)), Stack(dc, axes="TYX"))


def test_transmission_of_a_known_absorber_and_exposure_scaling(rng):
    sample, ob, dc = _stacks(rng, transmission=0.4, t_sample=20.0, t_open=10.0)
    tr = normalize(sample, ob, dc)
    t = tr.stack.to_numpy()
    assert tr.stack.dtype == np.float32 and tr.stack.axes == "TYX"
    assert tr.info["exposure_ratio"] == 2.0
    assert np.median(t[:, 8:]) == pytest.approx(0.4, abs=0.005)
    assert np.median(t[:, :4]) == pytest.approx(1.0, abs=0.01)


def test_beam_factors_follow_a_flickering_source_and_make_air_one(rng):
    sample, ob, dc = _stacks(rng, transmission=0.5)
    counts = sample.to_numpy().astype(float) - 300
    flicker = np.array([1.0, 1.05, 0.95, 1.02, 0.98, 1.1])
    flickered = Stack((counts * flicker[:, None, None] + 300).astype(np.uint16), axes="TYX",
                      metadata=sample.metadata)
    tr = normalize(flickered, ob, dc, open_regions=[parse_box("0:4,0:32")])
    np.testing.assert_allclose(tr.beam_factors / tr.beam_factors[0], flicker, atol=0.01)
    frames_mid = np.median(tr.stack.to_numpy()[:, 8:], axis=(1, 2))
    assert np.ptp(frames_mid) < 0.01


def test_propagated_sd_matches_the_scatter_of_a_static_series(rng):
    sample, ob, dc = _stacks(rng, transmission=0.5, n=40)
    tr = normalize(sample, ob, dc, spots="none")
    t = tr.stack.to_numpy()[:, 8:]
    measured = t.std(axis=0)
    predicted = np.sqrt(tr.var_sample[:, 8:].mean(axis=0)) * t.mean(axis=0)  # frame-to-frame part only
    assert np.median(measured / predicted) == pytest.approx(1.0, abs=0.08)


def test_bad_inputs_are_one_line_errors(rng):
    sample, ob, dc = _stacks(rng)
    with pytest.raises(InputError, match="same detector setting") as info:
        normalize(sample, Stack(ob.to_numpy()[:, :, :30], axes="TYX"), dc)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="no brighter than the dark"):
        normalize(sample, Stack(dc.to_numpy(), axes="TYX"), dc)
    with pytest.raises(InputError, match="y0:y1,x0:x1"):
        parse_box("0-4,0:3")
    assert parse_box("0:4,0:3") == Region(0, 4, 0, 3)  # the one region type (operando._regions)
    with pytest.raises(InputError, match="outside"):
        normalize(sample, ob, dc, open_regions=[(0, 4, 0, 99)])


def test_division_by_zero_pixels_are_masked_not_clamped(rng):
    sample, ob, dc = _stacks(rng)
    ob_data = ob.to_numpy().astype(float)
    ob_data[:, 10, 10] = 300  # no beam in one pixel
    tr = normalize(sample, Stack(ob_data, axes="TYX"), dc)
    t = tr.stack.to_numpy()
    assert np.isnan(t[:, 10, 10]).all() and tr.info["division_by_zero_pixels"] >= 1
    assert tr.bad[:, 10, 10].all() and np.isfinite(t[:, 12, 12]).all()


def test_combine_images_medians_and_counts_spots(rng):
    frames = _series(rng, n=5)
    frames[2, 5, 5] += 8000
    combined = combine_images(frames)
    assert combined.n_frames == 5 and combined.spot_counts[2] >= 1
    assert abs(combined.image[5, 5] - 1000) < 100
    assert combined.noise_sd == pytest.approx(np.sqrt(1000), rel=0.15)
