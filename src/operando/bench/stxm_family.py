"""The STXM benchmark over a family of phantoms: the worst case, median and spread of every target.

Variant 0 is the single benchmark's phantom; the others are drawn by :func:`operando.xray.phantom_family`
within the ranges of :class:`operando.xray.PhantomFamily` (docs/xray.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from ..xray import PhantomFamily, phantom_family
from .stxm import BenchmarkConfig, benchmark_stxm


def benchmark_stxm_family(output: str | os.PathLike, *, variants: int, config: BenchmarkConfig | None = None,
                          family: PhantomFamily | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Run :func:`benchmark_stxm` on ``variants`` phantoms of the family; the worst case, median and spread.

    Variant 0 is ``config.phantom`` itself (the single benchmark's phantom), variants 1 ... are drawn by
    :func:`phantom_family` from ``config.seed``. Each variant's own report goes to ``output/variant_NN/``; the
    family's ``report.md`` and ``results.json`` to ``output``.

    Parameters
    ----------
    output : str or path
        Folder.
    variants : int
        Phantoms (>= 1).
    config : BenchmarkConfig, optional
        Denoiser and base phantom settings (the same for every variant but the phantom).
    family : PhantomFamily, optional
        Ranges of the drawn settings.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        ``variants`` (each variant's phantom settings and figures, or why it did not run), ``summary`` (per
        target: worst value and its variant, median, min, max, sd, met on the worst), ``met_on_worst`` (all
        targets, and every variant ran), ``family`` (the ranges), ``config``, ``seed``.
    """
    cfg = config or BenchmarkConfig()
    fam = family or PhantomFamily()
    configs = phantom_family(variants, base=cfg.phantom, family=fam, rng=cfg.seed)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for k, pcfg in enumerate(configs):
        sub = sub_progress(progress, k / len(configs), (k + 1) / len(configs), f"variant {k}: ")
        started = time.perf_counter()
        record: dict[str, Any] = {"variant": k, "phantom": pcfg.model_dump(mode="json"), "folder": f"variant_{k:02d}"}
        try:
            result = benchmark_stxm(out / record["folder"], config=cfg.model_copy(update={"phantom": pcfg}),
                                    progress=sub)
        except InputError as exc:
            record["not_run"] = str(exc)
        else:
            record["targets"] = {key: {"value": v["value"], "met": v["met"], "margin": v["margin"]}
                                 for key, v in result["targets"].items()}
        record["seconds"] = time.perf_counter() - started
        records.append(record)
    summary = _family_summary(records)
    failed = [r["variant"] for r in records if "not_run" in r]
    result = {"variants": records, "summary": summary, "failed_variants": failed,
              "met_on_worst": bool(summary) and not failed and all(v["met_on_worst"] for v in summary.values()),
              "family": fam.ranges(), "config": cfg.model_dump(mode="json"), "seed": cfg.seed,
              "n_variants": variants, "versions": versions()}
    write_json_file(out / "results.json", result)
    _family_report(out, result)
    emit(progress, 1.0, "benchmark done")
    return result


def _family_summary(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per target over the variants that ran: worst (smallest margin), median, min, max, sd, met on the worst."""
    ran = [r for r in records if "targets" in r]
    summary: dict[str, dict[str, Any]] = {}
    for key in ran[0]["targets"] if ran else []:
        values = np.array([r["targets"][key]["value"] for r in ran], float)
        margins = np.array([r["targets"][key]["margin"] for r in ran], float)
        worst = int(np.nanargmin(np.where(np.isfinite(margins), margins, -np.inf)))
        summary[key] = {"worst": float(values[worst]), "worst_variant": ran[worst]["variant"],
                        "median": float(np.nanmedian(values)), "min": float(np.nanmin(values)),
                        "max": float(np.nanmax(values)),
                        "sd": float(np.nanstd(values, ddof=1)) if len(values) > 1 else float("nan"),
                        "met_on_worst": bool(ran[worst]["targets"][key]["met"]),
                        "variants_met": int(sum(r["targets"][key]["met"] for r in ran)), "variants": len(ran)}
    return summary


#: The wanted range of each target, as the single benchmark words it (for the family's table).
_WANTED = {"rmse_ratio_raw_over_denoised": ">= 3", "mean_bias_denoised": "|.| < 0.01",
           "mean_bias_raw": "|.| < 0.01", "max_abs_bias_denoised": "< 0.01", "max_abs_bias_raw": "< 0.01",
           "coverage_raw": "0.90-0.98", "coverage_denoised": "0.90-0.98", "stripe_share_removed": ">= 0.8",
           "psnr_gain_vs_reference_db": ">= 3 dB"}


#: The figures shown per variant: column -> target key.
_VARIANT_FIGURES = {"x RMSE ratio": "rmse_ratio_raw_over_denoised", "coverage den.": "coverage_denoised",
                    "coverage raw": "coverage_raw", "max bias den.": "max_abs_bias_denoised",
                    "max bias raw": "max_abs_bias_raw", "stripes removed": "stripe_share_removed",
                    "PSNR gain dB": "psnr_gain_vs_reference_db"}


def family_rows(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the family benchmark's two tables: per target (worst / median / spread) and per variant.

    Parameters
    ----------
    result : dict
        From :func:`benchmark_stxm_family`.

    Returns
    -------
    (list of dict, list of dict)
        Target rows and variant rows, ready for a printed or markdown table.
    """
    targets = [{"target": k, "wanted": _WANTED.get(k, ""), "worst": v["worst"], "worst variant": v["worst_variant"],
                "median": v["median"], "min": v["min"], "max": v["max"], "sd": v["sd"],
                "met (variants)": f"{v['variants_met']}/{v['variants']}", "met on worst": v["met_on_worst"]}
               for k, v in result["summary"].items()]
    variants = []
    for r in result["variants"]:
        p = r["phantom"]
        row = {"variant": r["variant"], "seed": p["seed"], "I0": round(p["i0_counts"], 1),
               "t um": f"{p['thickness_um'][0]:.3f}-{p['thickness_um'][1]:.3f}", "particles": p["n_particles"],
               "scale": round(p["particle_scale"], 2), "drift px": round(p["drift_px"], 2),
               "line gain": round(p["line_gain_sd"], 3), "line offset": round(p["line_offset_sd"], 4),
               "row drift": round(p["row_drift"], 3), "support OD": round(p["background_od_sd"], 4),
               "energies eV": "/".join(f"{e:g}" for e in p["energies_ev"])}
        t = r.get("targets", {})
        row |= {label: t[key]["value"] if key in t else None for label, key in _VARIANT_FIGURES.items()}
        row["s"] = round(r["seconds"], 1)
        variants.append(row)
    return targets, variants


def _family_report(out: Path, result: dict[str, Any]) -> None:
    from ..report import markdown_table

    targets, variants = family_rows(result)
    cfg = result["config"]
    ranges = [{"setting": k, "low": v[0], "high": v[1]} for k, v in result["family"].items()]
    failed = [f"variant {r['variant']}: {r['not_run']}" for r in result["variants"] if "not_run" in r]
    lines = [f"# STXM composition benchmark over {result['n_variants']} phantoms of the family", "",
             f"Method {cfg['method']}, seed {result['seed']}, {cfg['bias_draws']} extra noise draws per variant; "
             "variant 0 is the single benchmark's phantom. Each variant's report: variant_NN/report.md.", "",
             markdown_table(targets), "",
             ("Every target met on the worst variant." if result["met_on_worst"] else
              "Not met on the worst variant: " + ", ".join(
                  [f"{k} ({v['worst']:.4g}, variant {v['worst_variant']})"
                   for k, v in result["summary"].items() if not v["met_on_worst"]]
                  + (["a variant did not run"] if failed else []))
              + "."), "", *(f"- not run: {f}" for f in failed), "",
             markdown_table(variants), "", "The family's ranges:", "", markdown_table(ranges), ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
