"""Figures of ``operando neutron analyze``: variability histogram, active area, depth profiles, kymographs, CE.

Made in the one house style of :mod:`operando.report` (``new_figure``, ``show_image``, ``colours``, ``save_figure``;
Delta A on the diverging map, symmetric about 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...neutron import depth_profile, local_std_map
from ...report import colours, figure_style, new_figure, save_figure, show_image


def _series(analysis: Any) -> dict[str, np.ndarray]:
    """Return the Delta A series by name (raw, and denoised when present)."""
    out = {"raw": analysis.delta_raw.stack.to_numpy()}
    if analysis.delta_denoised is not None:
        out["denoised"] = analysis.delta_denoised
    return out


def plot_variability_histogram(analysis: Any, path: Path) -> Path:
    """Draw the distribution of the local 3x3x3 sd inside the electrodes, raw vs denoised, with their means."""
    masks = [r.mask for r in analysis.regions.of_kind("electrode")]
    pooled = np.any(np.stack(masks), axis=0)
    fig, ax = new_figure(size=(6, 3.5))
    for name, data in _series(analysis).items():
        values = local_std_map(data)[:, pooled]
        values = values[np.isfinite(values)]
        ax.hist(values, bins=120, histtype="step", density=True, label=f"{name}: mean {values.mean():.4f}")
    ax.set_xlabel("local 3x3x3 (t, y, x) sd of Delta A")
    ax.set_ylabel("density")
    ax.set_title("dynamic variability in the electrodes")
    ax.legend()
    return save_figure(fig, path)


def plot_active_area(analysis: Any, path: Path) -> Path:
    """Draw the active area fraction of each electrode per half-cycle, raw and denoised."""
    metrics = analysis.metrics
    names = list(metrics["raw"]["active_area_fraction"])
    kinds = metrics["half_cycles"]["kinds"]
    fig, axes = new_figure(1, len(names), size=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        h = np.arange(len(metrics["raw"]["active_area_fraction"][name]))
        for offset, key in ((-0.2, "raw"), (0.2, "denoised")):
            if key in metrics:
                ax.bar(h + offset, metrics[key]["active_area_fraction"][name], width=0.4, label=key)
        ax.set_xticks(h, [f"{i + 1}\n{kinds[i][:3] if i < len(kinds) else ''}" for i in h])
        ax.set_ylim(0, 1.05)
        ax.set_title(name)
        ax.set_xlabel("half-cycle")
    axes[0][0].set_ylabel("active area fraction")
    axes[0][0].legend()
    return save_figure(fig, path)


def plot_depth_profiles(analysis: Any, path: Path) -> Path:
    """Draw each electrode's depth profiles (separator -> current collector) at the half-cycle ends, sd bands."""
    series = _series(analysis)
    data = series.get("denoised", series["raw"])
    electrodes = analysis.regions.of_kind("electrode")
    fig, axes = new_figure(1, len(electrodes), size=(5 * len(electrodes), 3.6), squeeze=False)
    for ax, region in zip(axes[0], electrodes, strict=True):
        prof = depth_profile(data, region.mask, depth_axis=analysis.regions.depth_axis,
                             separator_first=analysis.regions.separator_first(region.name))
        for b, c in zip(analysis.boundaries, colours(len(analysis.boundaries)), strict=True):
            ax.plot(prof.depth_px, prof.mean[b], color=c, label=f"frame {b}")
            ax.fill_between(prof.depth_px, prof.mean[b] - prof.sd[b], prof.mean[b] + prof.sd[b], color=c, alpha=0.2)
        ax.set_title(f"{region.name} ({'denoised' if 'denoised' in series else 'raw'}; band: in-plane sd)")
        ax.set_xlabel("depth from separator (px)")
    axes[0][0].set_ylabel("Delta A")
    axes[0][-1].legend(fontsize=7)
    return save_figure(fig, path)


def plot_kymographs(analysis: Any, path: Path) -> Path:
    """Draw depth x time kymographs of each electrode, raw and denoised, on one colour scale."""
    series = _series(analysis)
    electrodes = analysis.regions.of_kind("electrode")
    fig, axes = new_figure(len(series), len(electrodes), size=(5 * len(electrodes), 3.2 * len(series)),
                           squeeze=False, layout="constrained")
    for j, region in enumerate(electrodes):
        kymos = {name: depth_profile(d, region.mask, depth_axis=analysis.regions.depth_axis,
                                     separator_first=analysis.regions.separator_first(region.name)).kymograph
                 for name, d in series.items()}
        lim = float(np.nanmax(np.abs(kymos.get("denoised", kymos["raw"])))) or 1.0
        for i, (name, k) in enumerate(kymos.items()):
            im = show_image(axes[i][j], k, signed=True, vmin=-lim, vmax=lim, aspect="auto")
            axes[i][j].set_title(f"{region.name} {name}")
            axes[i][j].set_xlabel("frame")
            axes[i][j].set_ylabel("depth from separator (px)")
        fig.colorbar(im, ax=[axes[i][j] for i in range(len(series))], label="Delta A")
    return save_figure(fig, path)


def plot_coulombic_efficiency(analysis: Any, path: Path) -> Path:
    """Draw coulombic efficiency vs cycle: the cycler's and the image-based one (raw, denoised)."""
    fig, ax = new_figure(size=(5, 3.5))
    cyc = analysis.metrics.get("cycler")
    if cyc and cyc["cycles"]:
        ax.plot([r["cycle"] for r in cyc["cycles"]], [r["coulombic_efficiency"] for r in cyc["cycles"]], "ko-",
                label="cycler")
    for key in ("raw", "denoised"):
        rows = analysis.metrics.get(key, {}).get("image_coulombic_efficiency") if key in analysis.metrics else None
        if rows:
            ax.plot([r["cycle"] for r in rows], [r["image_coulombic_efficiency"] for r in rows], "s--",
                    label=f"image ({key}, first electrode)")
    ax.set_xlabel("cycle")
    ax.set_ylabel("coulombic efficiency")
    if ax.get_lines():
        ax.legend()
    else:  # no full cycle in the series: say so instead of an empty legend
        ax.text(0.5, 0.5, "no complete charge/discharge cycle", ha="center", va="center", transform=ax.transAxes)
    return save_figure(fig, path)


def _reference_attenuation(analysis: Any) -> np.ndarray | None:
    """Return -ln of the mean transmission over the reference frames, when the transmission is at hand."""
    if analysis.transmission is None:
        return None
    t = analysis.transmission.stack.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log(np.nanmean(t[list(analysis.delta_raw.reference)], axis=0))


def plot_regions(analysis: Any, path: Path) -> Path:
    """Draw the reference attenuation with every region outlined (and the layer profile found), for checking."""
    fig, axes = new_figure(1, 2 if analysis.found_layers else 1, size=(12, 4.5), squeeze=False)
    ax = axes[0][0]
    background = _reference_attenuation(analysis)
    regions = sorted(analysis.regions.regions.values(), key=lambda r: r.kind != "other")
    if background is not None:
        show_image(ax, background, kind="grey")
    colors = colours(10, "categorical")
    for i, region in enumerate(regions):
        ax.contour(region.mask.astype(float), levels=[0.5], colors=[colors[i % 10]], linewidths=1.2)
        ys, xs = np.nonzero(region.mask)
        ax.text(xs.mean(), ys.min() + 0.5 * (ys.max() - ys.min()) * (0.3 + 0.4 * (i % 2)), region.name,
                ha="center", va="center", fontsize=7, color=colors[i % 10],
                rotation=90 if analysis.regions.depth_axis == "X" and region.kind != "open" else 0)
    ax.set_title(f"regions on the reference attenuation (depth axis {analysis.regions.depth_axis})")
    if analysis.found_layers:
        found = analysis.found_layers
        axes[0][1].plot(found["profile"], "k-")
        for b in found["boundaries_px"]:
            axes[0][1].axvline(b, color="r", lw=0.8)
        axes[0][1].set_title("attenuation depth profile and the layer boundaries found")
    return save_figure(fig, path)


def draw_all(analysis: Any, folder: Path) -> list[Path]:
    """Draw every figure of an analysis into ``folder``.

    Parameters
    ----------
    analysis : Analysis
        From :func:`operando.workflows.neutron.analyze_series`.
    folder : Path
        Output folder.

    Returns
    -------
    list of Path
        The PNG files.
    """
    with figure_style():
        return [plot_variability_histogram(analysis, folder / "variability_histogram.png"),
                plot_active_area(analysis, folder / "active_area.png"),
                plot_depth_profiles(analysis, folder / "depth_profiles.png"),
                plot_kymographs(analysis, folder / "kymographs.png"),
                plot_regions(analysis, folder / "regions.png"),
                plot_coulombic_efficiency(analysis, folder / "coulombic_efficiency.png")]
