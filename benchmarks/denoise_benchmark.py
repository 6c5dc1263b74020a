"""The denoising benchmark (same as `operando benchmark denoise`): prints the table, writes CSV/Markdown/figures.

    python benchmarks/denoise_benchmark.py --output benchmark-denoise --time-budget 300
    python benchmarks/denoise_benchmark.py --noise gaussian:0.1 --method video --method oracle --method gaussian
"""

from __future__ import annotations

import argparse

from operando.workflows.denoise_benchmark import DEFAULT_METHODS, DEFAULT_NOISES, benchmark_denoisers
from operando.report import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default="benchmark-denoise")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--noise", action="append")
    parser.add_argument("--method", action="append")
    parser.add_argument("--no-scanline", action="store_true")
    parser.add_argument("--time-budget", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tta", action="store_true", help="average networks over training flips/rotations")
    args = parser.parse_args()
    rows = benchmark_denoisers(args.output, size=args.size, n_frames=args.frames, noises=args.noise or DEFAULT_NOISES,
                               methods=args.method or DEFAULT_METHODS, time_budget_s=args.time_budget,
                               scanline=None if args.no_scanline else "scanline:0.1,0,0.03", seed=args.seed,
                               tta=args.tta)
    print(markdown_table([r.as_dict() for r in rows]))


if __name__ == "__main__":
    main()
