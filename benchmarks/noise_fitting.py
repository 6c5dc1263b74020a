"""Does the self-supervised denoiser learn the noise of its own targets? Prints a Markdown table.

A thin caller of ``operando.bench.denoise.measure_noise_fitting``: trains a denoiser on the
built-in Cahn-Hilliard video, then compares the frames that served as loss targets with the frames held out of
the loss (every 10th, from frame 5): PSNR, and the slope of the error (denoised - clean) on the noise.

    python benchmarks/noise_fitting.py                      # Gaussian 0.1, 300 s, the headline's video
    python benchmarks/noise_fitting.py --budget 1200 --setting batch=4
"""

from __future__ import annotations

import argparse

from train_settings_sweep import add_video_arguments, video_keywords  # the sibling script (on the path when run)

from operando.bench.denoise import measure_noise_fitting
from operando.report import markdown_table


def main() -> None:
    """Parse the options, run the measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_video_arguments(parser)
    parser.add_argument("--setting", default="", help="TrainConfig fields, e.g. batch=4,lr=5e-4")
    args = parser.parse_args()
    print(markdown_table(measure_noise_fitting(setting=args.setting, **video_keywords(args))))


if __name__ == "__main__":
    main()
