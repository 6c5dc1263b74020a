"""The STXM phantom family: variants drawn from a seed within documented ranges, and `benchmark stxm --variants`."""

import json

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from operando.cli import app
from operando.workflows.stxm import read_series
from operando.xray import PhantomConfig, PhantomFamily, draw_phantom_config, make_phantom, phantom_family

runner = CliRunner()


def _inside(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] - 1e-9 <= value <= bounds[1] + 1e-9


def test_variants_are_reproducible_from_the_seed_and_inside_the_documented_ranges():
    fam = PhantomFamily()
    base = PhantomConfig()
    first = phantom_family(12, rng=5)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in phantom_family(12, rng=5)]
    assert first[0] == base  # variant 0 is the single benchmark's phantom
    assert [c.model_dump() for c in phantom_family(4, rng=5)] == [c.model_dump() for c in first[:4]]
    assert phantom_family(3, rng=6)[1] != first[1]
    for cfg in first[1:]:
        low, high = cfg.thickness_um
        assert _inside(cfg.i0_counts, fam.i0_counts) and _inside(low, fam.thickness_low_um)
        assert _inside(high - low, fam.thickness_span_um)
        assert fam.n_particles[0] <= cfg.n_particles <= fam.n_particles[1]
        for key in ("particle_scale", "drift_px", "line_gain_sd", "line_offset_sd", "row_drift", "background_od_sd",
                    "current"):
            assert _inside(getattr(cfg, key), getattr(fam, key)), key
        assert cfg.energy_offset_ev == 0.0  # calibration error not drawn by default
        for e, e0 in zip(cfg.energies_ev, base.energies_ev, strict=True):
            assert _inside(e - e0, fam.energy_shift_ev)
        assert (cfg.size, cfg.frames, cfg.pixel_size_um) == (base.size, base.frames, base.pixel_size_um)
    # the draws spread over the ranges, not a fixed point: 11 variants cover most of the I0 range
    i0 = [c.i0_counts for c in first[1:]]
    assert max(i0) / min(i0) > 2 and len({c.seed for c in first}) == len(first)


def test_a_range_of_one_value_fixes_it_and_a_reversed_range_is_refused():
    fam = PhantomFamily(i0_counts=(200, 200), n_particles=(3, 3), drift_px=(0.5, 0.5), energy_shift_ev=(0, 0))
    cfg = draw_phantom_config(1, family=fam)
    assert (cfg.i0_counts, cfg.n_particles, cfg.drift_px) == (pytest.approx(200), 3, 0.5)
    assert cfg.energies_ev == (708.2, 710.2)
    with pytest.raises(ValidationError):
        PhantomFamily(i0_counts=(400, 80))
    with pytest.raises(ValidationError):
        PhantomFamily(drift_px=(0, float("nan")))


def test_a_drawn_variant_is_written_by_the_cli_as_todays_hdr_layout(tmp_path):
    from operando.io import read

    result = runner.invoke(app, ["stxm", "phantom", "-o", str(tmp_path), "--size", "32", "--frames", "2",
                                 "--variant", "1", "--seed", "11"])
    assert result.exit_code == 0, result.output
    cfg = phantom_family(2, base=PhantomConfig(size=32, frames=2, seed=11), rng=11)[1]
    assert json.loads((tmp_path / "phantom.json").read_text())["config"] == cfg.model_dump(mode="json")
    assert (tmp_path / "stxm_t000.hdr").exists() and (tmp_path / "stxm_t001_a000.xim").exists()
    counts = read_series([str(tmp_path / "stxm_t*.hdr")])
    assert counts.axes == "TEYX" and counts.shape == (2, 2, 32, 32)
    assert np.allclose(counts.metadata.energies, cfg.energies_ev, atol=1e-3)
    assert np.array_equal(counts.to_numpy(), read(tmp_path / "stxm.nxstxm.h5").to_numpy())


def test_support_od_and_row_drift_appear_where_drawn_and_nowhere_by_default():
    common = {"size": 48, "frames": 1, "i0_counts": 20000.0, "line_gain_sd": 0.0, "line_offset_sd": 0.0,
              "drift_px": 0.0, "ch_dt": 1e-4, "seed": 2}
    plain = make_phantom(PhantomConfig(**common))
    support = make_phantom(PhantomConfig(**common, background_od_sd=0.03))
    from scipy import ndimage

    background = ~ndimage.binary_dilation(plain.labels > 0, iterations=4)  # clear of the particles' soft rims
    assert np.std(plain.od_observed[0, 0][background]) < 1e-6
    assert 0.015 < np.std(support.od_observed[0, 0][background]) < 0.045
    # the support is the same at both energies (non-resonant), the particles are not
    assert np.allclose(support.od_observed[0, 0][background], support.od_observed[0, 1][background], atol=1e-3)

    drifting = make_phantom(PhantomConfig(**common, row_drift=0.2))
    rows = np.linspace(-0.5, 0.5, 48)
    for phantom, drifts in ((plain, False), (drifting, True)):
        for e in range(2):
            counts = phantom.counts.to_numpy()[0, e].astype(float)
            line = np.array([counts[y][background[y]].mean() for y in range(48)]) / common["i0_counts"]
            slope = np.polyfit(rows, line, 1)[0]
            assert (abs(slope) > 0.01) == drifts, (e, slope)


def test_an_energy_calibration_error_compresses_x_and_is_recorded_nowhere_in_the_files():
    """Images taken 0.2 eV above the recorded energies: x is pulled toward mid-range (about -0.09 x per unit x)."""
    from operando.workflows.stxm import CompositionConfig, run_composition

    base = {"size": 48, "frames": 1, "i0_counts": 3000.0, "drift_px": 0.0, "ch_dt": 1e-4, "seed": 4}
    slope = {}
    for offset in (0.0, 0.2):
        phantom = make_phantom(PhantomConfig(**base, energy_offset_ev=offset))
        assert phantom.counts.metadata.energies == (708.2, 710.2)
        x = run_composition(phantom.counts, config=CompositionConfig()).maps[0, 0]
        sel = np.isfinite(x) & (phantom.labels > 0)
        slope[offset] = np.polyfit(phantom.x_true[0][sel], x[sel] - phantom.x_true[0][sel], 1)[0]
    assert slope[0.0] > -0.025 and slope[0.2] < -0.06, slope


@pytest.mark.slow
def test_cli_benchmark_over_two_variants_reports_the_worst_case(tmp_path):
    out = tmp_path / "b"
    result = runner.invoke(app, ["benchmark", "stxm", "-o", str(out), "--size", "40", "--frames", "2",
                                 "--variants", "2", "--bias-draws", "1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "worst" in result.output and (out / "report.md").exists()
    family = json.loads((out / "results.json").read_text())
    assert family["n_variants"] == 2 and len(family["variants"]) == 2
    singles = [json.loads((out / f"variant_{k:02d}" / "results.json").read_text())["targets"] for k in range(2)]
    ratio = family["summary"]["rmse_ratio_raw_over_denoised"]
    assert ratio["worst"] == min(s["rmse_ratio_raw_over_denoised"]["value"] for s in singles)
    assert ratio["min"] <= ratio["median"] <= ratio["max"]
    bias = family["summary"]["max_abs_bias_denoised"]
    assert bias["worst"] == max(s["max_abs_bias_denoised"]["value"] for s in singles)
    assert family["met_on_worst"] == all(v["met_on_worst"] for v in family["summary"].values())
    assert family["variants"][0]["phantom"]["seed"] == 3  # variant 0: the phantom of --seed
    assert family["config"]["extra_methods"] == []  # no n2v2 training per variant unless asked


def test_family_summary_takes_the_worst_by_its_distance_to_the_target():
    from operando.bench.stxm_family import _family_summary

    def rec(k, coverage, ratio):
        return {"variant": k, "targets": {
            "coverage_denoised": {"value": coverage, "met": 0.9 <= coverage <= 0.98,
                                  "margin": min(coverage - 0.9, 0.98 - coverage)},
            "rmse_ratio_raw_over_denoised": {"value": ratio, "met": ratio >= 3, "margin": ratio - 3}}}

    summary = _family_summary([rec(0, 0.95, 3.4), rec(1, 0.99, 3.1), rec(2, 0.91, 2.8), {"variant": 3,
                                                                                          "not_run": "x"}])
    cov, ratio = summary["coverage_denoised"], summary["rmse_ratio_raw_over_denoised"]
    assert (cov["worst"], cov["worst_variant"], cov["met_on_worst"], cov["variants_met"]) == (0.99, 1, False, 2)
    assert (ratio["worst"], ratio["worst_variant"], ratio["median"]) == (2.8, 2, 3.1)
