"""The STXM workflow end to end on a tiny phantom: files a beamline writes -> composition -> outputs; compare."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from operando.cli import app

ROOT = Path(__file__).resolve().parents[2]
STXM = ROOT.parent / "shared" / "data" / "stxm" / "maxymus"
runner = CliRunner()


@pytest.fixture(scope="module")
def phantom():
    from operando.xray import PhantomConfig, make_phantom

    return make_phantom(PhantomConfig(size=32, frames=2, n_particles=1, i0_counts=400, ch_dt=1e-4, seed=3))


@pytest.fixture(scope="module")
def phantom_dir(phantom, tmp_path_factory):
    from operando.xray import write_phantom

    out = tmp_path_factory.mktemp("phantom")
    write_phantom(phantom, out)
    return out


def test_phantom_truth_and_counts(phantom):
    assert phantom.counts.axes == "TEYX" and phantom.counts.shape == (2, 2, 32, 32)
    assert phantom.counts.metadata.energies == (708.2, 710.2)
    inside = phantom.labels > 0
    assert 0.1 < inside.mean() < 0.6 and np.isnan(phantom.x_true[:, ~inside]).all()
    assert np.nanmean(phantom.x_true[1]) > np.nanmean(phantom.x_true[0])  # lithium goes in
    assert phantom.reference.shape == (2, 64, 64) and phantom.reference.metadata.pixel_size == 0.015


def test_composition_from_written_files_recovers_the_truth(phantom, phantom_dir):
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, read_series, run_composition

    counts = read_series([str(phantom_dir / "stxm_t*.hdr")])
    assert counts.axes == "TEYX" and np.array_equal(counts.to_numpy(), phantom.counts.to_numpy())
    run = run_composition(counts, config=CompositionConfig())
    score = score_run(run, phantom)
    assert score["rmse_x"] < 0.2 and abs(score["mean_bias"]) < 0.05 and score["mask_recall"] > 0.9
    assert 0.85 < score["coverage_1.96sd"] < 0.99
    assert np.allclose(np.array(run.summary["shifts_px"]), -phantom.shifts, atol=0.5)
    nx = run_composition(counts.__class__(counts.to_numpy()[0], "EYX", counts.metadata), config=CompositionConfig())
    assert nx.maps.shape == (1, 3, 32, 32)


def test_cli_composition_writes_tif_and_json(phantom_dir, tmp_path):
    out = tmp_path / "x.tif"
    result = runner.invoke(app, ["stxm", "composition", str(phantom_dir / "stxm.nxstxm.h5"), "-o", str(out),
                                 "--energies", "708.2,710.2"])
    assert result.exit_code == 0, result.output
    from operando.io import read

    maps = read(out, allow_nan=True)
    assert maps.axes == "TCYX" and maps.shape == (2, 3, 32, 32) and maps.dtype == np.float32
    x, thick = maps.to_numpy()[:, 0], maps.to_numpy()[:, 1]
    assert np.array_equal(np.isnan(x), np.isnan(thick))
    summary = json.loads(out.with_suffix(".json").read_text())
    for key in ("energies_ev", "i0_source", "shifts_px", "mask_fraction", "frames", "stripes", "config", "seed"):
        assert key in summary
    assert summary["frames"][0]["ci95_low"] < summary["frames"][0]["mean_x"] < summary["frames"][0]["ci95_high"]


@pytest.mark.parametrize(("name", "says"), [("tutorial000000005.hdr", ">= 2 energies"),  # one energy
                                            ("tutorial000000001.hdr", "1 x 4 pixels (point spectra")])
def test_real_files_without_a_map_at_two_energies_are_refused_in_one_line(tmp_path, name, says):
    if not STXM.is_dir():
        pytest.skip("../shared/data/stxm is not here")
    result = runner.invoke(app, ["stxm", "composition", str(STXM / name), "-o", str(tmp_path / "x.tif")])
    assert result.exit_code == 2 and says in result.output
    assert not list(tmp_path.iterdir())


def test_convert_real_hdr_to_nxstxm_tif_zarr(tmp_path):
    if not STXM.is_dir():
        pytest.skip("../shared/data/stxm is not here")
    for name in ("a.stxm.nxs", "b.tif", "c.zarr", "d.nxs"):
        result = runner.invoke(app, ["convert", str(STXM / "tutorial000000005.hdr"), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "b.txt").read_text().strip() == "709.5000"
    from operando.io import read

    assert read(tmp_path / "c.zarr").metadata.energies == (709.5,)
    from operando.io import read_nxstxm

    plain = read(tmp_path / "d.nxs")  # a plain .nxs: NXstxm inside, the generic HDF5 reader gets axes and energies
    assert plain.axes == "EYX" and plain.metadata.energies == (709.5,)
    assert read_nxstxm(tmp_path / "d.nxs").metadata.extra["format"] == "NXstxm"


def test_compare_registers_a_finer_shifted_reference():
    from operando import Metadata, Stack
    from operando.metrics import compare_to_reference, paired_statistics
    from operando.workflows.compare import compare_versions

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128]
    fine = np.exp(-((yy - 60) ** 2 + (xx - 70) ** 2) / 300.0) + 0.5 * np.exp(-((yy - 30) ** 2 + (xx - 30) ** 2) / 80)
    from scipy import ndimage

    coarse = fine.reshape(64, 2, 64, 2).mean(axis=(1, 3))
    ref = ndimage.shift(fine, (1.6, -2.2), order=3)
    good = coarse + rng.normal(0, 0.02, coarse.shape)
    bad = coarse + rng.normal(0, 0.1, coarse.shape)
    c = compare_to_reference(good, ref, scale=0.5)
    assert c.shift == pytest.approx((-0.8, 1.1), abs=0.25) and c.psnr > 25
    meta = Metadata(pixel_size=0.03)
    table = compare_versions({"bad": Stack(np.stack([bad, bad]), "TYX", meta), "good": Stack(np.stack([good, good]),
                              "TYX", meta)}, Stack(ref, "YX", Metadata(pixel_size=0.015)))
    stats = table.statistics["good"]["psnr_db"]
    assert stats["mean_difference"] > 10 and stats["share_improved"] == 1.0
    assert paired_statistics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.5]))["mean_difference"] == \
        pytest.approx(7 / 6)


def test_denoised_before_the_ratio_is_better_and_its_split_sd_is_calibrated(phantom):
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition

    raw = score_run(run_composition(phantom.counts, config=CompositionConfig()), phantom)
    run = run_composition(phantom.counts, config=CompositionConfig(denoise="tv", joint_energies=False))
    den = score_run(run, phantom)
    assert "thinned" in run.summary["sd_source"]
    assert den["rmse_x"] < 0.8 * raw["rmse_x"]
    assert 0.85 < den["coverage_1.96sd"] < 0.995


def test_cli_compare_with_figure_and_json(tmp_path):
    from operando import Metadata, Stack
    from operando.io import write

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:96, :96]
    fine = np.exp(-((yy - 40) ** 2 + (xx - 50) ** 2) / 200.0)
    coarse = fine.reshape(48, 2, 48, 2).mean(axis=(1, 3))
    write(Stack(np.stack([coarse + rng.normal(0, 0.1, coarse.shape) for _ in range(3)]).astype(np.float32), "TYX",
                Metadata(pixel_size=0.03, pixel_unit="um")), tmp_path / "raw.tif")
    write(Stack(np.stack([coarse + rng.normal(0, 0.02, coarse.shape) for _ in range(3)]).astype(np.float32), "TYX",
                Metadata(pixel_size=0.03, pixel_unit="um")), tmp_path / "den.tif")
    write(Stack(fine.astype(np.float32), "YX", Metadata(pixel_size=0.015, pixel_unit="um")), tmp_path / "ref.tif")
    result = runner.invoke(app, ["compare", str(tmp_path / "raw.tif"), str(tmp_path / "den.tif"), "--reference",
                                 str(tmp_path / "ref.tif"), "--figure", str(tmp_path / "box.png"), "--json",
                                 str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "c.json").read_text())
    assert len(table["rows"]) == 6 and table["paired_statistics"]["den.tif"]["psnr_db"]["mean_difference"] > 8
    assert (tmp_path / "box.png").stat().st_size > 1000


def test_cli_od_of_a_real_single_energy_image(tmp_path):
    if not STXM.is_dir():
        pytest.skip("../shared/data/stxm is not here")
    result = runner.invoke(app, ["stxm", "od", str(STXM / "tutorial000000003.hdr"), "-o", str(tmp_path / "od.tif"),
                                 "--i0", "0:100,80:100", "--no-per-line-i0"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "od.json").read_text())
    assert summary["i0_source"].startswith("given region") and summary["energies_ev"] == [707.8]


@pytest.mark.slow
def test_demo_and_benchmark_run(tmp_path):
    result = runner.invoke(app, ["stxm", "demo", "-o", str(tmp_path / "demo"), "--quick"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "report.md").exists() and (tmp_path / "demo" / "phantom" / "stxm_t000.hdr").exists()
    result = runner.invoke(app, ["benchmark", "stxm", "-o", str(tmp_path / "b"), "--size", "48", "--frames", "2",
                                 "--extra", "nlm", "--bias-draws", "2"])
    assert result.exit_code == 0, result.output
    targets = json.loads((tmp_path / "b" / "results.json").read_text())["targets"]
    assert targets["stripe_share_removed"]["value"] > 0.5
    assert "mean error over 3 noise draws" in targets["max_abs_bias_denoised"]["target"]


def test_one_tv_weight_for_both_energies_beats_a_weight_per_image():
    """Both energies smoothed alike keep their edge errors together: x (their ratio) comes out closer to the truth."""
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition
    from operando.xray import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(size=64, frames=1, n_particles=2, i0_counts=150, seed=1))
    joint = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv")), phantom)
    apart = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv", joint_energies=False)),
                      phantom)
    assert joint["rmse_x"] < 0.97 * apart["rmse_x"]


def test_split_sd_with_the_errors_correlation_between_energies_is_calibrated():
    """1.96 sd(x) covers 90-98 % of the denoised pixels once the energies' shared error is carried into sd(x)."""
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition
    from operando.xray import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(seed=1))  # the benchmark's phantom, other particles and noise
    covered = {ec: score_run(run_composition(phantom.counts, config=CompositionConfig(
        denoise="tv", energy_covariance=ec)), phantom)["coverage_1.96sd"] for ec in (True, False)}
    assert 0.90 < covered[True] < 0.98
    assert covered[False] > covered[True] + 0.03  # independent errors assumed: intervals too wide
    plain = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv")), phantom)
    smooth = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv", od_smooth_px=0.7)),
                       phantom)
    assert smooth["rmse_x"] < 0.93 * plain["rmse_x"]  # measured 0.0412 against 0.0462
    assert 0.90 < smooth["coverage_1.96sd"] < 0.98  # the split sd follows the smoothing


def test_noise_draws_share_the_scene_and_average_to_a_small_bias():
    """Another noise draw keeps the particles; averaged over draws, each particle's raw Li fraction is unbiased."""
    from operando.bench.stxm import expected_particle_bias
    from operando.workflows.stxm import CompositionConfig
    from operando.xray import PhantomConfig, make_phantom, noise_draw

    phantom = make_phantom(PhantomConfig(size=48, frames=1, n_particles=2, i0_counts=300, seed=2))
    one, again, other = noise_draw(phantom, 1), noise_draw(phantom, 1), noise_draw(phantom, 2)
    assert np.array_equal(one.data, again.data) and not np.array_equal(one.data, other.data)
    assert one.metadata.energies == phantom.counts.metadata.energies and one.metadata.extra["noise_seed"] == 1
    # the same scene: the two draws' counts follow the same particles pixel by pixel
    assert np.corrcoef(one.data.ravel(), other.data.ravel())[0, 1] > 0.5
    bias = expected_particle_bias(phantom, {"raw": CompositionConfig()}, 5)["raw"]
    assert bias["draws"] == 6 and np.isfinite(bias["se_of_max"])
    assert bias["max_abs_bias"] < 0.01 + 3 * bias["se_of_max"]
    assert bias["max_abs_error_one_draw"] >= bias["max_abs_bias"]


def test_denoised_composition_marks_no_false_particles_in_the_background():
    """Denoised OD has correlated errors: its particle mask must also be significant in the raw counts."""
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition
    from operando.xray import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(size=64, frames=1, n_particles=2, i0_counts=150, seed=1))
    raw = score_run(run_composition(phantom.counts, config=CompositionConfig()), phantom)
    run = run_composition(phantom.counts, config=CompositionConfig(denoise="tv"))
    tv = score_run(run, phantom)
    assert tv["mask_precision"] > 0.85 and tv["mask_precision"] >= raw["mask_precision"] - 0.02  # was 0.45
    assert tv["mask_recall"] > 0.98
    assert np.all(np.isnan(run.maps[:, 0][~run.mask]))


def test_tv_and_joint_bm3d_averaged_beat_tv_with_a_calibrated_sd():
    """--denoise tv+bm3d (the mean of joint TV and joint BM3D on the root transmission) lowers the x error."""
    pytest.importorskip("bm3d")
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition
    from operando.xray import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(frames=1, seed=2))
    tv = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv")), phantom)
    both = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="tv+bm3d")), phantom)
    assert both["rmse_x"] < 0.93 * tv["rmse_x"]  # measured 0.0446 against 0.0506
    assert 0.90 < both["coverage_1.96sd"] < 0.98  # measured 0.941


def test_an_unknown_denoiser_in_a_list_is_refused_before_any_work():
    from operando._errors import InputError
    from operando.workflows.stxm import CompositionConfig, run_composition

    with pytest.raises(InputError, match="'tvv' is not a denoising method.*joined by"):
        run_composition(None, config=CompositionConfig(denoise="nlm+tvv"))


def test_cli_tv_plus_bm3d_without_the_extra_says_what_to_install(phantom_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "bm3d", None)  # as if operando[bm3d] were not installed
    out = tmp_path / "x.tif"
    result = runner.invoke(app, ["stxm", "composition", str(phantom_dir / "stxm.nxstxm.h5"), "-o", str(out),
                                 "--denoise", "tv+bm3d"])
    assert result.exit_code == 2 and "pip install 'operando[bm3d]'" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_joint_bm3d_runs_on_images_too_small_to_measure_the_noise_spectrum(phantom):
    """32 px images: BM3D falls back to white noise with a wavelet-MAD sigma and still beats raw."""
    pytest.importorskip("bm3d")
    from operando.bench.stxm import score_run
    from operando.workflows.stxm import CompositionConfig, run_composition

    raw = score_run(run_composition(phantom.counts, config=CompositionConfig()), phantom)
    bm3d = score_run(run_composition(phantom.counts, config=CompositionConfig(denoise="bm3d")), phantom)
    assert bm3d["rmse_x"] < 0.8 * raw["rmse_x"]  # measured 0.059 against 0.084
