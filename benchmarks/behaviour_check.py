"""Behaviour check: the headline figures of one source tree, measured through the command line, compared with another.

Issue 30 (the refactor) must leave behaviour unchanged. This script runs, in a subprocess with
``PYTHONPATH=<tree>/src`` (so the same script measures an untouched worktree and the refactored one), each
figure on small, step-bounded, seeded settings and collects every number into one flat JSON:

- ``video``: the headline video denoiser on gaussian:0.1 at an EQUAL STEP COUNT. ``benchmark denoise`` has
  only a time budget, so this is its pipeline spelled with the stable commands: ``simulate`` (seed 0),
  ``corrupt`` (seed 1, as the benchmark's noise seed), ``train --method video --max-steps N --seed 0``,
  ``predict``, ``evaluate``; plus the trained model's record (steps, losses, normalisation).
- ``denoise``: ``benchmark denoise`` itself on the same video with deterministic methods (gaussian, tv).
- ``physics``: ``benchmark physics``: the clean fit (and the gaussian:0.05 noisy / gaussian-denoised fits the
  command always adds); the rows and the clean fit's coefficients and curves.
- ``stxm``: ``benchmark stxm`` (tv, plus nlm as the extra row; no neural extra: n2v2 is time-budgeted).
- ``neutron``: ``benchmark neutron`` (delta_a target, ``--max-steps``, short phantom, real step wedge).
- ``optical``: ``benchmark optical`` on one phantom with gaussian (``--max-steps`` is not used by the
  one-phantom path before the refactor), and ``optical_family``: two variants with video at ``--max-steps``.
- ``correlated``: ``benchmark correlated`` (both scenes, white and correlated noise; auto, n2v2, video,
  gaussian at ``--max-steps``).

Timings (keys such as ``seconds``, ``*_s`` measured durations) and version strings are left out; an auto row's
``chosen`` text also gives ``chosen_method`` (the method before the colon), which must match. Every run
uses one CPU thread (OMP/MKL/OpenBLAS/XLA), no GPU, ``MPLBACKEND=Agg``, and runs niced.

    python benchmarks/behaviour_check.py measure --tree /tmp/base30 --out /tmp/behaviour/before.json
    python benchmarks/behaviour_check.py measure --tree /work/main --out /tmp/behaviour/after.json
    python benchmarks/behaviour_check.py compare /tmp/behaviour/before.json /tmp/behaviour/after.json

``compare`` prints figure / before / after / difference and exits 1 when a number differs by more than
``--rtol`` (relative, default 1e-6), a short categorical string or a bool differs, or a figure is missing
after; differences within ``--rtol`` are listed separately as last-digit differences; long strings (messages)
and figures only present after are listed but do not fail.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEP_WEDGE = Path("/work/shared/data/neutron/stepwedge")
VIDEO_STEPS = 150  # training steps of the headline video network
NET_STEPS = 30  # training steps of the networks inside the benchmarks
ID_FIELDS = ("scene", "variant", "noise", "data", "input", "method", "name", "figure")
TIMING_KEY = re.compile(r"^(seconds|.*_seconds|.*seconds_.*|denoise_s|total_s|train_s|fit_s|.*elapsed.*|.*per_s.*"
                        r"|.*mpix.*|wall.*|duration.*)$", re.IGNORECASE)
SKIP_KEYS = {"versions", "command", "source", "output", "folder", "path"}
SHORT_TEXT = 40  # strings up to this length are categorical figures (must match); longer ones are messages


# --------------------------------------------------------------------------------------------------------------
# Running one tree's command line
# --------------------------------------------------------------------------------------------------------------

class Runner:
    """Run ``operando`` commands from one source tree, in a scratch folder outside every tree."""

    def __init__(self, tree: Path, work: Path, log: Path, *, collect_only: bool = False) -> None:
        self.tree = tree
        self.work = work
        self.log = log
        self.collect_only = collect_only  # re-read the outputs of an earlier run, run nothing
        self.env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
                    "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "COLUMNS": "200",
                    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}

    def python(self, code: str) -> str:
        """Run a Python snippet with this tree's environment; return its stdout."""
        done = subprocess.run([sys.executable, "-c", code], cwd=self.work, env=self.env, capture_output=True,
                              text=True, check=True)
        return done.stdout

    def operando(self, *args: str) -> None:
        """Run ``operando ARGS`` (the tree's ``operando.cli:app``); raise with the log's tail when it fails."""
        if self.collect_only:
            return
        code = "import sys; sys.argv[0] = 'operando'; from operando.cli import app; app()"
        cmd = [sys.executable, "-c", code, *args]
        with self.log.open("a") as log:
            log.write(f"\n$ operando {' '.join(args)}\n")
            log.flush()
            done = subprocess.run(cmd, cwd=self.work, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            tail = self.log.read_text()[-3000:]
            raise RuntimeError(f"operando {' '.join(args)} failed ({done.returncode}):\n{tail}")


def load(path: Path) -> Any:
    """Read a JSON file (NaN and Infinity allowed)."""
    return json.loads(path.read_text())


# --------------------------------------------------------------------------------------------------------------
# Flattening: one key per number
# --------------------------------------------------------------------------------------------------------------

def _label(items: list[Any]) -> list[str]:
    """Names for the entries of a list: its dicts' identifying fields when they are unique, else the index."""
    labels = []
    for i, item in enumerate(items):
        parts = [str(item[k]) for k in ID_FIELDS if isinstance(item, dict) and isinstance(item.get(k), (str, int))
                 and not isinstance(item.get(k), bool)]
        labels.append("/".join(parts) if parts else f"[{i}]")
    return labels if len(set(labels)) == len(labels) else [f"[{i}]" for i in range(len(items))]


def _numeric_list(value: Any) -> bool:
    """True for a non-empty list of plain numbers (or None, written for NaN by some writers)."""
    return (isinstance(value, list) and bool(value) and any(isinstance(v, (int, float)) for v in value)
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value))


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Add every figure under ``value`` to ``out`` as ``prefix.key.key``; timings and versions left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SKIP_KEYS or TIMING_KEY.match(str(key)):
                continue
            flatten(item, f"{prefix}.{key}", out)
    elif _numeric_list(value):
        out[prefix] = value
    elif isinstance(value, list):
        for label, item in zip(_label(value), value, strict=True):
            flatten(item, f"{prefix}.{label}", out)
    elif isinstance(value, str):
        out[prefix] = re.sub(r"/tmp/tmp[\w.-]+", "<tmp>", value)
        if prefix.endswith(".chosen") and ":" in value:  # "method: why": the choice itself must match
            out[prefix + "_method"] = value.split(":", 1)[0]
    else:
        out[prefix] = value


# --------------------------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------------------------

def fig_video(run: Runner, here: Path) -> dict[str, Any]:
    """The headline video network on gaussian:0.1 at a fixed step count: PSNR/SSIM and the model record."""
    here.mkdir(parents=True, exist_ok=True)
    run.operando("simulate", "-o", str(here / "clean.tif"), "--size", "64", "--frames", "20", "--seed", "0")
    run.operando("corrupt", str(here / "clean.tif"), "-o", str(here / "noisy.tif"), "--noise", "gaussian:0.1",
                 "--seed", "1", "--axes", "TYX")
    run.operando("train", str(here / "noisy.tif"), "-o", str(here / "model"), "--method", "video", "--max-steps",
                 str(VIDEO_STEPS), "--time-budget", "3600", "--seed", "0", "--device", "cpu", "--axes", "TYX")
    run.operando("predict", str(here / "noisy.tif"), "--model", str(here / "model.safetensors"), "-o",
                 str(here / "denoised.tif"), "--keep-float", "--device", "cpu", "--axes", "TYX")
    run.operando("evaluate", str(here / "denoised.tif"), str(here / "noisy.tif"), "--clean", str(here / "clean.tif"),
                 "--data-range", "1", "--axes", "TYX", "--json", str(here / "evaluate.json"))
    model = load(here / "model.json")
    record = {key: model.get(key) for key in ("steps", "best_step", "stop_reason", "loss", "mean", "scale", "seed")}
    record["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in model.get("history", [])]
    return {"evaluate": load(here / "evaluate.json")["rows"], "model": record, "config": model.get("config")}


def fig_denoise(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark denoise`` on the same video with its deterministic methods."""
    run.operando("benchmark", "denoise", "-o", str(here), "--size", "64", "--frames", "20", "--noise", "gaussian:0.1",
                 "--method", "gaussian", "--method", "tv", "--no-scanline", "--seed", "0")
    return load(here / "denoise_benchmark.json")


def fig_physics(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark physics``: the clean fit (rows, coefficients, curves), and the noisy / gaussian fits."""
    run.operando("benchmark", "physics", "-o", str(here), "--size", "32", "--frames", "12", "--noise",
                 "gaussian:0.05", "--denoiser", "gaussian", "--bootstrap", "3", "--seed", "0")
    clean = load(here / "clean.json")
    fit = {key: clean.get(key) for key in ("c", "mu_h", "D", "mobility", "status")}
    fit["coefficients"] = {k: v for k, v in clean.get("coefficients", {}).items() if k != "bootstrap"}
    fit["settings"] = clean.get("settings")
    return {"rows": load(here / "physics_benchmark.json"), "clean_fit": fit}


def fig_stxm(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark stxm`` on a small phantom: tv and nlm rows, targets."""
    run.operando("benchmark", "stxm", "-o", str(here), "--size", "48", "--frames", "2", "--bias-draws", "2",
                 "--method", "tv", "--extra", "nlm", "--seed", "0")
    return load(here / "results.json")


def fig_neutron(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark neutron``: delta_a target, step-bounded denoiser, one short cycle, the real step wedge."""
    args = ["benchmark", "neutron", "-o", str(here), "--target", "delta_a", "--max-steps", str(NET_STEPS),
            "--time-budget", "3600", "--frames-per-half-cycle", "6", "--cycles", "1", "--seed", "0"]
    if STEP_WEDGE.is_dir():
        args += ["--data", str(STEP_WEDGE)]
    run.operando(*args)
    return load(here / "neutron_benchmark.json")


def fig_optical(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark optical`` on one small phantom with the gaussian denoiser."""
    run.operando("benchmark", "optical", "-o", str(here), "--size", "96", "--particles", "12", "--frames", "6",
                 "--denoiser", "gaussian", "--no-speed", "--seed", "0")
    return load(here / "benchmark.json")


def fig_optical_family(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark optical --variants 2`` with the video denoiser at a fixed step count."""
    run.operando("benchmark", "optical", "-o", str(here), "--variants", "2", "--size", "64", "--particles", "8",
                 "--frames", "6", "--denoiser", "video", "--max-steps", str(NET_STEPS), "--time-budget", "3600",
                 "--seed", "0")
    return load(here / "benchmark.json")


def fig_correlated(run: Runner, here: Path) -> dict[str, Any]:
    """``benchmark correlated`` on small scenes, white and correlated noise, networks at a fixed step count."""
    args = ["benchmark", "correlated", "-o", str(here), "--size", "64", "--video-size", "64", "--frames", "8",
            "--noise", "gaussian:0.1", "--noise", "correlated:0.1,0.4", "--max-steps", str(NET_STEPS),
            "--time-budget", "3600", "--seed", "0"]
    for method in ("auto", "n2v2", "video", "gaussian"):
        args += ["--method", method]
    run.operando(*args)
    return load(here / "correlated_benchmark.json")


FIGURES: dict[str, Callable[[Runner, Path], dict[str, Any]]] = {
    "video": fig_video, "denoise": fig_denoise, "physics": fig_physics, "stxm": fig_stxm, "neutron": fig_neutron,
    "optical": fig_optical, "optical_family": fig_optical_family, "correlated": fig_correlated,
}


# --------------------------------------------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------------------------------------------

def _tree_record(run: Runner, tree: Path) -> dict[str, Any]:
    """Where the code comes from (checked: inside the tree) and the versions that shape the numbers."""
    probe = ("import json, operando, numpy, scipy, torch, jax; print(json.dumps({'operando_file': operando.__file__, "
             "'numpy': numpy.__version__, 'scipy': scipy.__version__, 'torch': torch.__version__, "
             "'jax': jax.__version__, 'torch_threads': torch.get_num_threads()}))")
    record = json.loads(run.python(probe).strip().splitlines()[-1])
    if not Path(record["operando_file"]).resolve().is_relative_to((tree / "src").resolve()):
        raise SystemExit(f"operando comes from {record['operando_file']}, not from {tree / 'src'}")
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "src"], capture_output=True,
                           text=True)
    return {"tree": str(tree), "commit": commit.stdout.strip(), "src_changes_uncommitted": bool(dirty.stdout.strip()),
            **record}


def measure(tree: Path, out: Path, only: list[str], work: Path | None, collect_only: bool = False) -> None:
    """Run every figure on ``tree``; write ``{"meta": ..., "figures": {key: value}}`` to ``out``.

    ``collect_only``: run nothing, flatten again the outputs an earlier run left in ``work`` (after a change of
    the flattening; the timings then are those of the collection).
    """
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    tree = tree.resolve()
    work = (work or out.with_suffix("")).resolve()
    if not collect_only:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    run = Runner(tree, work, work / "commands.log", collect_only=collect_only)
    meta = _tree_record(run, tree)
    print(f"operando from {meta['operando_file']} (commit {meta['commit'][:10]}"
          f"{', src has uncommitted changes' if meta['src_changes_uncommitted'] else ''}); scratch {work}")
    figures: dict[str, Any] = {}
    meta["seconds"] = {}
    start = time.perf_counter()
    for name in only or list(FIGURES):
        t0 = time.perf_counter()
        flatten(FIGURES[name](run, work / name), name, figures)
        meta["seconds"][name] = round(time.perf_counter() - t0, 1)
        print(f"  {name}: {meta['seconds'][name]:.0f} s", flush=True)
    meta["seconds"]["total"] = round(time.perf_counter() - start, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "figures": figures}, indent=1))
    print(f"wrote {out}: {len(figures)} figures in {meta['seconds']['total']:.0f} s")


# --------------------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------------------

def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rel(a: float, b: float, atol: float) -> float:
    """Relative difference of two numbers (NaN == NaN, equal infinities equal; below ``atol`` counts as 0)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    if abs(a - b) <= atol:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def classify(a: Any, b: Any, rtol: float, atol: float) -> tuple[str, float]:
    """(``same`` | ``last-digit`` | ``DIFF`` | ``text``, largest relative difference) for one figure."""
    if _number(a) and _number(b):
        rel = _rel(float(a), float(b), atol)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            (x is None and y is None) or (_number(x) and _number(y)) for x, y in zip(a, b, strict=True)):
        rel = max((_rel(float(x), float(y), atol) for x, y in zip(a, b, strict=True)
                   if x is not None), default=0.0)
    elif isinstance(a, str) and isinstance(b, str) and max(len(a), len(b)) > SHORT_TEXT:
        return ("same" if a == b else "text"), 0.0
    else:
        return ("same" if a == b and type(a) is type(b) else "DIFF"), (0.0 if a == b else math.inf)
    if rel == 0.0:
        return "same", 0.0
    return ("last-digit" if rel <= rtol else "DIFF"), rel


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    if isinstance(v, list) and _numeric_list(v):
        return f"[{len(v)} values]"
    text = str(v)
    return text if len(text) <= 48 else text[:45] + "..."


def _diff(a: Any, b: Any, rel: float) -> str:
    if _number(a) and _number(b):
        return f"{float(b) - float(a):+.3g} (rel {rel:.2g})"
    if isinstance(a, list):
        return f"max rel {rel:.2g}"
    return "differs"


def compare(before_path: Path, after_path: Path, rtol: float, atol: float, changed_only: bool) -> int:
    """Print the table; return 1 when a figure differs beyond ``rtol`` or is missing after, else 0."""
    before, after = load(before_path), load(after_path)
    fa, fb = before["figures"], after["figures"]
    for label, doc in (("before", before), ("after", after)):
        m = doc["meta"]
        dirty = " (+ uncommitted src)" if m["src_changes_uncommitted"] else ""
        print(f"{label}: {m['tree']} @ {m['commit'][:10]}{dirty}, operando {m['operando_file']}, "
              f"{m['seconds']['total']:.0f} s")
    groups: dict[str, list[str]] = {"DIFF": [], "last-digit": [], "text": [], "missing after": [], "new after": []}
    rows = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        if key not in fb:
            groups["missing after"].append(key)
            continue
        if key not in fa:
            groups["new after"].append(key)
            continue
        status, rel = classify(fa[key], fb[key], rtol, atol)
        if status != "same":
            groups[status].append(key)
        if status != "same" or not changed_only:
            diff = "" if status == "same" else _diff(fa[key], fb[key], rel)
            rows.append((key, _show(fa[key]), _show(fb[key]), diff, status))
    widths = [max(len(r[i]) for r in rows + [("figure", "before", "after", "difference", "status")]) for i in range(5)]
    line = "  ".join(f"{{:{w}}}" for w in widths)
    print(line.format("figure", "before", "after", "difference", "status"))
    for row in rows:
        print(line.format(*row))
    same = sum(1 for k in fa if k in fb) - sum(len(groups[g]) for g in ("DIFF", "last-digit", "text"))
    print(f"\n{len(fa)} figures before, {len(fb)} after: {same} identical, {len(groups['last-digit'])} last-digit "
          f"(rel <= {rtol:g}), {len(groups['DIFF'])} DIFFERENT, {len(groups['text'])} messages differ, "
          f"{len(groups['missing after'])} missing after, {len(groups['new after'])} new after")
    for name in ("last-digit", "DIFF", "text", "missing after", "new after"):
        if groups[name]:
            print(f"{name}:")
            for key in groups[name]:
                extra = ""
                if name in ("last-digit", "DIFF", "text"):
                    extra = f": {_show(fa[key])} -> {_show(fb[key])}"
                print(f"  {key}{extra}")
    return 1 if groups["DIFF"] or groups["missing after"] else 0


def main() -> None:
    """Parse ``measure`` / ``compare`` and run it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="run every figure on one tree")
    m.add_argument("--tree", type=Path, required=True, help="source tree (its src/ goes on PYTHONPATH)")
    m.add_argument("--out", type=Path, required=True, help="the flat JSON to write")
    m.add_argument("--only", action="append", choices=list(FIGURES), default=[], help="run only this figure (repeat)")
    m.add_argument("--work", type=Path, help="scratch folder (default: OUT without .json)")
    m.add_argument("--collect-only", action="store_true", help="run nothing: flatten the scratch folder again")
    c = sub.add_parser("compare", help="compare two flat JSONs")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")
    c.add_argument("--atol", type=float, default=1e-12, help="absolute differences below this count as equal")
    c.add_argument("--changed", action="store_true", help="print only the figures that differ")
    args = parser.parse_args()
    if args.command == "measure":
        measure(args.tree, args.out, args.only, args.work, args.collect_only)
    else:
        sys.exit(compare(args.before, args.after, args.rtol, args.atol, args.changed))


if __name__ == "__main__":
    main()
