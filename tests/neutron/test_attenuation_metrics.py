"""Delta A, registration, and the battery metrics on data whose answer is known."""

import numpy as np
import pytest

from operando import InputError, Stack
from operando.metrics import local_variability
from operando.neutron import (
    active_area_fraction,
    attenuation,
    depth_profile,
    differential_attenuation,
    dynamic_variability,
    estimate_drift,
    half_cycle_changes,
    inactive_edge_px,
    li_cross_section_barn,
    lithium_inventory,
    local_std_map,
    normalize,
    regions_from_dict,
    shift_frames,
)


def test_attenuation_masks_non_positive_transmission():
    a, bad = attenuation(np.array([[1.0, np.exp(-2.0)], [0.0, -0.1]]))
    assert a[0, 0] == 0 and a[0, 1] == pytest.approx(2.0)
    assert np.isnan(a[1]).all() and bad[1].all() and not bad[0].any()


def test_delta_a_reference_range_and_its_sd(rng):
    t = np.exp(-np.linspace(0, 0.5, 10))[:, None, None] * np.ones((10, 8, 8))
    out = differential_attenuation(Stack(t.astype(np.float32), axes="TYX"), reference=(0, 2))
    d = out.stack.to_numpy()
    assert d[5, 0, 0] == pytest.approx(5 * 0.5 / 9 - 0.5 * 0.5 / 9, abs=1e-5)
    assert out.reference == (0, 1) and out.info["sd_from"].startswith("estimated")
    with pytest.raises(InputError, match="outside the series"):
        differential_attenuation(Stack(t.astype(np.float32), axes="TYX"), reference=(5, 20))


def test_registration_recovers_a_sub_pixel_drift(small_phantom):
    tr = normalize(small_phantom.sample, small_phantom.open_beam, small_phantom.dark)
    a, _ = attenuation(tr.stack.to_numpy())
    shifts = estimate_drift(a)
    np.testing.assert_allclose(shifts, small_phantom.truth["drift_px"], atol=0.15)


def test_variance_shift_keeps_the_variance_of_interpolated_noise(rng):
    noise = rng.standard_normal((1, 200, 200))
    shifted = shift_frames(noise, np.array([[0.5, 0.3]]))
    var = shift_frames(np.ones((1, 200, 200)), np.array([[0.5, 0.3]]), variance=True)
    inner = (slice(None), slice(5, -5), slice(5, -5))
    assert np.var(shifted[inner]) == pytest.approx(float(np.nanmean(var[inner])), rel=0.05)


def test_dynamic_variability_is_the_metrics_local_variability_and_skips_nan(rng):
    data = rng.normal(0, 0.03, (6, 20, 20))
    v = dynamic_variability(data)
    assert v.value == pytest.approx(local_variability(data, axes="TYX"))
    assert np.nanmean(local_std_map(data)) == pytest.approx(v.value)
    assert v.value == pytest.approx(0.03 * np.sqrt(26 / 27), rel=0.05)
    data[2, 10, 10] = np.nan
    w = dynamic_variability(data)
    assert np.isfinite(w.value) and w.excluded_voxels == 27


def test_half_cycle_changes_and_active_area_on_a_known_pattern():
    delta = np.zeros((7, 10, 10))
    delta[3:, :, :5] = 0.3  # the left half changes between frame 2 and frame 3
    var = np.full(delta.shape, 0.01**2)
    change, sd = half_cycle_changes(delta, var, [0, 3, 6], n_avg=1)
    assert change.shape == (2, 10, 10) and np.allclose(sd, 0.01 * np.sqrt(2))
    masks = {"left": np.ones((10, 10), bool)}
    aaf = active_area_fraction(change, 3 * sd, masks)
    assert aaf["left"] == [0.5, 0.0]
    with pytest.raises(InputError, match="must increase"):
        half_cycle_changes(delta, var, [3, 3])


def test_depth_profile_runs_from_the_separator_and_finds_an_inactive_edge():
    data = np.zeros((1, 6, 20))
    data[0, :, :14] = 1.0  # active 14 px from the separator at x = 0; inactive 6 px at the collector
    data[0, :3, :14] += 0.2  # in-plane variation
    mask = np.ones((6, 20), bool)
    prof = depth_profile(data, mask, separator_first=True)
    assert prof.mean[0, 0] == pytest.approx(1.1) and prof.sd[0, 0] == pytest.approx(0.1)
    assert inactive_edge_px(prof.mean[0]) == pytest.approx(6.0, abs=0.5)
    flipped = depth_profile(data[:, :, ::-1], mask, separator_first=False)
    np.testing.assert_allclose(flipped.mean, prof.mean)
    assert prof.kymograph.shape == (20, 1)


def test_lithium_cross_section_and_inventory_in_moles():
    assert li_cross_section_barn() == pytest.approx(72.7, abs=0.5)
    assert li_cross_section_barn(1.0) == pytest.approx(941, abs=1)
    delta = np.full((2, 4, 4), 0.1)
    out = lithium_inventory(delta, np.ones((4, 4), bool), pixel_size_um=100.0, cross_section_barn=100.0)
    assert out["integrated_delta_a_px"] == [pytest.approx(1.6)] * 2
    expected = 1.6 * (100e-4) ** 2 / (100e-24) / 6.02214076e23
    assert out["moles"][0] == pytest.approx(expected)


def test_regions_from_boxes_and_labels():
    spec = {"depth_axis": "X", "regions": {"anode": {"kind": "electrode", "box": "0:4,0:5"},
                                           "separator": {"kind": "separator", "box": "0:4,5:7"},
                                           "open": {"kind": "open", "boxes": ["4:6,0:10", "6:8,0:10"]},
                                           "cathode": {"kind": "electrode", "label": 2}}}
    labels = np.zeros((8, 10), int)
    labels[:4, 7:] = 2
    regions = regions_from_dict(spec, (8, 10), labels=labels)
    assert regions.regions["cathode"].mask.sum() == 12 and len(regions.open_boxes) == 2
    assert not regions.separator_first("anode") and regions.separator_first("cathode")
    with pytest.raises(InputError, match="unknown kind"):
        regions_from_dict({"regions": {"x": {"kind": "anode", "box": "0:1,0:1"}}}, (8, 10))
    assert regions.to_dict()["regions"]["open"]["boxes"] == ["4:6,0:10", "6:8,0:10"]  # written as read


@pytest.mark.parametrize("box", [[0, 4, 0, 5], "0:4:0:5", "[0, 4, 0, 5]"])
def test_regions_json_refuses_the_old_box_spellings_naming_the_new_one(box):
    spec = {"regions": {"anode": {"kind": "electrode", "box": box}}}
    with pytest.raises(InputError, match="y0:y1,x0:x1") as info:
        regions_from_dict(spec, (8, 10))
    assert "anode" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="y0:y1,x0:x1"):
        regions_from_dict({"regions": {"open": {"kind": "open", "boxes": [box]}}}, (8, 10))
