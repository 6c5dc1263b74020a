"""Sweep training settings of one denoiser on the built-in Cahn-Hilliard video; prints a Markdown table.

A thin caller of ``operando.bench.denoise.sweep_train_settings``: each setting is a
comma-separated list of TrainConfig fields; every run gets the same noisy video, seed and time budget, and is
scored without test-time augmentation against the clean video.

    python benchmarks/train_settings_sweep.py --setting batch=8 --setting batch=4 --setting batch=4,oracle=1
    python benchmarks/train_settings_sweep.py --noise poisson:30 --setting batch=4 --setting batch=8
    python benchmarks/train_settings_sweep.py --budget 118 --setting method=n2v2,batch=4
"""

from __future__ import annotations

import argparse

from operando.bench.denoise import sweep_train_settings
from operando.report import markdown_table


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that pick the training video and run: --size, --frames, --noise, --budget, --method, --seed."""
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--noise", default="gaussian:0.1")
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per run")
    parser.add_argument("--method", default="video")
    parser.add_argument("--seed", type=int, default=0)


def video_keywords(args: argparse.Namespace) -> dict:
    """Map the parsed video options to the workflow functions' keywords."""
    return {"size": args.size, "n_frames": args.frames, "noise": args.noise, "time_budget_s": args.budget,
            "method": args.method, "seed": args.seed}


def main() -> None:
    """Parse the options, run the sweep, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_arguments(parser)
    parser.add_argument("--setting", action="append", required=True,
                        help="TrainConfig fields, e.g. batch=4,ema_decay=0.999; oracle=1 trains on the clean video")
    parser.add_argument("--output", help="also write sweep.json (each run's whole config and seed) here")
    args = parser.parse_args()
    print(markdown_table(sweep_train_settings(args.setting, output=args.output, **video_keywords(args))))


if __name__ == "__main__":
    main()
