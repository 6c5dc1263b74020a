"""STXM composition over phantom seeds and noise draws: raw / tv RMSE ratio and sd coverage (docs/xray.md).

    python benchmarks/stxm_phantom_seeds.py --seeds 0 1 2 --draws 5
"""

import argparse

import numpy as np

from operando.bench.stxm import score_run
from operando.report import markdown_table
from operando.workflows.stxm import CompositionConfig, run_composition
from operando.xray import PhantomConfig, make_phantom, noise_draw


def main() -> None:
    """Print one row per phantom seed: raw and tv x RMSE, their ratio and the tv run's coverage, over draws."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--draws", type=int, default=5, help="noise draws per phantom (the first is its own counts)")
    parser.add_argument("--method", default="tv")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        phantom = make_phantom(PhantomConfig(seed=seed))
        runs = []
        for d in range(args.draws):
            counts = phantom.counts if d == 0 else noise_draw(phantom, d)
            raw = score_run(run_composition(counts, config=CompositionConfig()), phantom)
            den = score_run(run_composition(counts, config=CompositionConfig(denoise=args.method)), phantom)
            runs.append((raw["rmse_x"], den["rmse_x"], raw["rmse_x"] / den["rmse_x"], den["coverage_1.96sd"],
                         den["frame_interval_coverage"]))
            print(f"seed {seed} draw {d}: ratio {runs[-1][2]:.3f}, coverage {runs[-1][3]:.3f}", flush=True)
        a = np.array(runs)
        rows.append({"phantom seed": seed, "raw RMSE x": f"{a[:, 0].min():.3f}-{a[:, 0].max():.3f}",
                     f"{args.method} RMSE x": f"{a[:, 1].min():.3f}-{a[:, 1].max():.3f}",
                     "ratio mean (min-max)": f"{a[:, 2].mean():.2f} ({a[:, 2].min():.2f}-{a[:, 2].max():.2f})",
                     "coverage 1.96 sd": f"{a[:, 3].min():.3f}-{a[:, 3].max():.3f}",
                     "frame-mean intervals covering": f"{a[:, 4].mean():.3f}"})
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
