"""Speed and memory of the denoisers: training steps/s, inference Mpix/s and peak memory, CPU (and CUDA).

A thin caller of ``operando.bench.denoise.measure_speed_memory``; prints a Markdown table. Peak
memory is the resident-set growth above the level before the call, sampled every 2 ms (numpy and torch
allocations alike); "input_mib" is the size of the float32 input video.

    python benchmarks/speed_memory.py [--size 128] [--frames 100] [--train-seconds 30]
"""

from __future__ import annotations

import argparse

from operando.bench.denoise import measure_speed_memory
from operando.report import markdown_table


def main() -> None:
    """Parse the options, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--train-seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(markdown_table(measure_speed_memory(size=args.size, n_frames=args.frames, train_seconds=args.train_seconds)))


if __name__ == "__main__":
    main()
