"""The neutron widget: normalise raw radiographs, then analyse the transmission into Delta A and the paper's metrics.

The science is :func:`operando.neutron.normalize` (``operando neutron normalize``) and
:func:`operando.workflows.neutron.analyze_series` with an :class:`AnalysisConfig` (``operando neutron analyze``;
its metrics document is :func:`~operando.workflows.neutron.metrics_document`). The pure pieces (regions from
drawn rectangles, the result layers, the metrics table's rows) are functions here, tested without a viewer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QGroupBox, QLineEdit, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from .._errors import InputError
from .._regions import format_region
from .._stack import Stack
from ._forms import LayerChoice, add_layers, checked_config, form_layout, path_row, spin
from ._layers import LayerData
from ._stxm import rectangle_region

if TYPE_CHECKING:
    import napari

    from ..neutron import Regions, Transmission
    from ..workflows.neutron import Analysis, AnalysisConfig

#: Columns of the metrics table.
METRIC_COLUMNS = ("metric", "region", "raw", "denoised")


# ---- pure pieces ------------------------------------------------------------------------------------------------
def rectangles(shapes: Any, image: Any, shape: tuple[int, int]) -> list[tuple[str, str, str]]:
    """Return ``(name, kind, 'y0:y1,x0:x1')`` for every rectangle of a Shapes layer, in the image's pixels.

    Names and kinds come from the layer's ``features`` columns ``name`` and ``kind`` when it has them, else
    ``region 1``, ``region 2``, ... of kind ``electrode``.
    """
    features = getattr(shapes, "features", None)
    columns = set(getattr(features, "columns", []))
    out = []
    for i, (vertices, kind) in enumerate(zip(shapes.data, shapes.shape_type, strict=True)):
        if kind != "rectangle":
            continue
        box = rectangle_region(vertices, shape, shapes_scale=shapes.scale, shapes_translate=shapes.translate,
                               image_scale=image.scale, image_translate=image.translate)
        name = str(features["name"].iloc[i]) if "name" in columns else f"region {len(out) + 1}"
        region_kind = str(features["kind"].iloc[i]) if "kind" in columns else "electrode"
        out.append((name, region_kind, format_region(box)))
    if not out:
        raise InputError(f"the Shapes layer {shapes.name!r} holds no rectangle; draw the regions as rectangles, or "
                         "choose 'found in the image'")
    return out


def drawn_regions(boxes: list[tuple[str, str, str]], shape: tuple[int, int], depth_axis: str = "X") -> Regions:
    """Return :class:`operando.neutron.Regions` from ``(name, kind, box)`` rectangles (same names pooled)."""
    from ..neutron import regions_from_dict

    spec: dict[str, dict[str, Any]] = {}
    for name, kind, box in boxes:
        entry = spec.setdefault(name, {"kind": kind, "boxes": []})
        entry["boxes"].append(box)
    return regions_from_dict({"depth_axis": depth_axis, "regions": spec}, shape)


def parse_half_cycles(text: str) -> tuple[int, ...] | None:
    """Parse half-cycle boundary frames ``a,b,c`` (empty: None)."""
    if not text.strip():
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"half-cycles {text!r}: give boundary frames separated by commas, e.g. 3,9,15") from None


def analysis_config(*, reference: str, denoise: str, half_cycles: str, time_budget_s: float, max_steps: int,
                    seed: int) -> AnalysisConfig:
    """Return the checked :class:`AnalysisConfig` of the form (``max_steps`` 0: as many as the budget allows)."""
    from ..workflows.neutron import AnalysisConfig, parse_reference

    return checked_config(AnalysisConfig, reference=parse_reference(reference, "reference frames"), denoise=denoise,
                          half_cycle_frames=parse_half_cycles(half_cycles), time_budget_s=time_budget_s,
                          max_steps=max_steps or None, seed=seed)


def diverging(name: str, data: np.ndarray, limit: float, geometry: dict[str, Any], record: dict[str, Any]
              ) -> LayerData:
    """Return an image layer of signed data on the house diverging map, contrast limits ``(-limit, limit)``."""
    from ..report import DIVERGING_CMAP

    meta = {**geometry.get("metadata", {}), "operando": record}
    kwargs = {**geometry, "name": name, "colormap": DIVERGING_CMAP, "contrast_limits": (-limit, limit),
              "metadata": meta}
    return data, kwargs, "image"


def delta_layers(analysis: Analysis, *, name: str = "") -> list[LayerData]:
    """Return Delta A raw and (when denoised) denoised, centred on 0, and the regions as labels with features.

    Both Delta A layers share one symmetric range: the 99.5th percentile of |raw Delta A| (a few gamma spots and
    edge pixels do not wash out the map), so raw and denoised compare on one scale.
    """
    import pandas as pd

    from ._layers import stack_to_layer

    prefix = f"{name} " if name else ""
    stack = analysis.delta_raw.stack
    data, geometry, _ = stack_to_layer(stack, name=f"{prefix}Delta A raw")
    record = geometry["metadata"]["operando"]
    raw = np.asarray(data, np.float32)
    finite = np.abs(raw[np.isfinite(raw)])
    limit = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    limit = limit if limit > 0 else 1.0
    out = [diverging(f"{prefix}Delta A raw", raw, limit, geometry, record)]
    if analysis.delta_denoised is not None:
        out.append(diverging(f"{prefix}Delta A denoised", np.asarray(analysis.delta_denoised, np.float32), limit,
                             geometry, record))
    labels = np.zeros(stack.shape[-2:], np.int32)
    rows = []
    for value, region in enumerate(analysis.regions.regions.values(), start=1):
        labels[region.mask & (labels == 0)] = value
        rows.append({"index": value, "name": region.name, "kind": region.kind, "pixels": int(region.mask.sum())})
    keep = {k: v[-2:] for k, v in geometry.items() if k in ("scale", "translate", "units", "axis_labels")}
    features = pd.DataFrame(rows, columns=["index", "name", "kind", "pixels"])
    out.append((labels, {**keep, "name": f"{prefix}regions", "features": features, "opacity": 0.4}, "labels"))
    return out


def _number(value: Any) -> str:
    if value is None:
        return "-"
    value = float(value)
    return "nan" if math.isnan(value) else f"{value:.4g}"


def metrics_rows(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return the metrics table's rows ``(metric, region, raw, denoised)`` from a metrics document."""
    rows = []
    var = document["dynamic_variability"]
    rows.append(("dynamic variability", "electrodes", _number(var["raw"]), _number(var["denoised"])))
    rows += [("dynamic variability", n, _number(v["raw"]), _number(v["denoised"]))
             for n, v in var["per_region"].items()]
    kinds = document["half_cycles"]["kinds"]
    for region, value in document["active_area_fraction"].items():
        if not isinstance(value, dict):
            continue
        den = value["denoised"] or [None] * len(value["raw"])
        rows += [(f"active area, half-cycle {h + 1} ({kinds[h] if h < len(kinds) else '?'})", region, _number(r),
                  _number(d)) for h, (r, d) in enumerate(zip(value["raw"], den, strict=False))]
    ce = document["coulombic_efficiency"]
    den_ce = ce["image_denoised"] or [None] * len(ce["image_raw"])
    rows += [(f"image coulombic efficiency, cycle {r['cycle']}", "anode", _number(r["image_coulombic_efficiency"]),
              _number(d["image_coulombic_efficiency"] if d else None)) for r, d in zip(ce["image_raw"], den_ce,
                                                                                          strict=False)]
    rows += [(f"cycler coulombic efficiency, cycle {i + 1}", "cell", _number(r.get("coulombic_efficiency")), "-")
             for i, r in enumerate(ce["cycler"] or [])]
    for key, vs in document.get("inventory_vs_cycler", {}).items():
        rows += [(f"Li moved / cycler charge ({key}), half-cycle {r['half_cycle']}", "anode", _number(r["ratio"]),
                  "-") for r in vs]
    return rows


def transmission_layer(tr: Transmission, *, name: str = "transmission") -> LayerData:
    """Return the transmission of :func:`operando.neutron.normalize` as a grey image layer."""
    from ._layers import stack_to_layer

    return stack_to_layer(tr.stack, name=name, colormap="gray", contrast_limits=(0.0, 1.2))


# ---- the widget -------------------------------------------------------------------------------------------------
class NeutronWidget(QWidget):
    """Normalise sample / open beam / dark layers, then analyse a transmission: Delta A, regions, metrics."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.transmissions: dict[int, tuple[Any, Transmission]] = {}  # id(layer) -> (layer, its Transmission)
        self.analysis: Analysis | None = None
        self.document: dict[str, Any] | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._normalise_box())
        layout.addWidget(self._analyse_box())
        self.table = QTableWidget(0, len(METRIC_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(METRIC_COLUMNS))
        self.table.setMinimumHeight(160)
        layout.addWidget(self.table)

    def _normalise_box(self) -> QGroupBox:
        from ._worker import JobPanel

        box = QGroupBox("1. normalise")
        self.sample_choice = LayerChoice(self.viewer, ("image",))
        self.open_beam_choice = LayerChoice(self.viewer, ("image",))
        self.dark_choice = LayerChoice(self.viewer, ("image",))
        self.air_choice = LayerChoice(self.viewer, ("shapes",), optional="none")
        self.air_choice.setToolTip("rectangles over air (no cell) for the beam-fluctuation correction")
        self.normalise_panel = JobPanel("Normalise")
        form_layout((("sample", self.sample_choice), ("open beam", self.open_beam_choice), ("dark", self.dark_choice),
                     ("air regions", self.air_choice), ("", self.normalise_panel)), box)
        self.air_choice.setCurrentIndex(0)
        self.normalise_panel.run_button.clicked.connect(self.normalise)
        return box

    def _analyse_box(self) -> QGroupBox:
        from ._worker import JobPanel

        box = QGroupBox("2. analyse")
        self.transmission_choice = LayerChoice(self.viewer, ("image",))
        self.reference = QLineEdit("0")
        self.reference.setToolTip("reference frame N, or a range start:stop averaged")
        self.regions_choice = LayerChoice(self.viewer, ("shapes",), optional="found in the image")
        self.regions_choice.setToolTip("rectangles of a Shapes layer (features 'name' and 'kind' name them), or the "
                                       "layers found from the attenuation image")
        self.cycler = QLineEdit()
        self.cycler.setPlaceholderText("cycler CSV (time, current, voltage); optional")
        self.half_cycles = QLineEdit()
        self.half_cycles.setPlaceholderText("boundary frames a,b,c (without a cycler file)")
        self.denoise = QComboBox()
        self.denoise.addItems(["video", "auto", "none"])
        self.time_budget = spin(1.0, 86400.0, 120.0, decimals=1, suffix=" s")
        self.max_steps = spin(0, 10**7, 0)
        self.max_steps.setToolTip("the denoiser's training steps (0: as many as the time budget allows)")
        self.seed = spin(0, 2**31 - 1, 0)
        self.analyse_panel = JobPanel("Analyse")
        form_layout((("transmission", self.transmission_choice), ("reference frames", self.reference),
                     ("regions", self.regions_choice), ("cycler file", path_row(self.cycler, "Cycler CSV")),
                     ("half-cycles", self.half_cycles), ("denoiser", self.denoise), ("time budget", self.time_budget),
                     ("max steps", self.max_steps), ("seed", self.seed), ("", self.analyse_panel)), box)
        self.regions_choice.setCurrentIndex(0)
        self.analyse_panel.run_button.clicked.connect(self.analyse)
        return box

    # ---- normalise -------------------------------------------------------------------------------------------
    def normalise(self) -> Any:
        """Normalise the chosen layers in a worker; the transmission becomes a new layer. Return the worker."""
        from ..neutron import normalize
        from ._layers import layer_to_stack

        try:
            layers = [c.layer() for c in (self.sample_choice, self.open_beam_choice, self.dark_choice)]
            if any(layer is None for layer in layers):
                raise InputError("choose the sample, open-beam and dark layers (raw counts)")
            sample, ob, dark = (layer_to_stack(layer) for layer in layers)
            air = self.air_choice.layer()
            opens = tuple(b for _, _, b in rectangles(air, layers[0], sample.shape[-2:])) if air is not None else ()
        except Exception as exc:  # noqa: BLE001 - one line in the status
            return self.normalise_panel.fail(exc)
        from .._regions import parse_region

        boxes = tuple(parse_region(b) for b in opens)

        def done(tr: Transmission) -> str:
            layer = add_layers(self.viewer, [transmission_layer(tr, name=f"{layers[0].name} transmission")])[0]
            self.transmissions[id(layer)] = (layer, tr)
            self.transmission_choice.select(layer.name)
            return f"done: transmission median {float(np.nanmedian(tr.stack.to_numpy())):.3f}"

        return self.normalise_panel.start(
            lambda progress: normalize(sample, ob, dark, open_regions=boxes, progress=progress), done,
            message="normalising")

    # ---- analyse ---------------------------------------------------------------------------------------------
    def _source(self) -> tuple[Any, Transmission | Stack]:
        from ._layers import layer_to_stack

        layer = self.transmission_choice.layer()
        if layer is None:
            raise InputError("no transmission layer: normalise the raw layers first, or open a transmission series")
        kept = self.transmissions.get(id(layer))
        if kept is not None and kept[0] is layer:
            return layer, kept[1]  # normalised here: its counting noise is carried on
        stack = layer_to_stack(layer)
        return layer, Stack(np.asarray(stack.to_numpy(), np.float32), stack.axes, stack.metadata)

    def prepare(self) -> tuple[Any, Transmission | Stack, AnalysisConfig, Regions | None, Any]:
        """Read the form: (layer, source, configuration, regions or None, cycler or None); InputError if wrong."""
        from ..neutron import read_cycler_csv

        layer, source = self._source()
        stack = source if isinstance(source, Stack) else source.stack
        cfg = analysis_config(reference=self.reference.text(), denoise=self.denoise.currentText(),
                              half_cycles=self.half_cycles.text(), time_budget_s=self.time_budget.value(),
                              max_steps=self.max_steps.value(), seed=self.seed.value())
        shapes = self.regions_choice.layer()
        regions = drawn_regions(rectangles(shapes, layer, stack.shape[-2:]), stack.shape[-2:]) if shapes else None
        cycler = read_cycler_csv(self.cycler.text().strip()) if self.cycler.text().strip() else None
        return layer, source, cfg, regions, cycler

    def analyse(self) -> Any:
        """Analyse the chosen transmission in a worker; add Delta A, the regions and fill the table."""
        from ..workflows.neutron import analyze_series, metrics_document

        try:
            layer, source, cfg, regions, cycler = self.prepare()
        except Exception as exc:  # noqa: BLE001 - one line in the status
            return self.analyse_panel.fail(exc)

        def job(progress: Any) -> tuple[Analysis, dict[str, Any]]:
            analysis = analyze_series(source, config=cfg, regions=regions, cycler=cycler, progress=progress)
            return analysis, metrics_document(analysis, cfg, input_path=layer.name)

        def done(result: tuple[Analysis, dict[str, Any]]) -> str:
            self.analysis, self.document = result
            add_layers(self.viewer, delta_layers(self.analysis, name=layer.name))
            self.show_metrics(self.document)
            var = self.document["dynamic_variability"]
            den = f" -> denoised {var['denoised']:.4g}" if var["denoised"] is not None else ""
            return f"done: dynamic variability raw {var['raw']:.4g}{den}"

        return self.analyse_panel.start(job, done, message="analysing")

    def show_metrics(self, document: dict[str, Any]) -> None:
        """Fill the metrics table from a metrics document."""
        rows = metrics_rows(document)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
