"""The physics benchmark (same as `operando benchmark physics`): learn mu_h and M from clean/noisy/denoised.

    python benchmarks/physics_benchmark.py --output benchmark-physics --bootstrap 20
"""

from __future__ import annotations

import argparse

from operando.bench.physics import benchmark_physics
from operando.report import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="benchmark-physics")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--noise", action="append")
    parser.add_argument("--denoiser", action="append")
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--fit-initial-states", type=int, default=0, help="errors-in-variables rounds")
    parser.add_argument("--n-mu", type=int, default=4)
    parser.add_argument("--n-d", type=int, default=2)
    parser.add_argument("--denoise-budget", type=float, default=300.0)
    parser.add_argument("--denoise-ensemble", type=int, default=1, help="average this many seeds' networks")
    parser.add_argument("--fit-budget", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = benchmark_physics(args.output, size=args.size, n_frames=args.frames, noises=args.noise or ["gaussian:0.05"],
                             denoisers=args.denoiser or ["video", "n2v"], bootstrap=args.bootstrap,
                             window=args.window, fit_initial_states=args.fit_initial_states, n_mu=args.n_mu,
                             n_d=args.n_d, denoise_budget_s=args.denoise_budget,
                             denoise_ensemble=args.denoise_ensemble,
                             fit_budget_s=args.fit_budget, seed=args.seed)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
