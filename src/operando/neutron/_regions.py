"""Cell regions (electrodes, separator, current collectors, open-beam areas): given or found from the image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._regions import Region as Box
from .._regions import as_region, format_region
from ._normalize import region_mask

KINDS = ("electrode", "separator", "collector", "open", "other")
#: Layers found by default: current collectors (10-20 um) are thinner than most radiography pixels and merge into
#: the cell's outer edges; name them too (e.g. ("anode_collector", "anode", ...)) when the image resolves them.
DEFAULT_LAYERS = ("anode", "separator", "cathode")


@dataclass(frozen=True)
class Region:
    """One named region: a kind, a boolean (Y, X) mask and the boxes it was made of (empty for labels).

    The boxes are :class:`operando._regions.Region` rectangles (``y0, y1, x0, x1``; text ``'y0:y1,x0:x1'``).
    """

    name: str
    kind: str
    mask: np.ndarray
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Regions:
    """The regions of a cell cross-section and its depth axis.

    Attributes
    ----------
    regions : dict of str to Region
        By name.
    depth_axis : {"X", "Y"}
        The through-plane axis (separator to current collector); profiles average along the other axis.
    """

    regions: dict[str, Region]
    depth_axis: Literal["X", "Y"] = "X"

    def of_kind(self, kind: str) -> list[Region]:
        """Return the regions of one kind, in insertion order."""
        return [r for r in self.regions.values() if r.kind == kind]

    @property
    def open_boxes(self) -> list[Box]:
        """Return the boxes of every ``open`` region (for the beam-fluctuation correction)."""
        return [b for r in self.of_kind("open") for b in r.boxes]

    def separator_first(self, name: str) -> bool:
        """Return True if the separator lies at lower indices along the depth axis than region ``name``."""
        separators = self.of_kind("separator")
        if not separators:
            raise InputError(f"no separator region: cannot orient the depth profile of {name!r}; add a region "
                             "of kind 'separator'")
        axis = 1 if self.depth_axis == "X" else 0
        centre = float(np.mean(np.nonzero(self.regions[name].mask)[axis]))
        sep = float(np.mean(np.nonzero(separators[0].mask)[axis]))
        return sep < centre

    def to_dict(self) -> dict[str, Any]:
        """Return the regions as written to regions.json (boxes; label-defined regions as pixel counts)."""
        out: dict[str, Any] = {}
        for r in self.regions.values():
            entry: dict[str, Any] = {"kind": r.kind, "pixels": int(r.mask.sum())}
            if r.boxes:
                entry["boxes"] = [format_region(b) for b in r.boxes]
            out[r.name] = entry
        return {"depth_axis": self.depth_axis, "regions": out}


def regions_from_dict(spec: dict[str, Any], shape: tuple[int, int], *, labels: np.ndarray | None = None) -> Regions:
    """Build regions from a regions.json dict.

    The format: ``{"depth_axis": "X", "regions": {"anode": {"kind": "electrode", "box": "y0:y1,x0:x1"},
    "open": {"kind": "open", "boxes": ["1:6,2:126", "58:63,2:126"]}, "cathode": {"kind": "electrode", "label":
    3}}}``; a region is one ``box``, several ``boxes`` (pooled), or a ``label`` value of the label image. A box is
    rows then columns, end exclusive (:func:`operando._regions.parse_region`); the older list spelling
    ``[y0, y1, x0, x1]`` is refused with this one named.

    Parameters
    ----------
    spec : dict
        The parsed JSON.
    shape : (Y, X)
        Image shape.
    labels : ndarray, optional
        Integer label image for regions given by ``label``.

    Returns
    -------
    Regions
        The regions.
    """
    if not isinstance(spec.get("regions"), dict) or not spec["regions"]:
        raise InputError("regions.json needs a 'regions' object such as {\"anode\": {\"kind\": \"electrode\", "
                         "\"box\": \"y0:y1,x0:x1\"}}")
    depth_axis = str(spec.get("depth_axis", "X")).upper()
    if depth_axis not in ("X", "Y"):
        raise InputError(f"depth_axis must be 'X' or 'Y', got {depth_axis!r}")
    out: dict[str, Region] = {}
    for name, entry in spec["regions"].items():
        kind = entry.get("kind", "other")
        if kind not in KINDS:
            raise InputError(f"region {name!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        if "label" in entry:
            if labels is None:
                raise InputError(f"region {name!r} names label {entry['label']} but no label image was given")
            if labels.shape != tuple(shape):
                raise InputError(f"label image is {labels.shape}, the data {tuple(shape)}; they must match")
            mask = labels == int(entry["label"])
            boxes: tuple[Box, ...] = ()
        else:
            boxes = _boxes(name, entry)
            if not boxes:
                raise InputError(f"region {name!r} has no 'box', 'boxes' or 'label'")
            mask = region_mask(boxes, shape)
        if not mask.any():
            raise InputError(f"region {name!r} selects no pixels")
        out[name] = Region(name, kind, mask, boxes)
    return Regions(out, depth_axis)  # type: ignore[arg-type]


def _boxes(name: str, entry: dict[str, Any]) -> tuple[Box, ...]:
    """Return a region's ``box`` or ``boxes`` (text ``'y0:y1,x0:x1'``) as rectangles; lists are refused."""
    given = entry.get("boxes") or [entry.get("box")]
    return tuple(as_region(b, f"region {name!r}") for b in ([given] if isinstance(given, str) else given) if b)


def _edges(profile: np.ndarray, n_edges: int) -> np.ndarray:
    """Return the positions of the ``n_edges`` strongest steps of a 1-D profile (sorted, sub-pixel)."""
    grad = np.abs(np.gradient(ndimage.gaussian_filter1d(profile, 1.0)))
    peaks = [i for i in range(1, len(grad) - 1) if grad[i] >= grad[i - 1] and grad[i] > grad[i + 1]]
    if len(peaks) < n_edges:
        raise InputError(f"found {len(peaks)} layer boundaries along the depth axis, need {n_edges}; give the "
                         "regions as boxes (regions.json) instead")
    best = sorted(sorted(peaks, key=lambda i: -grad[i])[:n_edges])
    return np.array([i + 0.5 * (grad[i - 1] - grad[i + 1]) / (grad[i - 1] - 2 * grad[i] + grad[i + 1] or 1)
                     for i in best])


def find_layers(
    attenuation_image: np.ndarray,
    *,
    names: Sequence[str] = DEFAULT_LAYERS,
    kinds: Sequence[str] | None = None,
    depth_axis: Literal["X", "Y"] = "X",
    margin_px: int = 2,
) -> tuple[Regions, dict[str, Any]]:
    """Find the layers of a cell cross-section from its attenuation image (boundaries along the depth axis).

    The depth profile is the median over the cell's in-plane extent (rows, for ``depth_axis="X"``, whose
    median attenuation exceeds a quarter of the largest); the ``len(names) + 1`` strongest steps of the
    smoothed profile are the layer boundaries, and the layers, named in order of increasing depth index, are
    shrunk by ``margin_px`` on each side (no partial-volume pixels; thin layers keep at least their middle).

    Parameters
    ----------
    attenuation_image : ndarray, shape (Y, X)
        Attenuation ``A`` (e.g. the reference frame's).
    names : sequence of str
        Layer names in order along the depth axis.
    kinds : sequence of str, optional
        Their kinds (default: ``collector`` for names ending in ``collector``, ``separator`` for
        ``separator``, else ``electrode``).
    depth_axis : {"X", "Y"}
        The through-plane axis.
    margin_px : int
        Pixels left out at each boundary.

    Returns
    -------
    regions : Regions
        The layers as boxes.
    found : dict
        The profile, the boundaries (pixels) and the in-plane extent, for a figure.
    """
    a = np.nan_to_num(np.asarray(attenuation_image, np.float64))
    a = a if depth_axis == "X" else a.T
    level = np.median(a, axis=1)
    rows = np.nonzero(level > 0.25 * level.max())[0]
    if rows.size < 3:
        raise InputError("found no cell in the attenuation image (no rows attenuate); give regions.json instead")
    r0, r1 = int(rows[0]) + margin_px, int(rows[-1]) + 1 - margin_px
    profile = np.median(a[r0:r1], axis=0)
    edges = _edges(profile, len(names) + 1)
    kinds = list(kinds) if kinds is not None else [
        "collector" if n.endswith("collector") else "separator" if n == "separator" else "electrode" for n in names]
    out: dict[str, Region] = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        lo, hi = int(np.ceil(edges[i])), int(np.floor(edges[i + 1])) + 1
        margin = min(margin_px, max((hi - lo - 1) // 2, 0))  # thin layers (collectors) keep their middle
        d0, d1 = lo + margin, hi - margin
        if d1 <= d0:
            raise InputError(f"layer {name!r} found between {edges[i]:.1f} and {edges[i + 1]:.1f} px is empty; "
                             "give the regions as boxes (regions.json)")
        box = Box(r0, r1, d0, d1) if depth_axis == "X" else Box(d0, d1, r0, r1)
        out[name] = Region(name, kind, region_mask([box], np.shape(attenuation_image)), (box,))
    found = {"profile": profile.tolist(), "boundaries_px": edges.tolist(), "in_plane": [r0, r1]}
    return Regions(out, depth_axis), found
