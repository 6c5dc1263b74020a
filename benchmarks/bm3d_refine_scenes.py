"""bm3d_refine against BM3D (true and measured spectrum) over scenes and noise cases (docs/benchmarks.md).

    python benchmarks/bm3d_refine_scenes.py --budget 300 \
        camera@correlated:0.1,0.4 camera@correlated:0.1,0.2 camera@correlated:0.1,0.6 \
        astronaut@correlated:0.1,0.4 cahn_hilliard@correlated:0.1,0.4 camera@gaussian:0.1

Scenes are 256 x 256 in [0, 1]: ``camera`` (the correlated benchmark's), ``astronaut`` (grey) and
``cahn_hilliard`` (frame 19 of ``simulate_cahn_hilliard(size=256, n_frames=20, rng=0)``, rescaled to [0, 1]).
The noise is drawn with seed 1 (as ``operando benchmark correlated --seed 0`` draws it); bm3d_refine runs with
the measured spectrum, seed 0 and the given budget.
"""

import argparse

import numpy as np
from skimage import color
from skimage import data as skdata
from skimage.transform import resize

from operando import Stack
from operando.bench.correlated import corrupt_case, scene, true_autocovariance
from operando.denoise import TrainConfig, denoise_bm3d
from operando.denoise._bm3d_refine import denoise_bm3d_refined
from operando.report import markdown_table


def clean_scene(name: str) -> Stack:
    """Return a 256 x 256 clean scene in [0, 1]."""
    if name == "camera":
        return scene("camera", size=256, n_frames=1, rng=0)
    if name == "astronaut":
        grey = resize(color.rgb2gray(skdata.astronaut()), (256, 256), anti_aliasing=True)
        return Stack(grey.astype(np.float32), axes="YX")
    if name == "cahn_hilliard":
        from operando.simulate import simulate_cahn_hilliard

        frame = np.asarray(simulate_cahn_hilliard(size=256, n_frames=20, rng=0).to_numpy()[19], np.float64)
        return Stack(((frame - frame.min()) / (frame.max() - frame.min())).astype(np.float32), axes="YX")
    raise SystemExit(f"unknown scene {name!r}; choose camera, astronaut or cahn_hilliard")


def main() -> None:
    """Print one row per case: PSNR of the noisy image, BM3D (true / measured PSD) and bm3d_refine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+", help="SCENE@NOISE, e.g. camera@correlated:0.1,0.4")
    parser.add_argument("--budget", type=float, default=300.0, help="bm3d_refine's time budget, seconds")
    args = parser.parse_args()
    rows = []
    for case in args.cases:
        scene_name, noise = case.split("@", 1)
        clean = clean_scene(scene_name)
        truth = clean.to_numpy().astype(np.float64)
        noisy = corrupt_case(clean, noise, rng=1)

        def psnr(image, truth=truth):
            return 10 * np.log10(1.0 / np.mean((np.asarray(image, np.float64) - truth) ** 2))

        true_bm3d = psnr(denoise_bm3d(noisy, autocovariance=true_autocovariance(noise, truth)).to_numpy())
        measured_bm3d = psnr(denoise_bm3d(noisy).to_numpy())
        refined = denoise_bm3d_refined(noisy, config=TrainConfig(time_budget_s=args.budget, seed=0))
        record = refined.metadata.extra["denoise"]["images"][0]
        rows.append({"scene": scene_name, "noise": noise, "noisy": f"{psnr(noisy.to_numpy()):.2f}",
                     "BM3D true PSD": f"{true_bm3d:.2f}", "BM3D measured": f"{measured_bm3d:.2f}",
                     "bm3d_refine": f"{psnr(refined.to_numpy()):.2f}",
                     "gain vs true (dB)": f"{psnr(refined.to_numpy()) - true_bm3d:+.2f}",
                     "pairs / steps": f"{record['pairs']} / {record['steps']}"})
        print(rows[-1], flush=True)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
