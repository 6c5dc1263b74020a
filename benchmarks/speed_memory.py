"""Speed and memory of the denoisers: training steps/s, inference Mpix/s and peak memory, CPU (and CUDA).

    python benchmarks/speed_memory.py [--size 128] [--frames 100] [--train-seconds 30]

Prints a Markdown table. Peak memory is the resident-set growth above the level before the call, sampled every
2 ms (numpy and torch allocations alike); "input" is the size of the float32 input video.
"""

from __future__ import annotations

import argparse
import threading
import time

import psutil
import torch

from operando.denoise import TrainConfig, predict, train_denoiser
from operando.noise import corrupt
from operando.simulate import simulate_cahn_hilliard


def peak_rss_during(fn):
    """Run ``fn`` and return (its result, peak RSS growth in bytes, seconds)."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    running = [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    running[0] = False
    thread.join()
    return result, peak[0] - base, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--train-seconds", type=float, default=30.0)
    args = parser.parse_args()
    clean = simulate_cahn_hilliard(size=args.size, n_frames=args.frames, rng=0)
    noisy = corrupt(clean, "gaussian:0.1", rng=1)
    input_mb = noisy.to_numpy().nbytes / 2**20
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"input {noisy.shape} float32 = {input_mb:.1f} MiB, torch threads {torch.get_num_threads()}\n")
    print("| method | device | train steps/s | inference Mpix/s | inference peak MiB | model MiB |")
    print("|---|---|---|---|---|---|")
    for method in ("video", "n2v2"):
        for device in devices:
            cfg = TrainConfig(method=method, time_budget_s=args.train_seconds, patience=10**6)
            model = train_denoiser(noisy, config=cfg, rng=0, device=device)
            steps_per_s = model.steps / args.train_seconds
            predict(model, noisy.to_numpy()[:8], axes="TYX", device=device)  # warm-up
            _, peak, seconds = peak_rss_during(lambda: predict(model, noisy, device=device))
            mpix = noisy.to_numpy().size / 1e6 / seconds
            model_mb = sum(p.numel() * 4 for p in model.module.parameters()) / 2**20
            print(f"| {method} | {device} | {steps_per_s:.1f} | {mpix:.2f} | {peak / 2**20:.1f} | {model_mb:.2f} |")


if __name__ == "__main__":
    main()
