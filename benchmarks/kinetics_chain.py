"""The kinetics chain on the STXM phantom: counts -> stxm composition -> learn --model acr, scored (docs/xray.md).

    nice -n 10 python benchmarks/kinetics_chain.py -o chain/ --seed 0 --denoise none tv
"""

import argparse

from operando.bench.kinetics_chain import COLUMNS, run_chain
from operando.report import markdown_table


def main() -> None:
    """Run the chain once per denoiser and print one row each (writes chain.json / chain.csv into the folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="kinetics-chain", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=96, help="STXM pixels per side")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--particles", type=int, default=4)
    parser.add_argument("--delithiation", action="store_true")
    parser.add_argument("--denoise", nargs="+", default=["none", "tv"], help="stxm composition --denoise values")
    parser.add_argument("--time-budget", type=float, default=600.0, help="seconds per kinetics fit")
    args = parser.parse_args()
    record = run_chain(args.output, seed=args.seed, size=args.size, frames=args.frames, particles=args.particles,
                       delithiation=args.delithiation, denoisers=tuple(args.denoise), time_budget_s=args.time_budget)
    print(markdown_table(record["rows"], columns=("input", *COLUMNS)))
    for row in record["rows"]:
        if row["status"] in ("refused", "not_converged"):
            print(f"{row['input']}: {row['status']}: {row['reason']}")
    print(f"{record['seconds']:.0f} s in all; truth: {record['truth']}")


if __name__ == "__main__":
    main()
