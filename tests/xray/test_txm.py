"""TXM XANES: optical density from sample and reference frames (checked by hand on the shared SSRL reference frame),
repeats' sd, drift, refusals, edge and white-line maps on a family of synthetic XANES stacks, and the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import InputError, Metadata, Stack
from operando.io import read
from operando.xray import edge_maps, txm_optical_density
from tests.io.test_xrm_series import REAL, real_frame, ref_name, sample_name, write_xrm


def _frame(image, energy, exposure, source="synthetic", reference=False):
    return Stack(image, "YX", Metadata(source=source, extra={"energy_ev": energy, "exposure_s": [exposure],
                                                             "reference_frames": reference}))


def test_od_matches_the_hand_formula_on_the_real_reference_frame(tmp_path):
    """Done when: -ln((I / t_sample) / (I_ref / t_ref)) by hand to 1e-6, the real 0.3 s frame as the reference and
    a 0.5 s sample made from it with a known attenuation, both written and read as .xrm."""
    ref = read(real_frame()).to_numpy()[0]
    yy, xx = np.mgrid[: ref.shape[0], : ref.shape[1]]
    attenuation = 0.2 + 1.5 * np.exp(-((yy - 500) ** 2 + (xx - 420) ** 2) / (2 * 150.0**2))
    sample = np.clip(np.round(ref * (0.5 / 0.3) * np.exp(-attenuation)), 0, 65535).astype(np.uint16)
    s_path = write_xrm(tmp_path / sample_name(8324.0, 1, 1), sample, exposure_s=0.5)
    result = txm_optical_density(read(s_path), read(REAL), align="none")
    by_hand = -np.log((sample.astype(np.float64) / 0.5) / (ref.astype(np.float64) / 0.3))
    valid = (sample > 0) & (ref > 0)
    od = result.od.to_numpy()[0]
    assert np.isfinite(od[valid]).all() and np.isnan(od[~valid]).all()
    assert np.max(np.abs(od[valid] - by_hand[valid])) < 1e-6
    assert result.sample_exposure_s == [[0.5]] and result.reference_exposure_s == [[pytest.approx(0.3)]]
    assert result.energies == [8324.0]
    # the attenuation comes back where counts are high (rounding to whole counts is the only error)
    bright = valid & (ref > np.percentile(ref, 50))
    assert np.median(np.abs(od[bright] - attenuation[bright])) < 0.01


def test_repeats_are_averaged_and_their_sd_is_the_standard_error():
    """Poisson frames: the sd from 4 sample and 6 reference repeats matches the spread of OD over 200 experiments."""
    rng = np.random.default_rng(0)
    truth = np.full((24, 24), 0.7)
    flux = 2000.0
    ods, sds = [], []
    for _ in range(200):
        samples = [_frame(rng.poisson(flux * 0.5 * np.exp(-truth)).astype(float), 8333.0, 0.5) for _ in range(4)]
        refs = [_frame(rng.poisson(flux * 0.3, truth.shape).astype(float), 8333.0, 0.3) for _ in range(6)]
        r = txm_optical_density(samples, refs, align="none")
        ods.append(r.od.to_numpy()[0])
        sds.append(r.sd[0])
    ods, sds = np.array(ods), np.array(sds)
    assert abs(ods.mean() - 0.7) < 0.005
    ratio = np.median(sds) / ods.std(axis=0).mean()
    assert 0.85 < ratio < 1.15, ratio


def test_drift_between_energies_is_aligned_and_recorded():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:96, :96]
    shifts = {8320.0: (0.0, 0.0), 8340.0: (3.0, -2.0), 8360.0: (-1.5, 4.0)}
    samples, refs = [], []
    for e, (dy, dx) in shifts.items():
        blobs = sum(np.exp(-((yy - cy - dy) ** 2 + (xx - cx - dx) ** 2) / 18.0)
                    for cy, cx in ((30, 30), (60, 45), (40, 70), (70, 70)))
        od = 0.2 + (0.8 if e > 8330 else 0.4) * blobs
        for _ in range(2):
            samples.append(_frame(rng.poisson(5000 * np.exp(-od)).astype(float), e, 0.5))
            refs.append(_frame(rng.poisson(3000.0, od.shape).astype(float), e, 0.3))
    r = txm_optical_density(samples, refs, align="linear", reference_energy_ev=8320.0)
    for k, (dy, dx) in enumerate(shifts.values()):
        np.testing.assert_allclose(r.shifts_px[k], (-dy, -dx), atol=0.25)
    assert r.sample_repeats == [2, 2, 2] and r.reference_repeats == [2, 2, 2]


def test_counts_at_or_below_the_dark_are_masked_not_clamped():
    sample = np.full((8, 8), 500.0)
    sample[2, 3] = 90.0
    dark = Stack(np.full((8, 8), 100.0), "YX")
    r = txm_optical_density(_frame(sample, 8333.0, 1.0), _frame(np.full((8, 8), 900.0), 8333.0, 1.0), dark=dark,
                            align="none")
    od = r.od.to_numpy()[0]
    assert np.isnan(od[2, 3]) and r.n_masked == 1 and any("masked" in n for n in r.notes)
    assert od[0, 0] == pytest.approx(-np.log(400 / 800))


def test_refusals_name_the_problem_in_one_line():
    ok = _frame(np.full((8, 8), 500.0), 8333.0, 0.5)
    with pytest.raises(InputError, match="frame size 8x6 differs") as err:
        txm_optical_density(ok, _frame(np.full((6, 8), 500.0), 8333.0, 0.3))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"no reference frames at 8350 eV \(references at 8333 eV\)"):
        txm_optical_density([ok, _frame(np.full((8, 8), 500.0), 8350.0, 0.5)], _frame(np.full((8, 8), 9.0), 8333.0, .3))
    with pytest.raises(InputError, match="these are reference frames"):
        txm_optical_density(_frame(np.full((8, 8), 5.0), 8333.0, 0.3, reference=True), ok)
    with pytest.raises(InputError, match="no exposure time recorded"):
        txm_optical_density(ok, Stack(np.full((8, 8), 9.0), "YX", Metadata(extra={"energy_ev": 8333.0})))


# ----------------------------------------------------------------------------------------------------- edge maps
def _xanes(rng, energies, e0, width, wl_shift, wl_height, wl_width, step, pre_slope=0.0):
    """OD(E) = pre line + step * (edge + white line): a tanh edge at e0 and a Gaussian white line at e0 + wl_shift."""
    e = energies[:, None, None]
    edge = 0.5 * (1 + np.tanh((e - e0) / width))
    white = wl_height * np.exp(-((e - e0 - wl_shift) ** 2) / (2 * wl_width**2))
    return 0.3 + pre_slope * (e - energies[0]) + step * (edge + white * edge)


def _truth(energy_fine, e0, width, wl_shift, wl_height, wl_width):
    """Where the noise-free normalised spectrum crosses 0.5 and peaks (on a fine grid, per pixel)."""
    mu = _xanes(None, energy_fine, e0, width, wl_shift, wl_height, wl_width, 1.0) - 0.3
    above = mu >= 0.5
    edge = energy_fine[np.argmax(above, axis=0)]
    white = energy_fine[np.argmax(mu, axis=0)]
    return edge, white


@pytest.mark.parametrize("seed", range(8))
def test_edge_and_white_line_positions_recovered_on_a_family_of_xanes_stacks(seed):
    """Per seed: a Ni-K-like grid (dense near the edge), edge position varying over the field by up to 3 eV, edge
    width, white-line height and distance, step and noise drawn at random; positions within 0.35 eV (median
    pixel) and the bootstrap sd within a factor 1.6 of the actual error."""
    rng = np.random.default_rng(seed)
    energies = np.unique(np.round(np.concatenate([np.arange(8250, 8320, 10.0), np.arange(8320, 8370, 1.0),
                                                  np.arange(8370, 8451, 10.0)]), 3))
    ny, nx = 12, 16
    e0 = 8333.0 + rng.uniform(-1, 1) + np.linspace(0, rng.uniform(1, 3), nx)[None, :].repeat(ny, 0)
    width = rng.uniform(1.5, 3.0)
    wl_shift, wl_height, wl_width = rng.uniform(6, 9), rng.uniform(0.3, 0.8), rng.uniform(2, 4)
    step = rng.uniform(0.5, 1.2)
    noise = rng.uniform(0.005, 0.02)
    clean = _xanes(rng, energies, e0, width, wl_shift, wl_height, wl_width, step, pre_slope=rng.uniform(-2e-4, 2e-4))
    od = clean + noise * rng.standard_normal(clean.shape)
    sd = np.full(od.shape, noise)
    stack = Stack(od, "EYX", Metadata(energies=tuple(energies)))
    maps = edge_maps(stack, sd, pre_edge_ev=(8250, 8310), post_edge_ev=(8400, 8450), bootstrap=40, rng=seed)
    fine = np.arange(8300, 8380, 0.005)
    true_edge, true_white = _truth(fine, e0, width, wl_shift, wl_height, wl_width)
    edge_err = maps.maps[0] - true_edge
    white_err = maps.maps[2] - true_white
    assert np.isfinite(maps.maps).all()
    assert np.median(np.abs(edge_err)) < 0.35 and np.median(np.abs(white_err)) < 0.6
    assert np.median(np.abs(maps.maps[4] - step)) < 0.05
    calib = np.sqrt(np.mean(edge_err**2)) / np.median(maps.maps[1])
    assert 1 / 1.6 < calib < 1.6, calib


def test_derivative_method_finds_the_steepest_point_of_a_plain_edge():
    energies = np.arange(8300.0, 8400.0, 0.5)
    e0 = np.array([[8331.0, 8334.5], [8336.2, 8340.0]])
    od = _xanes(None, energies, e0, 2.0, 8.0, 0.0, 3.0, 1.0)
    maps = edge_maps(Stack(od, "EYX", Metadata(energies=tuple(energies))), method="derivative")
    np.testing.assert_allclose(maps.maps[0], e0, atol=0.1)
    assert np.isnan(maps.maps[1]).all() and any("sd channels are NaN" in n for n in maps.notes)


def test_two_energies_give_the_edge_jump_and_its_sd():
    od = np.stack([np.full((4, 5), 0.3), np.full((4, 5), 1.1)])
    sd = np.stack([np.full((4, 5), 0.03), np.full((4, 5), 0.04)])
    maps = edge_maps(Stack(od, "EYX", Metadata(energies=(8320.0, 8350.0))), sd)
    assert maps.channels == ["jump", "sd_jump"]
    np.testing.assert_allclose(maps.maps[0], 0.8)
    np.testing.assert_allclose(maps.maps[1], 0.05)


def test_edge_maps_refuse_three_energies_and_empty_windows():
    od = Stack(np.ones((3, 4, 4)), "EYX", Metadata(energies=(1.0, 2.0, 3.0)))
    with pytest.raises(InputError, match="give 2 for an edge-jump map, or at least 5"):
        edge_maps(od)
    od6 = Stack(np.ones((6, 4, 4)), "EYX", Metadata(energies=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)))
    with pytest.raises(InputError, match="pre-edge window 10:20 eV holds none"):
        edge_maps(od6, pre_edge_ev=(10, 20))


# ------------------------------------------------------------------------------------------------------ commands
def _series(folder, *, shape=(64, 80), energies=(8320.0, 8330.0, 8333.0, 8336.0, 8340.0, 8350.0, 8380.0),
            repeats=2, refs=3, seed=0):
    """A TXM series written as .xrm: 0.5 s samples, 0.3 s references, a particle whose OD jumps at 8333 eV."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    particle = np.exp(-((yy - 30) ** 2 + (xx - 40) ** 2) / (2 * 12.0**2))
    beam = 20000 * (1 + 0.2 * np.cos(xx / 15.0))
    truth = {}
    for e in energies:
        od = 0.1 + particle * (0.3 + 0.6 * (0.5 + 0.5 * np.tanh((e - 8333.0) / 2.0)))
        truth[e] = od
        for r in range(1, repeats + 1):
            img = rng.poisson(beam * 0.5 * np.exp(-od)).clip(0, 65535).astype(np.uint16)
            write_xrm(folder / sample_name(e, r, repeats), img, exposure_s=0.5)
        for r in range(1, refs + 1):
            img = rng.poisson(beam * 0.3).clip(0, 65535).astype(np.uint16)
            write_xrm(folder / ref_name(e, r, refs), img, exposure_s=0.3)
    return truth


def test_txm_od_and_edge_commands_on_a_written_series(tmp_path):
    from operando.cli import app

    real_frame()
    scan = tmp_path / "scan"
    scan.mkdir()
    truth = _series(scan)
    out = tmp_path / "od.tif"
    runner = CliRunner()
    samples = sorted(str(p) for p in scan.glob("*.xrm") if "_ref_" not in p.name)
    result = runner.invoke(app, ["txm", "od", *samples, "--flat", str(scan / "*_ref_*.xrm"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    od = read(out, allow_nan=True)
    assert od.axes == "EYX" and od.shape == (7, 64, 80) and od.metadata.energies[0] == 8320.0
    err = np.abs(od.to_numpy() - np.stack(list(truth.values())))
    assert np.nanmedian(err) < 0.01
    summary = json.loads((tmp_path / "od.json").read_text())
    assert summary["sample_repeats"] == [2] * 7 and summary["reference_repeats"] == [3] * 7
    assert summary["sample_exposure_s"][0] == [0.5, 0.5] and summary["reference_exposure_s"][0][0] == pytest.approx(0.3)
    assert len(summary["alignment_shifts_px"]) == 7 and "numpy" in summary["versions"]
    assert (tmp_path / "od_sd.tif").exists()
    maps = tmp_path / "maps.tif"
    result = runner.invoke(app, ["txm", "edge", str(out), "-o", str(maps), "--pre-edge", "8320:8320",
                                 "--post-edge", "8350:8380", "--bootstrap", "10", "--seed", "3"])
    assert result.exit_code == 0, result.output
    edge = read(maps, allow_nan=True).to_numpy()
    centre = edge[0][25:35, 35:45]
    assert abs(np.nanmedian(centre) - 8333.0) < 1.0
    recorded = json.loads((tmp_path / "maps.json").read_text())
    assert recorded["channels"][0] == "edge_ev" and recorded["seed"] == 3
    jump = tmp_path / "jump.tif"
    result = runner.invoke(app, ["txm", "edge", str(out), "-o", str(jump), "--below", "8320", "--above", "8380"])
    assert result.exit_code == 0, result.output
    assert np.nanmedian(read(jump, allow_nan=True).to_numpy()[0][25:35, 35:45]) == pytest.approx(0.6, abs=0.05)


def test_txm_od_refusals_exit_2_in_one_line(tmp_path):
    from operando.cli import app

    real_frame()
    scan = tmp_path / "scan"
    scan.mkdir()
    _series(scan, shape=(32, 40), energies=(8320.0, 8350.0), repeats=1, refs=1)
    runner = CliRunner()
    out = str(tmp_path / "od.tif")
    mixed = runner.invoke(app, ["txm", "od", str(scan / "*.xrm"), "--flat", str(scan / "*_ref_*.xrm"), "-o", out])
    missing = runner.invoke(app, ["txm", "od", str(scan / "rep01_000051_ssrl*.xrm"), "--flat",
                                  str(scan / "*_ref_*08320.0_eV*.xrm"), "-o", out])
    write_xrm(tmp_path / sample_name(8320.0, 1, 1), np.ones((16, 40), np.uint16), exposure_s=0.5)
    sizes = runner.invoke(app, ["txm", "od", str(tmp_path / sample_name(8320.0, 1, 1)), "--flat",
                                str(scan / "*_ref_*08320.0_eV*.xrm"), "-o", out])
    for result, expected in ((mixed, "mixes 2 reference frames"), (missing, "no reference frames at 8350 eV"),
                             (sizes, "frame size 40x32 differs")):
        assert result.exit_code == 2, result.output
        text = result.output.strip()
        assert text.startswith("error:") and expected in " ".join(text.split()), text
        assert len(text.splitlines()) <= 3  # one line, soft-wrapped by the test terminal at most
    assert not (tmp_path / "od.tif").exists()
