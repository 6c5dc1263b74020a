"""Where the errors-in-variables kinetics fit ends, by where its starting states start.

The default kinetics fit on noisy data (``learn_kinetics`` with ``sd``) first fits the laws with each window
starting from its observed frame, then fits the laws and every window's starting state together
(``fit_joint``: one objective with the start terms, the windows' data and the continuity links). This script
runs that pipeline on one phantom from several starting guesses of the states, with the same noisy data and the
same objective, and prints where each ends: the joint objective's cost, kappa, the Omega-like first Legendre
term a_1 (truth: -Omega), the errors of mu_h, j0 and ln k, and the rms error of the fitted states.

- ``raw``: the noisy frames (the default);
- ``clean``: the phantom's clean frames (a diagnostic only: no user has them);
- ``smooth:S`` / ``smooth-t:S``: the noisy frames smoothed inside each particle by a Gaussian of S px (and 1
  frame in time), a plain denoised guess.

A lower cost from one start than from another means the fit did not reach the better minimum from there; a lower
cost far from the truth means the objective's own minimum is biased.

    python benchmarks/kinetics_starts.py --start raw --start clean --start smooth:1 --start smooth-t:1

Uses the private pieces of ``operando.inverse`` (the joint fit is not a public function). About 1 min per start
on 2 cores for the default small phantom (64 x 64, 2 particles, 20 frames).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from operando.bench.kinetics import score_kinetics
from operando.inverse import KineticsConfig
from operando.inverse import _kinetics as K
from operando.inverse._kinetics_joint import fit_joint
from operando.inverse._kinetics_model import window_links
from operando.inverse._kinetics_result import summarise
from operando.report import markdown_table
from operando.simulate import simulate_kinetics


def smoothed(video: np.ndarray, inside: np.ndarray, sigma: float, sigma_t: float) -> np.ndarray:
    """Gaussian smoothing that uses the particle pixels only (normalised convolution), NaN outside."""
    num = ndimage.gaussian_filter(np.where(inside, video, 0.0), (sigma_t, sigma, sigma))
    den = ndimage.gaussian_filter(np.broadcast_to(inside, video.shape).astype(float), (sigma_t, sigma, sigma))
    return np.where(inside, num / np.maximum(den, 1e-9), np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--particles", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--phantom-seed", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--noise-seed", type=int, default=1)
    parser.add_argument("--start", action="append", default=[], help="raw, clean, smooth:S, smooth-t:S (repeat)")
    parser.add_argument("--joint-iterations", type=int, default=20)
    parser.add_argument("--continuity", type=float, default=10.0)
    parser.add_argument("--ramp", default="", help="continuity weights to pass through first, e.g. 3,10 (each "
                        "given --joint-iterations, then --continuity)")
    parser.add_argument("--window", type=int, default=2, help="frames each window predicts")
    args = parser.parse_args()

    ph = simulate_kinetics(size=args.size, particles=args.particles, frames=args.frames, seed=args.phantom_seed)
    noisy = ph.noisy(args.noise, rng=args.noise_seed)
    inside = ph.labels > 0
    cfg = KineticsConfig(frame_interval=ph.frame_interval, compare_models=False, continuity=args.continuity,
                         window=args.window)
    truth = K.prepare_kinetics(ph.video, cfg, sd=args.noise, labels=ph.labels).starts
    rows = []
    for start in args.start or ["raw", "clean"]:
        kind, _, size = start.partition(":")
        if kind not in ("raw", "clean", "smooth", "smooth-t") or (kind.startswith("smooth") and not size):
            parser.error(f"--start {start!r}: give raw, clean, smooth:S or smooth-t:S")
        guess = None if kind == "raw" else ph.video if kind == "clean" else \
            smoothed(noisy, inside, float(size), 1.0 if kind == "smooth-t" else 0.0)
        t0 = time.perf_counter()
        problem = K.prepare_kinetics(noisy, cfg, sd=args.noise, labels=ph.labels, starts_from=guess)
        pixels = problem.spec.labels > 0
        first = float(np.sqrt(np.mean((problem.starts - truth)[:, pixels] ** 2)))
        main_fit = K.fit(problem, K.starting_guess(problem), max_iter=cfg.max_iter, deadline=None)
        links = window_links(problem.window_starts, problem.spec.horizon)
        data = (problem.observed, problem.start_weights, problem.targets, problem.weights, problem.drives)
        theta, states = main_fit.theta, problem.starts
        for weight in [float(w) for w in args.ramp.split(",") if w] + [args.continuity]:
            joint = fit_joint(problem.spec, links, weight, theta, states, *data, max_iter=args.joint_iterations,
                              deadline=None)
            theta, states = joint.theta, joint.states
        problem, fitted = K.at_fitted_starts(problem, joint, args.continuity, main_fit.iterations)
        result = summarise(problem, cfg, fitted, K.starting_guess(problem), None, np.zeros((0, joint.theta.size)),
                           seed=0, seconds=time.perf_counter() - t0,
                           predicted=K.predicted_video(problem, joint.theta, len(problem.currents) + 1))
        score = score_kinetics(result, ph)
        s = problem.spec.slices
        rows.append({"start": start, "start error": round(first, 4), "joint cost": round(joint.cost, 1),
                     "joint end": f"{joint.reason} ({joint.iterations})",
                     "kappa": float(np.exp(joint.theta[s["log_kappa"]][0])) if problem.spec.fit_kappa else None,
                     "a_1": float(joint.theta[s["a"]][0]), "mu_h max error (kT)": score["mu_h_max_error_kT"],
                     "j0 shape error": score["j0_shape_error"], "ln k R": score["log_k_r"],
                     "state error": float(np.sqrt(np.mean((joint.states - truth)[:, pixels] ** 2))),
                     "s": round(time.perf_counter() - t0)})
        print(f"{start}: done", flush=True)
    print(f"phantom {args.size} px, {args.particles} particles, {args.frames} frames, seed {args.phantom_seed}; "
          f"noise sd {args.noise} (seed {args.noise_seed}); windows of {args.window} frames, continuity "
          f"{args.continuity} (after {args.ramp or 'no ramp'}); kappa truth "
          f"{ph.config.kappa}, a_1 truth {-ph.config.omega:.2f}")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
