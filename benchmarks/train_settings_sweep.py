"""Sweep training settings of one denoiser on the built-in Cahn-Hilliard video; prints a Markdown table.

Each setting is a comma-separated list of TrainConfig fields; every run gets the same noisy video, seed and
time budget, and is scored without test-time augmentation against the clean video.

    python benchmarks/train_settings_sweep.py --setting batch=8 --setting batch=4 --setting batch=4,oracle=1
    python benchmarks/train_settings_sweep.py --noise poisson:30 --setting batch=4 --setting batch=8
    python benchmarks/train_settings_sweep.py --budget 118 --setting method=n2v2,batch=4
"""

from __future__ import annotations

import argparse
import time

from operando.denoise import TrainConfig, predict, train_denoiser
from operando.metrics import psnr
from operando.noise import corrupt
from operando.report import markdown_table
from operando.simulate import simulate_cahn_hilliard


def parse_setting(text: str) -> dict[str, str]:
    """'batch=4,lr=2e-3' -> {'batch': '4', 'lr': '2e-3'} (pydantic converts the values)."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"--setting {text!r}: write key=value pairs separated by commas, e.g. batch=4,lr=2e-3")
    return dict(pairs)


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that pick the training video and run: --size, --frames, --noise, --budget, --method, --seed."""
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--noise", default="gaussian:0.1")
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per run")
    parser.add_argument("--method", default="video")
    parser.add_argument("--seed", type=int, default=0)


def clean_and_noisy_video(args: argparse.Namespace):
    """The built-in Cahn-Hilliard video (seed) and its corrupted copy (seed + 1) that the runs train on."""
    clean = simulate_cahn_hilliard(size=args.size, n_frames=args.frames, rng=args.seed)
    return clean, corrupt(clean, args.noise, rng=args.seed + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_arguments(parser)
    parser.add_argument("--setting", action="append", required=True,
                        help="TrainConfig fields, e.g. batch=4,ema_decay=0.999; oracle=1 trains on the clean video")
    args = parser.parse_args()
    clean, noisy = clean_and_noisy_video(args)
    rows = []
    for text in args.setting:
        fields = parse_setting(text)
        oracle = fields.pop("oracle", "0") not in ("0", "false", "False")
        config = TrainConfig(**{"method": args.method, "time_budget_s": args.budget, **fields})
        start = time.perf_counter()
        model = train_denoiser(noisy, config=config, rng=args.seed, clean=clean if oracle else None)
        seconds = time.perf_counter() - start
        denoised = predict(model, noisy)
        rows.append({"setting": text, "noise": args.noise, "steps": model.steps,
                     "psnr_db": round(float(psnr(clean, denoised, data_range=1.0)), 2),
                     "train_s": round(seconds)})
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
