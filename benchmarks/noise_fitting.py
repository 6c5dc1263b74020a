"""Does the self-supervised denoiser learn the noise of its own targets? Prints a Markdown table.

Trains a denoiser on the built-in Cahn-Hilliard video (as ``train_settings_sweep.py`` does), then compares
the frames that served as loss targets with the frames held out of the loss (every 10th, from frame 5):
PSNR, and the slope of the error (denoised - clean) on the noise (noisy - clean). A fit that absorbs a
fraction k of its targets' noise adds about k x sigma^2 to their MSE; held-out frames show none of it.

    python benchmarks/noise_fitting.py                      # Gaussian 0.1, 300 s, the headline's video
    python benchmarks/noise_fitting.py --budget 1200 --setting batch=4
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from train_settings_sweep import (  # the sibling script (benchmarks/ is on the path when run)
    add_video_arguments,
    clean_and_noisy_video,
    parse_setting,
)

from operando.denoise import TrainConfig, predict, train_denoiser
from operando.metrics import noise_fit, psnr
from operando.report import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_arguments(parser)
    parser.add_argument("--setting", default="", help="TrainConfig fields, e.g. batch=4,lr=5e-4")
    args = parser.parse_args()
    fields = parse_setting(args.setting)
    clean, noisy = clean_and_noisy_video(args)
    config = TrainConfig(**{"method": args.method, "time_budget_s": args.budget, **fields})
    start = time.perf_counter()
    model = train_denoiser(noisy, config=config, rng=args.seed)
    seconds = time.perf_counter() - start
    denoised = predict(model, noisy)
    held_out = np.zeros(args.frames, bool)
    if args.frames >= 10:  # the trainer's rule: every 10th frame from frame 5 is never a loss target
        held_out[5::10] = True
    c, y, d = (np.asarray(x.data, np.float64) for x in (clean, noisy, denoised))
    noise_power = float(np.mean((y - c) ** 2))
    rows = []
    for name, frames in (("loss targets", ~held_out), ("held out", held_out), ("all", np.ones_like(held_out))):
        if not frames.any():
            continue
        slope = noise_fit(c, y, d, frames=frames)
        mse = float(np.mean((d[frames] - c[frames]) ** 2))
        rows.append({"frames": name, "psnr_db": round(float(psnr(c[frames], d[frames], data_range=1.0)), 2),
                     "noise_slope": round(slope, 5), "noise_share_of_mse": round(slope * noise_power / mse, 3),
                     "steps": model.steps, "best_step": model.best_step, "train_s": round(seconds)})
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
