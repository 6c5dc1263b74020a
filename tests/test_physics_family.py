"""The physics family: variants drawn from a seed within the documented ranges, and the worst-case summary."""

from __future__ import annotations

import re

import pytest

from operando import InputError
from operando.bench.physics import benchmark_physics_family, draw_physics_variant, summarise_family
from operando.noise import corrupt
from tests.fuzz._harness import assert_refused, run_cli


def test_variants_are_reproducible_and_in_range(small_video):
    draws = [draw_physics_variant(k) for k in range(40)]
    assert draws == [draw_physics_variant(k) for k in range(40)]
    models = {d["noise"].split(":")[0] for d in draws}
    assert models == {"gaussian", "poisson", "mixed", "correlated"}
    for d in draws:
        assert -0.5 <= d["d_slope"] <= 0.8
        values = [float(v) for v in re.split("[:,]", d["noise"])[1:]]
        kind = d["noise"].split(":")[0]
        if kind == "gaussian":
            assert 0.03 <= values[0] <= 0.10
        elif kind == "poisson":
            assert 20 <= values[0] <= 100
        elif kind == "mixed":
            assert 30 <= values[0] <= 100 and 0.01 <= values[1] <= 0.04
        else:
            assert 0.03 <= values[0] <= 0.08 and 0.2 <= values[1] <= 0.5
        corrupt(small_video, d["noise"], rng=0)  # every drawn spec is a valid noise case
    assert len({d["seed"] for d in draws}) == 40


def test_summary_takes_the_worst_variant():
    def rows(clean, noisy, den):
        return [{"data": "clean", "mu_h_rel_l2": clean, "mobility_rel_l2": clean},
                {"data": "noisy", "mu_h_rel_l2": noisy, "mobility_rel_l2": noisy},
                {"data": "video", "mu_h_rel_l2": den, "mobility_rel_l2": den}]

    table = summarise_family([{"variant": 0, "rows": rows(0.001, 0.2, 0.01)},
                              {"variant": 1, "rows": rows(0.03, 0.1, 0.05)},
                              {"variant": 2, "rows": rows(0.002, 0.3, 0.02)}])
    by = {(r["data"], r["figure"]): r for r in table}
    assert by["clean", "mu_h_rel_l2"]["worst"] == 0.03 and by["clean", "mu_h_rel_l2"]["met"] is False
    assert by["denoised", "mu_h_rel_l2"]["median"] == 0.02
    assert by["denoised", "mu_h_gain"]["worst"] == pytest.approx(2.0)  # 0.1 / 0.05: the smallest gain


def test_family_refuses_a_fixed_noise(tmp_path):
    with pytest.raises(InputError, match="drawn for each variant"):
        benchmark_physics_family(tmp_path, variants=2, noises=["gaussian:0.1"])
    assert_refused(run_cli("benchmark", "physics", "-o", tmp_path / "b", "--variants", "2", "--noise",
                           "gaussian:0.1"), says="--noise")
    assert_refused(run_cli("benchmark", "physics", "-o", tmp_path / "b", "--variants", "0"))
