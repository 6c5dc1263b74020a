"""operando.xray: optical density, alignment, composition with uncertainty, scan-line noise (tiny, seeded data)."""

import numpy as np
import pytest

from operando import InputError, Stack
from operando.xray import (
    I0Spectrum,
    align_stack,
    check_energy_shift,
    composition,
    default_references,
    diagnose_stripes,
    estimate_shift,
    optical_density,
    read_reference_spectra,
    remove_row_offsets,
    shift_image,
    stripe_share,
)

ENERGIES = [708.2, 710.2]


def _disk_scene(n=48, x_left=0.8, x_right=0.2, t0=0.1):
    yy, xx = np.mgrid[:n, :n]
    t = np.where((yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (n / 4) ** 2, t0, 0.0)
    x = np.where(xx < n / 2, x_left, x_right)
    mu = default_references().at(ENERGIES)
    od = np.stack([t * (x * mu[e, 0] + (1 - x) * mu[e, 1]) for e in range(2)])
    return t, x, od


def test_od_is_minus_log_ratio_and_bad_counts_are_masked_not_replaced():
    counts = np.full((2, 16, 16), 1000.0)
    counts[:, 4:8, 4:8] = 1000.0 * np.exp(-0.5)
    counts[0, 0, 0] = 0
    counts[1, 1, 1] = np.nan
    r = optical_density(counts, axes="EYX", i0=(8, 16, 0, 16))
    od = r.od.to_numpy()
    assert np.allclose(od[:, 5, 5], 0.5) and np.allclose(od[:, 10, 10], 0.0)
    assert np.isnan(od[0, 0, 0]) and np.isnan(od[1, 1, 1]) and r.n_bad == 2
    assert any("masked" in n for n in r.notes)
    assert np.allclose(r.variance[:, 5, 5], 1 / (1000 * np.exp(-0.5)) + 1 / (1000 * 128), rtol=1e-6)


def test_auto_i0_finds_the_particle_free_pixels(rng):
    t, _, od = _disk_scene()
    counts = rng.poisson(2000 * np.exp(-od)).astype(float)
    r = optical_density(counts, axes="EYX")
    assert not np.any(r.background & (t > 0))
    assert r.background.sum() > 0.8 * (t == 0).sum()
    assert np.allclose(r.i0, 2000, rtol=0.01)


def test_per_line_i0_removes_line_gains(rng):
    _, _, od = _disk_scene()
    gain = np.exp(rng.normal(0, 0.05, (2, 48, 1)))
    counts = rng.poisson(5000 * gain * np.exp(-od)).astype(float)
    plain = optical_density(counts, axes="EYX")
    lines = optical_density(counts, axes="EYX", per_line=True)
    err_plain = stripe_share(plain.od.to_numpy()[0] - od[0])
    err_lines = stripe_share(lines.od.to_numpy()[0] - od[0])
    assert err_plain > 0.5 and err_lines < 0.2 * err_plain


def test_i0_spectrum_scaled_by_dwell_and_ring_current():
    counts = np.full((2, 8, 8), 500.0)
    meta = Stack(counts, "EYX").metadata.replace(energies=(708.0, 710.0), extra={"dwell_ms": 2.0,
                                                                                 "ring_current_ma": [300.0, 150.0]})
    stack = Stack(counts, "EYX", meta)
    spectrum = I0Spectrum(np.array([700.0, 720.0]), np.array([250.0, 250.0]), dwell_ms=1.0)
    r = optical_density(stack, i0=spectrum)
    assert np.allclose(r.od.to_numpy(), 0.0)
    r = optical_density(stack, i0=spectrum, ring_current=True)
    assert np.allclose(r.od.to_numpy()[1], -np.log(500 / 0.6667 / 500), atol=1e-3)
    with pytest.raises(InputError, match="covers 700-705 eV"):
        optical_density(stack, i0=I0Spectrum(np.array([700.0, 705.0]), np.array([1.0, 1.0]), 1.0))


def test_exact_solve_recovers_x_and_t_without_noise():
    t, x, od = _disk_scene()
    comp = composition(od, np.full_like(od, 1e-4), energies=ENERGIES)
    inside = t > 0
    assert np.allclose(comp.x[inside], x[inside]) and np.allclose(comp.thickness[inside], t[inside])
    assert np.array_equal(comp.mask, inside) and np.isnan(comp.x[~inside]).all()
    assert comp.method == "exact solve" and any("APPROXIMATE" in n for n in comp.notes)


def test_propagated_sd_is_calibrated_for_poisson_counts(rng):
    t0, x0 = 0.1, 0.6
    mu = default_references().at(ENERGIES)
    od = np.stack([np.full((64, 64), t0 * (x0 * mu[e, 0] + (1 - x0) * mu[e, 1])) for e in range(2)])
    counts = rng.poisson(300 * np.exp(-od)).astype(float)
    counts = np.concatenate([counts, rng.poisson(300, (2, 64, 16)).astype(float)], axis=2)
    r = optical_density(counts, axes="EYX", i0=(0, 64, 64, 80))
    comp = composition(r.od.to_numpy(), r.variance, energies=ENERGIES, mask=np.ones((64, 80), bool))
    z = (comp.x[:, :64] - x0) / comp.sd_x[:, :64]
    assert 0.92 < np.mean(np.abs(z) < 1.96) < 0.98


@pytest.mark.parametrize("energies", [ENERGIES, [*ENERGIES, 712.0]], ids=["exact-solve", "least-squares"])
def test_correlated_errors_between_energies_are_propagated_into_sd_x(rng, energies):
    """Errors shared by the energies (a denoiser smooths the same edges in each) cancel in x: sd(x) must say so."""
    t0, x0, n_e = 0.1, 0.6, len(energies)
    mu = default_references().at(energies)
    clean = np.stack([np.full((64, 64), t0 * (x0 * mu[e, 0] + (1 - x0) * mu[e, 1])) for e in range(n_e)])
    sd = np.array([0.02, 0.03, 0.025])[:n_e]
    cov = np.array([[1, 0.9, 0.8], [0.9, 1, 0.85], [0.8, 0.85, 1]])[:n_e, :n_e] * np.outer(sd, sd)
    noise = rng.multivariate_normal(np.zeros(n_e), cov, size=(64, 64)).transpose(2, 0, 1)
    var = np.broadcast_to((sd**2)[:, None, None], clean.shape)
    full = np.broadcast_to(cov[:, :, None, None], (n_e, n_e, 64, 64))
    mask = np.ones((64, 64), bool)
    independent = composition(clean + noise, var, energies=energies, mask=mask)
    correlated = composition(clean + noise, var, energies=energies, mask=mask, covariance=full)
    share = [np.mean(np.abs((c.x - x0) / c.sd_x) < 1.96) for c in (independent, correlated)]
    assert share[0] > 0.99  # independent errors assumed: sd(x) too large
    assert 0.93 < share[1] < 0.97
    assert np.allclose(correlated.x, independent.x)  # the estimate itself is unchanged
    with pytest.raises(InputError, match="covariance must have shape"):
        composition(clean, var, energies=energies, covariance=full[:, :, :10])


def test_nonnegative_least_squares_with_constant_term():
    energies = [706.0, 708.2, 709.0, 710.2, 712.0]
    mu = default_references().at(energies)
    od = (0.05 * mu[:, 0] + 0.0 * mu[:, 1] + 0.2)[:, None, None] * np.ones((5, 6, 6))
    comp = composition(od, np.full_like(od, 1e-6), energies=energies, constant=True, significance=0.0, min_size=1)
    assert comp.method == "non-negative weighted least squares"
    assert np.allclose(comp.x, 1.0) and np.allclose(comp.offset, 0.2, atol=1e-6)
    assert np.all(comp.components >= 0)


def test_reference_csv_and_errors(tmp_path):
    good = tmp_path / "refs.csv"
    good.write_text("energy_ev,LiFePO4,FePO4\n706,1.0,2.0\n712,3.0,4.0\n")
    refs = read_reference_spectra(good)
    assert refs.phases == ("LiFePO4", "FePO4") and not refs.approximate
    assert np.allclose(refs.at([709.0]), [[2.0, 3.0]])
    with pytest.raises(InputError, match="outside the reference spectra"):
        refs.at([700.0])
    bad = tmp_path / "bad.csv"
    bad.write_text("eV;LFP;FP\n1;2;3\n")
    with pytest.raises(InputError, match="energy_ev,<phase>"):
        read_reference_spectra(bad)
    with pytest.raises(InputError, match=">= 2 energies"):
        composition(np.zeros((1, 4, 4)), np.ones((1, 4, 4)), energies=[708.0])


def test_energy_shift_check_finds_a_calibration_offset():
    energies = list(np.arange(705.0, 714.0, 0.5))
    refs = default_references()
    mu = refs.at(energies, shift_ev=0.6)
    od = (0.1 * (0.5 * mu[:, 0] + 0.5 * mu[:, 1]))[:, None, None] * np.ones((len(energies), 4, 4))
    check = check_energy_shift(od, np.ones((4, 4), bool), energies=energies, references=refs)
    assert check["shift_ev"] == pytest.approx(0.6, abs=0.06) and "calibration" in check["note"]
    assert check_energy_shift(od[:2], np.ones((4, 4), bool), energies=energies[:2])["shift_ev"] is None


def _blobs(n=64, seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    img = np.zeros((n, n))
    img[rng.integers(8, n - 8, 12), rng.integers(8, n - 8, 12)] = 1.0
    return ndimage.gaussian_filter(img, 3) * 50


@pytest.mark.parametrize("weight", ["gradient", "intensity"])
def test_shift_estimate_is_sub_pixel(weight):
    ref = _blobs()
    moved = shift_image(ref, (1.4, -2.3), resample="spline")
    dy, dx = estimate_shift(ref, moved, weight=weight)
    assert dy == pytest.approx(-1.4, abs=0.15) and dx == pytest.approx(2.3, abs=0.15)


def test_align_stack_logs_shifts_and_integer_mode_does_not_interpolate():
    ref = _blobs()
    data = np.stack([ref, shift_image(ref, (0.0, 3.0), resample="integer")])
    res = align_stack(Stack(data, "EYX"), resample="integer")
    assert res.shifts.shape == (1, 2, 2) and res.shifts[0, 1] == pytest.approx((0.0, -3.0), abs=0.15)
    aligned = res.stack.to_numpy()
    ok = np.isfinite(aligned[1])
    assert np.array_equal(aligned[1][ok], ref[ok]) and res.residual_px < 0.2
    assert np.isnan(aligned[1][:, -3:]).all()


def test_stripe_diagnosis_and_row_offset_removal(rng):
    noise = rng.normal(0, 0.02, (48, 48))
    clean = diagnose_stripes(noise)
    striped = noise + rng.normal(0, 0.02, (48, 1))
    d = diagnose_stripes(striped)
    assert clean.to_dict()["row_excess"] < 1.5 and d.to_dict()["row_excess"] > 4
    assert d.ridge > 0.3 and d.ky_power_fraction > 5 * clean.ky_power_fraction
    fixed, offsets = remove_row_offsets(striped, np.ones((48, 48), bool))
    assert diagnose_stripes(fixed).to_dict()["row_excess"] < 1.5 and offsets.shape == (48,)
    assert stripe_share(striped) > 0.4 and stripe_share(noise) < 0.1


def test_flat_field_od_scales_by_exposure_on_the_real_xradia_frame():
    from pathlib import Path

    from operando.io import read
    from operando.xray import flat_field_od

    files = sorted((Path(__file__).resolve().parents[2].parent / "shared" / "data" / "txm").glob("*.xrm"))
    if not files:
        pytest.skip("../shared/data/txm is not here")
    ref = read(files[0])  # 0.3 s reference frame
    longer = Stack(ref.to_numpy().astype(float) * 0.5 / 0.3, "EYX", ref.metadata.replace(
        extra={**ref.metadata.extra, "exposure_s": [0.5]}))  # the same flux seen for 0.5 s
    od = flat_field_od(longer, ref).to_numpy()
    assert np.nanmax(np.abs(od)) < 1e-9 and np.isnan(od).sum() == np.count_nonzero(ref.to_numpy() <= 0)
    with pytest.raises(InputError, match="exposure"):
        flat_field_od(Stack(ref.to_numpy(), "EYX"), ref)
