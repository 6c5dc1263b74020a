"""The neutron pipeline and its command line, on the small phantom and the real step wedge."""

import json

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from operando._regions import parse_region
from operando.bench.neutron import benchmark_step_wedge, evaluate_phantom
from operando.bench.neutron_demo import write_phantom
from operando.cli import app
from operando.neutron import normalize, regions_from_dict
from operando.workflows.neutron import AnalysisConfig, analyze_series

runner = CliRunner()


def _analysis(phantom, **changes):
    opens = tuple(parse_region(b) for b in phantom.regions["regions"]["open"]["boxes"])
    tr = normalize(phantom.sample, phantom.open_beam, phantom.dark, open_regions=opens)
    config = AnalysisConfig(reference=phantom.reference, denoise="none", open_regions=opens,
                            half_cycle_frames=tuple(phantom.boundaries), **changes)
    regions = regions_from_dict(phantom.regions, phantom.sample.shape[1:])
    return analyze_series(tr, config=config, regions=regions), config


def test_raw_delta_a_is_unbiased_and_its_sd_is_calibrated(small_phantom):
    analysis, config = _analysis(small_phantom)
    scores = evaluate_phantom(analysis, small_phantom, config)
    assert 0.88 <= scores["coverage_1.96sd_raw"] <= 0.98
    for name, bias in scores["raw"]["mean_bias"].items():
        assert abs(bias["systematic_rel"]) < 0.02 and bias["vs_raw_max_abs_rel"] == 0, name
    assert scores["raw"]["dynamic_variability"] > 2 * scores["true_variability"]
    assert scores["raw"]["active_area_max_error"] < 0.3
    assert scores["inactive_edge_true_px"] == 2 and scores["raw"]["inactive_edge_error_px"] <= 2


def test_analyze_cli_on_the_phantom_writes_every_output(tmp_path):
    files = write_phantom(tmp_path / "ph", rng=1, ny=40, nx=64, n_cycles=2, frames_per_half_cycle=5)
    out = tmp_path / "out"
    result = runner.invoke(app, ["neutron", "analyze", str(files["sample"]), "--open-beam", str(files["open_beam"]),
                                 "--dark", str(files["dark"]), "--regions", str(files["regions"]), "--cycler",
                                 str(files["cycler"]), "--reference-frame", "0:4", "--denoise", "none", "-o",
                                 str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["dynamic_variability"]["raw"] > 0 and doc["dynamic_variability"]["denoised"] is None
    assert len(doc["active_area_fraction"]["anode"]["raw"]) == 4 == len(doc["half_cycles"]["kinds"])
    assert doc["half_cycles"]["boundaries"] == json.loads((tmp_path / "ph" / "truth" / "truth.json").read_text())[
        "boundaries"]
    assert [round(r["coulombic_efficiency"], 3) for r in doc["coulombic_efficiency"]["cycler"]] == [0.92, 0.95]
    assert doc["configuration"]["seed"] == 0 and "anode" in doc["depth_profiles"]
    ratios = [r["ratio"] for r in doc["inventory_vs_cycler"]["raw"]]  # the phantom's cycler charge = Li moved
    assert len(ratios) == 4 and all(0.8 < r < 1.2 for r in ratios), ratios
    for name in ("delta_a_raw.tif", "delta_a_sd.tif", "variability_histogram.png", "active_area.png",
                 "depth_profiles.png", "kymographs.png", "coulombic_efficiency.png", "regions.png"):
        assert (out / name).exists(), name
    assert tifffile.imread(out / "delta_a_raw.tif").dtype == np.float32


def test_normalize_then_variability_cli(tmp_path):
    files = write_phantom(tmp_path / "ph", rng=2, ny=32, nx=48, n_cycles=1, frames_per_half_cycle=4)
    t_path = tmp_path / "T.tif"
    result = runner.invoke(app, ["neutron", "normalize", str(files["sample"]), "--open-beam", str(files["open_beam"]),
                                 "--dark", str(files["dark"]), "-o", str(t_path), "--open-region", "1:3,2:46"])
    assert result.exit_code == 0, result.output
    assert "gamma spots removed" in result.output
    t = tifffile.imread(t_path)
    assert t.dtype == np.float32 and t.shape == (12, 32, 48)
    assert np.median(t[:, 1:3, 2:46]) == pytest.approx(1.0, abs=0.01)
    assert (tmp_path / "T_var_a.tif").exists()
    result = runner.invoke(app, ["neutron", "variability", str(t_path), "--json", str(tmp_path / "v.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "v.json").read_text())["window"] == [3, 3, 3]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(0)
    for i in (0, 1, 3):
        tifffile.imwrite(tmp_path / f"s_{i:04d}.tif", rng.poisson(900, (16, 16)).astype(np.uint16))
    tifffile.imwrite(tmp_path / "ob.tif", rng.poisson(1200, (16, 16)).astype(np.uint16))
    tifffile.imwrite(tmp_path / "dc.tif", rng.poisson(300, (16, 16)).astype(np.uint16))
    cases = [[str(tmp_path / "s_*.tif"), "--open-beam", str(tmp_path / "ob.tif")],
             [str(tmp_path / "s_0000.tif"), "--open-beam", str(tmp_path / "dc.tif")]]
    for case in cases:
        result = runner.invoke(app, ["neutron", "normalize", *case, "--dark", str(tmp_path / "dc.tif"), "-o",
                                     str(tmp_path / "T.tif")])
        assert result.exit_code == 2 and "error:" in result.output
        assert not (tmp_path / "T.tif").exists()


def test_real_step_wedge_crop_normalises_in_order_with_spots_removed(stepwedge):
    from operando import Stack
    from operando.io import read_sequence

    crop = (slice(0, 660), slice(950, 1250))
    load = lambda name: read_sequence(stepwedge / f"{name}.tif")  # noqa: E731
    sample, ob, dc = (Stack(s.to_numpy()[(slice(None), *crop)], axes="TYX", metadata=s.metadata)
                      for s in (load("exp5s_h2o"), load("exp5s_ob"), load("exp5s_dc")))
    tr = normalize(Stack(sample.to_numpy()[0], axes="YX", metadata=sample.metadata), ob, dc,
                   open_regions=[(10, 60, 0, 300)])
    t = tr.stack.to_numpy()
    steps = [np.median(t[y0:y1, 50:250]) for y0, y1 in ((110, 200), (230, 300), (330, 420), (450, 540), (570, 640))]
    assert np.all(np.diff(steps) > 0.05), steps
    assert np.median(t[10:60]) == pytest.approx(1.0, abs=0.002)
    assert tr.info["sample_spots"][0] > 50 and tr.info["open_beam_spots"][0] > 50
    assert tr.info["exposure_ratio"] == 1.0 and tr.info["exposure_ratio_from"] == "exposure times"


@pytest.mark.slow
def test_real_step_wedge_steps_in_order_flat_open_beam_and_spots(stepwedge):
    res = benchmark_step_wedge(stepwedge)
    for case in ("5s", "120s"):
        assert res[case]["increasing"], res[case]["steps"]
        assert res[case]["open_region"]["median"] == pytest.approx(1.0, abs=0.002)
        assert res[case]["open_region"]["block_median_sd"] < 0.02
        assert res[case]["spots"]["sample"] > 100
    # dark does not scale with exposure, the open beam does (24x)
    assert res["120s"]["dark_median"] / res["5s"]["dark_median"] < 1.2
    assert res["120s"]["open_beam_minus_dark"] / res["5s"]["open_beam_minus_dark"] == pytest.approx(24, rel=0.05)
    # the 5 s sample normalised by the 120 s open beam (scaled by 5/120) gives the same steps
    np.testing.assert_allclose(res["5s_sample_120s_open_beam"]["steps"], res["5s"]["steps"], atol=0.01)
    assert res["5s_sample_120s_open_beam"]["exposure_ratio"] == pytest.approx(5 / 120)


@pytest.mark.slow
def test_demo_with_the_video_denoiser_cuts_variability(tmp_path):
    from operando.bench.neutron_demo import run_demo

    result = run_demo(tmp_path, time_budget_s=20, quick=True)
    var = result.metrics["dynamic_variability"]
    assert var["denoised"] < 0.85 * var["raw"]
    assert (tmp_path / "analysis" / "delta_a_denoised.tif").exists()


def test_a_transmission_file_is_denoised_as_transmission_and_raw_target_is_refused(small_phantom):
    from operando import InputError

    opens = tuple(parse_region(b) for b in small_phantom.regions["regions"]["open"]["boxes"])
    t_stack = normalize(small_phantom.sample, small_phantom.open_beam, small_phantom.dark, open_regions=opens).stack
    regions = regions_from_dict(small_phantom.regions, small_phantom.sample.shape[1:])
    config = AnalysisConfig(reference=small_phantom.reference, time_budget_s=5, open_regions=opens,
                            half_cycle_frames=tuple(small_phantom.boundaries))
    assert config.denoise_target == "transmission"  # the default, measured best on the phantom
    analysis = analyze_series(t_stack, config=config, regions=regions)  # a plain T stack, as read from T.tif
    raw_var, den_var = (analysis.metrics[k]["dynamic_variability"]["electrodes"] for k in ("raw", "denoised"))
    assert np.isfinite(analysis.delta_denoised).mean() > 0.9 and den_var < raw_var
    with pytest.raises(InputError, match="transmission"):
        analyze_series(t_stack, config=AnalysisConfig(reference=small_phantom.reference, denoise_target="raw",
                                                      time_budget_s=5), regions=regions)


def test_polishing_removes_the_reference_images_static_noise_and_the_frames_rough_noise():
    """Noise kept in the reference frames is a pattern in every Delta A frame; TV on A_ref and frames removes it."""
    from operando import Stack
    from operando.neutron import differential_attenuation
    from operando.workflows.neutron._denoise import polish

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64] / 64.0
    cell = 0.8 + 0.3 * (xx > 0.5) + 0.1 * np.sin(4 * yy)  # attenuation with an edge
    change = np.linspace(0, 0.2, 20)[:, None, None] * (yy > 0.4)  # lithium moving in the lower part
    a = cell[None] + change + 0.002 * rng.standard_normal((20, 48, 64))
    a[:4] += 0.01 * rng.standard_normal((48, 64))  # the reference frames share their kept noise
    delta = differential_attenuation(Stack(np.exp(-a).astype(np.float32), "TYX"), reference=(0, 4))
    truth = change - change[:4].mean(axis=0)
    info: dict = {}
    kept = polish(delta, AnalysisConfig(reference=(0, 4), polish="none"), info)
    smoothed = polish(delta, AnalysisConfig(reference=(0, 4)), info)
    rmse = {k: float(np.sqrt(np.mean((v - truth) ** 2))) for k, v in (("kept", kept), ("smoothed", smoothed))}
    assert rmse["smoothed"] < 0.65 * rmse["kept"]
    assert 0.001 < info["polish"]["reference_weight"] < 0.03 and info["polish"]["frame_weight_max"] < 0.01
