"""The measuring half of a neutron analysis: every metric of one Delta A series, the cycler, metrics.json."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._errors import InputError
from ...neutron import (
    DeltaA,
    Regions,
    Transmission,
    active_area_fraction,
    charge_at,
    coulombic_efficiency,
    depth_profile,
    dynamic_variability,
    frame_boundaries,
    half_cycle_changes,
    half_cycles,
    li_cross_section_barn,
    lithium_inventory,
)
from ._config import AnalysisConfig

FARADAY_C_PER_MOL = 96485.33212


@dataclass
class Analysis:
    """What an analysis produced, in memory.

    ``denoiser`` is the denoiser's record (method, seed, steps and, for ``auto``, the choice and its reason), or
    None when nothing was denoised.
    """

    delta_raw: DeltaA
    delta_denoised: np.ndarray | None
    regions: Regions
    boundaries: list[int]
    metrics: dict[str, Any]
    found_layers: dict[str, Any] | None = None
    cycler_rows: list[dict[str, float]] = field(default_factory=list)
    transmission: Transmission | None = None
    denoiser: dict[str, Any] | None = None


def _electrode_masks(regions: Regions) -> dict[str, np.ndarray]:
    """Return the masks of the electrodes (refusing a region set without one)."""
    masks = {r.name: r.mask for r in regions.of_kind("electrode")}
    if not masks:
        raise InputError("no region of kind 'electrode'; give regions.json with the electrodes or let the layers "
                         "be found from the image")
    return masks


def _variability(data: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, Any]:
    """Return the dynamic variability over all electrodes pooled and per electrode."""
    pooled = np.any(np.stack(list(masks.values())), axis=0)
    out: dict[str, Any] = {"electrodes": dynamic_variability(data, mask=pooled).value}
    out.update({name: dynamic_variability(data, mask=m).value for name, m in masks.items()})
    return out


def _profiles(data: np.ndarray, regions: Regions, masks: dict[str, np.ndarray], boundaries: list[int]
              ) -> dict[str, Any]:
    """Return depth profiles (mean and in-plane sd) of each electrode at the half-cycle boundaries."""
    out = {}
    for name, mask in masks.items():
        prof = depth_profile(data, mask, depth_axis=regions.depth_axis, separator_first=regions.separator_first(name))
        out[name] = {"frames": boundaries, "depth_px": prof.depth_px.tolist(),
                     "mean": prof.mean[boundaries].tolist(), "sd": prof.sd[boundaries].tolist()}
    return out


def boundaries_of(config: AnalysisConfig, n_frames: int, frame_times: Sequence[float] | None,
                cycler: Any | None) -> tuple[list[int], list[dict[str, float]], list[str]]:
    """Return half-cycle boundary frames, the cycler's per-cycle rows and the half-cycle kinds."""
    if cycler is not None:
        if frame_times is None:
            raise InputError("aligning with the cycler needs frame times; the input records none (pass "
                             "--frame-interval)")
        segments = half_cycles(cycler)
        try:
            bounds = frame_boundaries(frame_times, segments)
        except InputError as exc:
            columns = ", ".join(c for c in cycler.columns if c) + ("" if cycler.columns[2] else "; no voltage column")
            raise InputError(f"{exc} (cycler columns used: {columns}; cycler record {cycler.time_s[0]:.0f}-"
                             f"{cycler.time_s[-1]:.0f} s with {len(segments)} charge/discharge segment(s), frames "
                             f"{frame_times[0]:.0f}-{frame_times[-1]:.0f} s)") from None
        return bounds, coulombic_efficiency(segments), [s.kind for s in segments]
    if config.half_cycle_frames:
        bounds = [int(b) for b in config.half_cycle_frames]
    else:
        bounds = [max(config.reference) - 1 if isinstance(config.reference, tuple) else config.reference,
                  n_frames - 1]
    return bounds, [], ["charge" if i % 2 == 0 else "discharge" for i in range(len(bounds) - 1)]


def _image_coulombic(inventory: list[float], boundaries: list[int], kinds: list[str]) -> list[dict[str, float]]:
    """Return the image-based coulombic efficiency: anode Delta A lost on discharge / gained on charge."""
    rows = []
    steps = [inventory[b1] - inventory[b0] for b0, b1 in zip(boundaries, boundaries[1:], strict=False)]
    for h in range(len(steps) - 1):
        if kinds[h] == "charge" and kinds[h + 1] == "discharge" and steps[h] != 0:
            rows.append({"cycle": len(rows) + 1, "gained": steps[h], "lost": -steps[h + 1],
                         "image_coulombic_efficiency": -steps[h + 1] / steps[h]})
    return rows


def _inventory_mask(name: str, masks: dict[str, np.ndarray], grow_px: int = 3) -> np.ndarray:
    """Return an electrode's mask grown by ``grow_px`` (its partial-volume edges hold lithium), kept off the others."""
    from scipy import ndimage

    others = np.any(np.stack([m for n, m in masks.items() if n != name] or [np.zeros_like(masks[name])]), axis=0)
    grown_others = ndimage.binary_dilation(others, iterations=grow_px) if others.any() else others
    return ndimage.binary_dilation(masks[name], iterations=grow_px) & ~grown_others


def series_metrics(data: np.ndarray, delta: DeltaA, regions: Regions, boundaries: list[int], kinds: list[str],
             config: AnalysisConfig, pixel_size_um: float | None) -> dict[str, Any]:
    """Return every metric of one Delta A series (raw or denoised)."""
    masks = _electrode_masks(regions)
    change, sd = half_cycle_changes(data, delta.var_a, boundaries, n_avg=config.n_avg)
    sigma = config.cross_section_barn or li_cross_section_barn(config.li6_fraction)
    inventory = {name: lithium_inventory(data, _inventory_mask(name, masks), pixel_size_um=pixel_size_um,
                                         cross_section_barn=sigma) for name in masks}
    first = next(iter(masks))
    return {
        "dynamic_variability": _variability(data, masks),
        "active_area_fraction": active_area_fraction(change, config.k * sd, masks),
        "depth_profiles": _profiles(data, regions, masks, boundaries),
        "lithium_inventory": inventory,
        "image_coulombic_efficiency": _image_coulombic(inventory[first]["integrated_delta_a_px"], boundaries, kinds),
    }




def cycler_summary(cycler: Any | None, rows: list[dict[str, float]], frame_times: Sequence[float] | None
                    ) -> dict[str, Any] | None:
    """Return the cycler's per-cycle and per-half-cycle capacities and the net charge at each frame."""
    if cycler is None:
        return None
    return {"cycles": rows, "columns": list(cycler.columns),
            "half_cycle_ah": [seg.charge_ah for seg in half_cycles(cycler)],
            "charge_at_frames_ah": charge_at(cycler, frame_times).tolist() if frame_times else None}


def inventory_vs_cycler(metrics: dict[str, Any], boundaries: list[int], electrode: str) -> list[dict[str, float]]:
    """Compare the lithium each half-cycle moved in an electrode (image, as Ah) with the cycler's charge.

    Parameters
    ----------
    metrics : dict
        ``analysis.metrics`` (needs ``lithium_inventory`` in moles and the cycler summary).
    boundaries : list of int
        Half-cycle boundary frames.
    electrode : str
        Electrode whose inventory is compared.

    Returns
    -------
    list of dict
        Per half-cycle: ``image_ah`` (|change of moles| x F / 3600), ``cycler_ah`` and their ratio.
    """
    cyc = metrics.get("cycler")
    moles = metrics["lithium_inventory"][electrode]["moles"]
    if not cyc or moles is None:
        return []
    rows = []
    for h, (b0, b1) in enumerate(zip(boundaries, boundaries[1:], strict=False)):
        image_ah = abs(moles[b1] - moles[b0]) * FARADAY_C_PER_MOL / 3600.0
        cycler_ah = cyc["half_cycle_ah"][h] if h < len(cyc["half_cycle_ah"]) else float("nan")
        rows.append({"half_cycle": h + 1, "image_ah": image_ah, "cycler_ah": cycler_ah,
                     "ratio": image_ah / cycler_ah if cycler_ah else float("nan")})
    return rows




def _split(raw: dict[str, Any], denoised: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """Return ``{region: {"raw": ..., "denoised": ...}}`` for one metric."""
    return {name: {"raw": value, "denoised": denoised[key][name] if denoised else None}
            for name, value in raw[key].items()}


def metrics_document(analysis: Analysis, config: AnalysisConfig, *, input_path: str = "") -> dict[str, Any]:
    """Return metrics.json: variability raw/denoised, active area per half-cycle, profiles, configuration.

    Parameters
    ----------
    analysis : Analysis
        From :func:`analyze_series`.
    config : AnalysisConfig
        Its settings.
    input_path : str
        What was analysed.

    Returns
    -------
    dict
        The document.
    """
    raw, den = analysis.metrics["raw"], analysis.metrics.get("denoised")
    var_raw, var_den = raw["dynamic_variability"], den["dynamic_variability"] if den else None
    electrodes = [r.name for r in analysis.regions.of_kind("electrode")]
    return {
        "input": input_path,
        "dynamic_variability": {"raw": var_raw["electrodes"], "denoised": var_den["electrodes"] if var_den else None,
                                "window": [3, 3, 3], "mask": f"electrodes pooled ({', '.join(electrodes)})",
                                "per_region": {n: {"raw": var_raw[n], "denoised": var_den[n] if var_den else None}
                                               for n in electrodes}},
        "active_area_fraction": {**_split(raw, den, "active_area_fraction"), "k": config.k,
                                 "frames_averaged_at_each_boundary": config.n_avg,
                                 "rule": "|change of Delta A over the half-cycle| > k x propagated sd of the raw "
                                         "change (same threshold for raw and denoised)"},
        "depth_profiles": _split(raw, den, "depth_profiles"),
        "lithium_inventory": _split(raw, den, "lithium_inventory"),
        "coulombic_efficiency": {
            "cycler": analysis.metrics["cycler"]["cycles"] if analysis.metrics["cycler"] else None,
            "image_raw": raw["image_coulombic_efficiency"],
            "image_denoised": den["image_coulombic_efficiency"] if den else None},
        "inventory_vs_cycler": {key: inventory_vs_cycler({**block, "cycler": analysis.metrics["cycler"]},
                                                         analysis.boundaries, electrodes[0])
                                for key, block in (("raw", raw), ("denoised", den)) if block},
        "half_cycles": analysis.metrics["half_cycles"],
        "delta_a": analysis.metrics["delta_a"],
        "normalization": analysis.transmission.info if analysis.transmission is not None else None,
        "regions": analysis.regions.to_dict(),
        "found_layers": analysis.found_layers,
        "denoised": None if config.denoise == "none" else {
            "method": (analysis.denoiser or {}).get("method", config.denoise), "requested": config.denoise,
            "what": config.denoise_target, "time_budget_s": config.time_budget_s,
            "auto": (analysis.denoiser or {}).get("auto")},
        "configuration": config.model_dump(mode="json"),
        "seed": config.seed,
        "seconds": analysis.metrics["seconds"],
    }

