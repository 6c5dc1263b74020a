"""Library-first check: optimistix (Levenberg-Marquardt) and lineax (CG) against operando's own solver.

Runs the clean 128 x 128 x 50 physics fit (``learn_physics(clean, window=4, dt=4e-5, fit_initial_states=3)``,
the "clean" row of ``physics_error_sources.py``) with

- ``--solver own``: operando's Levenberg-Marquardt (Broyden updates between exact Jacobians, coarse-to-fine);
- ``--solver optimistix``: ``optimistix.LevenbergMarquardt`` in its place, in both the coarse and the fine fit
  (one exact forward-mode Jacobian per accepted step, its own trust-region damping);
- ``--cg lineax``: ``lineax.CG`` in place of ``jax.scipy.sparse.linalg.cg`` in the initial-state rounds
  (same 5 iterations).

``--cg-only`` times one initial-state round with both CGs on the fitted clean windows instead.

    pip install optimistix lineax
    python benchmarks/physics_solver_libraries.py --solver own
    python benchmarks/physics_solver_libraries.py --solver optimistix --cg lineax
    python benchmarks/physics_solver_libraries.py --cg-only

optimistix and lineax are not dependencies of operando: this script is the measurement behind the decision
(docs/physics.md, "Own solver or a library").
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

from operando.inverse import compare_to_truth, learn_physics, regular_solution_truth
from operando.report import markdown_table
from operando.simulate import simulate_regular_solution

STATS: dict[str, list] = {"optimistix_steps": [], "stages": []}


def recorded(fit):
    """Wrap a fit function so that every stage (coarse, fine, refit) records its iterations and Jacobians."""

    def run(*args, **options):
        result = fit(*args, **options)
        STATS["stages"].append((result.iterations, result.jacobian_evaluations, result.residual_evaluations))
        return result

    return run


def optimistix_fit(spec, ics, targets, theta0, *, penalty=None, max_iter=30, xtol=1e-5, ftol=1e-7, deadline=None,
                   progress=None):
    """Fit like operando.inverse._learn._fit_windows, with optimistix.LevenbergMarquardt (no progress reports)."""
    import jax
    import jax.numpy as jnp
    import optimistix as optx

    from operando.inverse._forward import make_residual_functions
    from operando.inverse._levenberg_marquardt import LMResult

    if penalty is not None and np.any(penalty):
        raise ValueError("the optimistix comparison runs without a smoothness penalty")
    residual_fn, jacobian_fn = make_residual_functions(spec)
    w = jnp.ones(ics.shape[0], jnp.float32)
    r0 = np.asarray(residual_fn(jnp.asarray(theta0, jnp.float32), ics, targets, w), float)
    if not np.all(np.isfinite(r0)):
        raise FloatingPointError("the starting parameters give a non-finite residual")
    # optimistix linearises the residual with jax.linearize, which keeps every intermediate state of the solver
    # (13 windows x 412 steps of 128^2 fields): 22.8 GB, killed by the OOM killer on this machine. Here the
    # residual carries a custom JVP that applies the exact forward-mode Jacobian (the one operando computes,
    # 1 + P solver passes), so linearising stores only J, shape (N, P).
    @jax.custom_jvp
    def residual(theta):
        return residual_fn(theta, ics, targets, w)

    @residual.defjvp
    def _jvp(primals, tangents):
        (theta,), (dtheta,) = primals, tangents
        return residual(theta), jacobian_fn(theta, ics, targets, w) @ dtheta

    solver = optx.LevenbergMarquardt(rtol=xtol, atol=1e-7, norm=optx.rms_norm)
    sol = optx.least_squares(lambda th, args: residual(th), solver, jnp.asarray(theta0, jnp.float32),
                             max_steps=max_iter, throw=False)
    theta = np.asarray(jax.device_get(sol.value), float)
    r = np.asarray(residual_fn(jnp.asarray(theta, jnp.float32), ics, targets, w), float)
    jac = np.asarray(jacobian_fn(jnp.asarray(theta, jnp.float32), ics, targets, w), float)
    steps = int(sol.stats["num_steps"])
    STATS["optimistix_steps"].append(steps)
    ok = sol.result == optx.RESULTS.successful
    return LMResult(theta=theta, cost=float(r @ r), jacobian=jac, residual=r, n_residuals=int(r.size),
                    iterations=steps, converged=bool(ok), reason="xtol" if ok else "max_iter")


@functools.lru_cache(maxsize=16)
def lineax_state_update(spec, cg_iterations: int = 5):
    """operando.inverse._forward.make_state_update with lineax.CG in place of jax.scipy's cg."""
    import jax
    import jax.numpy as jnp
    import lineax as lx
    from lineax._norm import two_norm

    from operando.inverse._forward import predict_window

    def update(theta, states, observed, targets):
        def one(args):
            u, d, target = args
            pred, forward = jax.linearize(lambda c0: predict_window(spec, theta, c0), u)
            transpose = jax.linear_transpose(forward, u)
            rhs = (d - u) - transpose(pred - target)[0]
            op = lx.FunctionLinearOperator(lambda x: x + transpose(forward(x))[0], jax.eval_shape(lambda: u),
                                           tags=lx.positive_semidefinite_tag)
            step = lx.linear_solve(op, rhs, lx.CG(rtol=1e-5, atol=0.0, max_steps=cg_iterations, norm=two_norm),
                                   throw=False).value
            new = jnp.clip(u + step, 1e-3, 1 - 1e-3)
            ok = jnp.all(jnp.isfinite(new)) & jnp.all(jnp.isfinite(predict_window(spec, theta, new)))
            return jnp.where(ok, new, u)

        return jax.lax.map(one, (states, observed, targets))

    return jax.jit(update)


def compare_cg(clean, window: int) -> None:
    """Time one initial-state round with jax.scipy's cg and with lineax.CG, at the true coefficients."""
    import jax.numpy as jnp

    from operando.inverse import InversionConfig
    from operando.inverse._forward import make_state_update
    from operando.inverse._learn import prepare_windows

    problem = prepare_windows(clean, InversionConfig(window=window, dt=4e-5))
    theta = jnp.asarray([-3.0, 0.0, 0.0, 0.0, 0.0, 0.5], jnp.float32)  # the truth: Omega = 3, ln D = 0.5 (2c - 1)
    rows = []
    for name, make in (("jax.scipy cg", make_state_update), ("lineax.CG", lineax_state_update)):
        update = make(problem.spec)
        new = update(theta, problem.ics, problem.ics, problem.targets).block_until_ready()  # compile
        start, cpu = time.perf_counter(), time.process_time()
        new = update(theta, problem.ics, problem.ics, problem.targets).block_until_ready()
        rows.append({"cg": name, "round_s": round(time.perf_counter() - start, 1),
                     "round_cpu_s": round(time.process_time() - cpu, 1),
                     "state_change_rms": float(jnp.sqrt(jnp.mean((new - problem.ics) ** 2))), "states": new})
    diff = float(jnp.max(jnp.abs(rows[0].pop("states") - rows[1].pop("states"))))
    print(markdown_table(rows))
    print(f"max |difference| between the two rounds' states: {diff:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="initial-state (errors-in-variables) rounds")
    parser.add_argument("--solver", choices=["own", "optimistix"], default="own")
    parser.add_argument("--cg", choices=["own", "lineax"], default="own")
    parser.add_argument("--cg-only", action="store_true", help="time one initial-state round with both CGs")
    args = parser.parse_args()

    clean = simulate_regular_solution(size=args.size, n_frames=args.frames, rng=0)
    truth = regular_solution_truth(3.0, 0.5)
    if args.cg_only:
        compare_cg(clean, args.window)
        return
    import operando.inverse._learn as learn_module

    learn_module._fit_windows = recorded(optimistix_fit if args.solver == "optimistix" else learn_module._fit_windows)
    if args.cg == "lineax":
        import operando.inverse._forward as forward_module

        forward_module.make_state_update = lineax_state_update
    start, cpu_start = time.perf_counter(), time.process_time()
    result = learn_physics(clean, window=args.window, dt=4e-5, fit_initial_states=args.rounds)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    errors = compare_to_truth(result, truth)
    stages = STATS["stages"]
    row = {"solver": args.solver, "cg": args.cg, "fit_s": round(seconds), "cpu_s": round(cpu_seconds),
           "iterations": "+".join(str(it) for it, _, _ in stages),
           "jacobians": sum(j for _, j, _ in stages) if args.solver == "own" else "one per step",
           "residuals": sum(r for _, _, r in stages) if args.solver == "own" else "",
           "status": result.status, "stop": result.settings["stop_reason"],
           "mu_h_rel_l2_pct": round(100 * errors["mu_h_rel_l2"], 3),
           "M_rel_l2_pct": round(100 * errors["mobility_rel_l2"], 3)}
    print(markdown_table([row]))


if __name__ == "__main__":
    main()
