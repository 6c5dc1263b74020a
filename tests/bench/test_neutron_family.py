"""The neutron phantom family, the mean-preserving correction of denoised Delta A and ``--variants``."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.bench.neutron import (
    evaluate_phantom,
    phantom_beam_regions,
    summarize_variants,
    variant_config,
    variant_seeds,
)
from operando.cli import app
from operando.neutron import (
    FAMILY,
    PLACEMENTS,
    draw_phantom_config,
    normalize,
    regions_from_dict,
    simulate_neutron_phantom,
)
from operando.workflows.neutron import AnalysisConfig, analyze_series, restore_region_means

runner = CliRunner()


def test_the_family_draws_reproducible_variants_that_cover_the_ranges():
    draws = [draw_phantom_config(s) for s in range(60)]
    assert draw_phantom_config(7) == draw_phantom_config(7) and draws[0] != draws[1]
    for name in ("psf_sigma_px", "beam_flicker", "spot_rate", "open_beam_counts", "li_amplitude"):
        low, high = FAMILY[name][:2]
        values = np.array([d[name] for d in draws])
        assert values.min() >= low and values.max() <= high, name
        assert values.max() - values.min() > 0.6 * (high - low), name  # the range is covered, not one corner
    for name in ("depth_axis", "anode_side", "open_beam_placement"):
        assert {d[name] for d in draws} == set(FAMILY[name]), name
    shares = np.array([d["layer_shares"] for d in draws])
    assert np.ptp(shares[:, 1]) > 0.08  # the anode's width varies
    # the benchmark's first 8 variants hold every placement along X and along Y
    configs = [variant_config(i, s) for i, s in enumerate(variant_seeds(8, 0))]
    assert {(c["open_beam_placement"], c["depth_axis"]) for c in configs} == {(p, a) for p in PLACEMENTS
                                                                              for a in "XY"}
    assert variant_seeds(3, 0) == variant_seeds(3, 0) != variant_seeds(3, 1)


@pytest.mark.parametrize("changes", [
    {"depth_axis": "Y", "anode_side": "high", "open_beam_placement": "beside", "cell_margin_px": (8, 10),
     "ny": 128, "nx": 48},
    {"depth_axis": "X", "anode_side": "high", "open_beam_placement": "none", "ny": 40, "nx": 96},
    {"open_beam_placement": "above", "ny": 40, "nx": 96}])
def test_a_variants_regions_lie_on_its_layers_and_air(changes):
    ph = simulate_neutron_phantom(rng=1, n_cycles=1, frames_per_half_cycle=3, psf_sigma_px=0.0, spot_rate=0.0,
                                  drift_px=(0, 0), **changes)
    assert ph.sample.shape[1:] == (changes["ny"], changes["nx"])
    regions = regions_from_dict(ph.regions, ph.sample.shape[1:])
    a_ref = ph.delta_a_true  # the layers' static attenuation is read from the open-beam-normalised counts
    t = (ph.sample.to_numpy()[0] - ph.dark.to_numpy().mean(0)) / (ph.open_beam.to_numpy().mean(0)
                                                                 - ph.dark.to_numpy().mean(0))
    att = {r.name: float(np.median(-np.log(t[r.mask]))) for r in regions.regions.values()}
    shares = ph.config["layer_attenuation"] or [0.35, 0.75, 0.45, 0.65, 0.12]
    for name, a in zip(("anode_collector", "anode", "separator", "cathode", "cathode_collector"), shares,
                       strict=True):
        assert att[name] == pytest.approx(a, abs=0.08), name
    opens = regions.of_kind("open")
    if changes["open_beam_placement"] == "none":
        assert not opens and phantom_beam_regions(ph)[1]  # the collectors stand in for air
    else:
        assert abs(att["open"]) < 0.05
    # the anode is where the lithium goes on charge (Delta A grows there)
    anode = regions.regions["anode"].mask
    assert a_ref[ph.boundaries[1]][anode].mean() > 0.5 * ph.config["li_amplitude"]


def test_static_regions_correct_the_flicker_where_no_air_is_in_view():
    ph = simulate_neutron_phantom(rng=2, ny=40, nx=96, n_cycles=1, frames_per_half_cycle=4, beam_flicker=0.03,
                                  open_beam_placement="none")
    opens, static = phantom_beam_regions(ph)
    assert not opens
    flicker = np.array(ph.truth["beam_flicker"])
    corrected = normalize(ph.sample, ph.open_beam, ph.dark, static_regions=static)
    factors = corrected.beam_factors
    assert np.corrcoef(factors, flicker)[0, 1] > 0.95
    assert corrected.info["static_regions"] == [f"{b.y0}:{b.y1},{b.x0}:{b.x1}" for b in static]


def test_restoring_region_means_removes_a_shrinkage_bias_and_keeps_the_detail():
    """A denoiser that pulls an electrode toward the global mean: the raw data's low-pass puts its mean back."""
    rng = np.random.default_rng(0)
    spec = {"depth_axis": "X", "regions": {"anode": {"kind": "electrode", "box": "4:28,4:28"},
                                           "cathode": {"kind": "electrode", "box": "4:28,36:60"}}}
    regions = regions_from_dict(spec, (32, 64))
    t = np.linspace(0, 1, 30)[:, None, None]
    truth = np.zeros((30, 32, 64))
    truth[:, 4:28, 4:28] = 0.1 * t
    truth[:, 4:28, 36:60] = -0.08 * t
    raw = truth + 0.02 * rng.standard_normal(truth.shape)
    shrunk = 0.9 * truth + 0.002 * rng.standard_normal(truth.shape)  # 10 % toward 0, little noise
    fixed, info = restore_region_means(shrunk.astype(np.float32), raw.astype(np.float32), regions)
    for name, sl, span in (("anode", np.s_[:, 4:28, 4:28], 0.1), ("cathode", np.s_[:, 4:28, 36:60], 0.08)):
        bias_before = np.mean(shrunk[sl].mean(axis=(1, 2)) - truth[sl].mean(axis=(1, 2))) / span
        bias_after = np.mean(fixed[sl].mean(axis=(1, 2)) - truth[sl].mean(axis=(1, 2))) / span
        assert abs(bias_before) > 0.04 and abs(bias_after) < 0.01, (name, bias_before, bias_after)
        assert info[name]["mean_shift_max_abs"] > 0
    rmse = {k: float(np.sqrt(np.mean((v - truth) ** 2))) for k, v in (("raw", raw), ("fixed", fixed))}
    assert rmse["fixed"] < 0.25 * rmse["raw"]  # the detail stays the denoiser's: no raw noise comes back


@pytest.mark.slow  # about a minute on the shared machine (a network trained per run)
def test_the_mean_correction_keeps_an_electrodes_mean_within_1_percent_on_a_small_variant():
    params = variant_config(0, 11, ny=32, nx=64, n_cycles=1, frames_per_half_cycle=5, beam_flicker=0.02)
    ph = simulate_neutron_phantom(rng=11, **params)
    opens, static = phantom_beam_regions(ph)
    tr = normalize(ph.sample, ph.open_beam, ph.dark, open_regions=opens, static_regions=static)
    regions = regions_from_dict(ph.regions, ph.sample.shape[1:])
    config = AnalysisConfig(reference=ph.reference, open_regions=opens, half_cycle_frames=tuple(ph.boundaries),
                            max_steps=5, time_budget_s=60, mean_correction="none")
    analysis = analyze_series(tr, config=config, regions=regions)  # a barely trained network: a biased mean
    before = evaluate_phantom(analysis, ph, config)
    analysis.delta_denoised, _ = restore_region_means(analysis.delta_denoised,
                                                      analysis.delta_raw.stack.to_numpy(), regions)
    after = evaluate_phantom(analysis, ph, config)
    for name in ("anode", "cathode"):
        raw = after["raw"]["mean_bias"][name]["systematic_rel"]
        den = after["denoised"]["mean_bias"][name]["systematic_rel"]
        assert abs(den - raw) < 0.01, (name, raw, den)  # the denoiser moves the mean by less than 1 % of the range
        assert abs(den) <= abs(before["denoised"]["mean_bias"][name]["systematic_rel"]) + 0.002, name
    assert after["denoised"]["rmse"] < 1.1 * before["denoised"]["rmse"]


def test_summary_takes_the_worst_variant_and_judges_the_targets():
    figures = [{"variability_cut": c, "mean_bias_anode": b, "mean_bias_cathode": 0.001, "active_area_max_error": 0.01,
                "inactive_edge_error_px": 1.0, "coverage_raw_low": 0.93, "coverage_raw_high": 0.93}
               for c, b in ((0.9, 0.002), (0.85, 0.012), (0.95, 0.004))]
    summary = summarize_variants(figures)
    assert summary["figures"]["variability_cut"]["worst"] == 0.85
    assert summary["figures"]["mean_bias_anode"]["worst"] == 0.012
    assert summary["figures"]["mean_bias_anode"]["median"] == 0.004
    assert summary["targets"]["variability_cut"]["holds"] and not summary["targets"]["mean_bias_anode"]["holds"]


@pytest.mark.slow
def test_benchmark_neutron_variants_cli_writes_the_table_and_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no step-wedge folder here: that part is skipped with a note
    out = tmp_path / "bench"
    result = runner.invoke(app, ["benchmark", "neutron", "-o", str(out), "--variants", "2", "--max-steps", "3",
                                 "--cycles", "1", "--frames-per-half-cycle", "3", "--time-budget", "30"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 variants" in result.output and "mean_bias_anode" in result.output
    doc = json.loads((out / "neutron_benchmark.json").read_text())
    family = doc["family"]
    assert len(family["variants"]) == 2 and doc["configuration"]["variants"] == 2
    assert {v["phantom"]["open_beam_placement"] for v in family["variants"]} == {"above_below", "above"}
    assert set(family["summary"]["targets"]) >= {"variability_cut", "mean_bias_anode", "mean_bias_cathode"}
    assert "| figure | target | worst |" in (out / "neutron_variants.md").read_text()
