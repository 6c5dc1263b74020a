"""The correlated-noise benchmark reports the residual check, and its STXM jitter case displaces rows as stated."""

import numpy as np
import pytest

from operando import InputError
from operando.bench.correlated import add_row_jitter, benchmark_correlated, split_jitter


def test_jitter_spec_is_split_off_and_checked():
    assert split_jitter("jitter:0.3,0.8+scanline:0.05,0,0.05") == ((0.3, 0.8), "scanline:0.05,0,0.05")
    assert split_jitter("jitter:0.5") == ((0.5, 0.8), "")
    assert split_jitter("gaussian:0.1") == (None, "gaussian:0.1")
    with pytest.raises(InputError, match="jitter"):
        split_jitter("jitter:0.3,1.5")


def test_row_jitter_moves_each_row_by_a_correlated_sub_pixel_shift():
    n = 400
    ramp = np.tile(np.arange(64, dtype=np.float64), (n, 1))  # value = x, so the shift of a row is its change
    shifted = add_row_jitter(ramp, 0.3, 0.8, rng=0)
    shifts = (shifted - ramp)[:, 10:-10].mean(axis=1)
    assert np.allclose((shifted - ramp)[:, 10:-10], shifts[:, None], atol=1e-9)  # a rigid shift per row
    assert shifts.std() == pytest.approx(0.3, rel=0.25)
    assert np.corrcoef(shifts[:-1], shifts[1:])[0, 1] == pytest.approx(0.8, abs=0.1)


def test_benchmark_rows_carry_the_residual_check(tmp_path):
    rows = benchmark_correlated(tmp_path, scenes=["camera"], noises=["correlated:0.1,0.4", "jitter:0.3+gaussian:0.05"],
                                methods=["gaussian"], size=128, seed=0)
    assert (tmp_path / "correlated_benchmark.csv").exists() and (tmp_path / "report.md").exists()
    by_case = {(r.noise, r.method): r for r in rows}
    noisy, calibrated = by_case[("correlated:0.1,0.4", "noisy")], by_case[("correlated:0.1,0.4", "gaussian")]
    assert noisy.residual_passed is None
    # the J-invariant Gaussian cannot see correlated noise: it keeps most of it, and the check says so
    assert calibrated.residual_passed is False and calibrated.residual_kept_noise > 0.25
    assert calibrated.residual_correlation_kept is not None
    jitter = by_case[("jitter:0.3+gaussian:0.05", "noisy")]
    assert 15 < jitter.psnr_db < 40  # the jittered, noisy scene against the unjittered truth
