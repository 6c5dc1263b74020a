"""The STXM composition widget: counts at >= 2 energies -> Li fraction x, thickness, sd(x) and particle labels.

The science is :func:`operando.workflows.stxm.run_composition` with a :class:`CompositionConfig`, the call
``operando stxm composition`` makes; "Save run..." writes what that command writes (``x.tif`` and ``x.json``,
through :func:`operando.workflows.stxm.write_composition`). The pure pieces (the counts Stack of a layer, the
I0 region of a drawn rectangle, the result layers) are functions here, tested without a viewer.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QLineEdit, QPushButton, QVBoxLayout, QWidget

from .._errors import InputError
from .._regions import Region, format_region
from .._stack import Stack
from ._forms import LayerChoice, add_layers, checked_config, form_layout, path_row, save_into_folder, spin
from ._layers import LayerData

if TYPE_CHECKING:
    import napari

    from ..workflows.stxm import CompositionConfig, CompositionRun

#: What the references field means when it is left empty (the CLI's default).
BUILT_IN_REFERENCES = "built-in LiFePO4 / FePO4 (approximate)"

#: Keyword arguments an image layer's tuple shares with a labels layer (geometry and the record).
_GEOMETRY = ("scale", "translate", "units", "axis_labels", "metadata")


# ---- pure pieces ------------------------------------------------------------------------------------------------
def parse_energies(text: str) -> list[float] | None:
    """Parse ``"708.2, 710.2"`` into energies in eV; an empty field is None (every energy of the layer)."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"energies {text!r}: give numbers in eV separated by commas, e.g. 708.2, 710.2") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"energies {text!r}: energies must be finite numbers, e.g. 708.2, 710.2")
    return values


def counts_stack(stack: Stack, energies: list[float] | None) -> tuple[Stack, list[float] | None]:
    """Return the counts Stack the pipeline reads and the energies it selects (None: all of the layer's).

    A layer that records its energies keeps them: ``energies`` then picks among them (nearest within 0.3 eV,
    as ``--energies``). A layer without energies (a plain TIFF) takes ``energies`` as the energy of each image
    along its ``E`` axis, or along its first axis when it is a 3-D stack without one.
    """
    if stack.metadata.energies:
        return stack, energies
    if energies is None:
        raise InputError(f"the layer records no energies (axes {stack.axes}, shape {stack.shape}); type the energy "
                         "of each image in eV, e.g. 708.2, 710.2")
    if "E" not in stack.axes:
        if stack.ndim != 3:
            raise InputError(f"the layer's axes {stack.axes!r} hold no energy axis E (shape {stack.shape}); open "
                             "an energy stack (EYX or TEYX)")
        stack = Stack(stack.to_numpy(), "EYX", stack.metadata)
    n_e = stack.size("E")
    if len(energies) != n_e:
        raise InputError(f"{len(energies)} energies typed for {n_e} images along E; give one energy per image")
    return Stack(stack.data, stack.axes, stack.metadata.replace(energies=tuple(energies))), None


def rectangle_region(vertices: np.ndarray, shape: tuple[int, int], *, shapes_scale: Any = None,
                     shapes_translate: Any = None, image_scale: Any = None, image_translate: Any = None) -> Region:
    """Return the pixel region ``y0:y1,x0:x1`` of the image covered by a drawn rectangle (its last two axes).

    The vertices are in the Shapes layer's data coordinates; both layers' scale and translate carry them to the
    image's pixels. The region is the pixels whose centres the rectangle's bounding box covers, clipped to the image.
    """
    def last2(values: Any, default: float) -> np.ndarray:
        return np.full(2, default) if values is None else np.asarray(values, float)[-2:]

    yx = np.asarray(vertices, float)[:, -2:]
    world = yx * last2(shapes_scale, 1.0) + last2(shapes_translate, 0.0)
    pixels = (world - last2(image_translate, 0.0)) / last2(image_scale, 1.0)
    # napari pixel i spans i - 0.5 .. i + 0.5: the region is the pixels whose centres the rectangle covers
    lo = np.clip(np.ceil(pixels.min(axis=0) - 1e-6), 0, shape).astype(int)
    hi = np.clip(np.floor(pixels.max(axis=0) + 1e-6) + 1, 0, shape).astype(int)
    y0, x0 = (int(v) for v in lo)
    y1, x1 = (int(v) for v in hi)
    if y1 <= y0 or x1 <= x0:
        raise InputError(f"the drawn I0 rectangle covers no pixel centre of the image ({shape[0]} x {shape[1]} px); "
                         "draw it over a particle-free part of the image")
    return Region(y0, y1, x0, x1)


def composition_config(*, energies: list[float] | None, references: str, denoise: str, denoise_stage: str,
                       i0: str, time_budget_s: float, seed: int) -> CompositionConfig:
    """Return the run's :class:`CompositionConfig` (``references`` empty: the built-in spectra), checked."""
    from ..workflows.stxm import CompositionConfig, check_denoisers

    denoise = denoise.strip() or "none"
    check_denoisers(denoise, "denoiser")
    refs = references.strip() or None
    if refs is not None:
        from ..xray import read_reference_spectra

        read_reference_spectra(refs)  # a damaged file is refused before the work starts
    return checked_config(CompositionConfig, energies_ev=energies, references=refs, denoise=denoise,
                          denoise_stage=denoise_stage, i0=i0, time_budget_s=time_budget_s, seed=seed)


def particle_labels(mask: np.ndarray) -> np.ndarray:
    """Return the connected particles of each frame's mask (``(T, Y, X)`` bool) as int32 labels, 0 outside."""
    from scipy import ndimage

    return np.stack([ndimage.label(m)[0] for m in mask]).astype(np.int32)


def composition_layers(run: CompositionRun, counts: Stack, *, name: str = "") -> list[LayerData]:
    """Return the layers of a run: x (0-1), thickness, sd(x) and the particle labels, with the counts' scale."""
    from ._layers import stack_to_layer

    one = run.maps.shape[0] == 1
    axes = "YX" if one else "TYX"
    meta = counts.metadata.replace(energies=None, original_dtype=None)
    prefix = f"{name} " if name else ""
    out: list[LayerData] = []
    channels = (("x", "x", "viridis", (0.0, 1.0)), ("thickness", "thickness_um", "magma", None),
                ("sd(x)", "sd_x", "inferno", None))
    for c, (label, key, cmap, limits) in enumerate(channels):
        data = run.maps[:, c]
        extra = {"quantity": key, "stxm_composition": run.summary} if c == 0 else {"quantity": key}
        stack = Stack(data[0] if one else data, axes, meta.replace(extra={**meta.extra, **extra}))
        layer_data, kwargs, kind = stack_to_layer(stack, name=f"{prefix}{label}")
        kwargs["colormap"] = cmap
        finite = data[np.isfinite(data)]
        kwargs["contrast_limits"] = limits or ((float(finite.min()), float(finite.max()) + 1e-12) if finite.size
                                               else (0.0, 1.0))
        out.append((layer_data, kwargs, kind))
    labels = particle_labels(run.mask)
    geometry = {k: v for k, v in out[0][1].items() if k in _GEOMETRY}
    out.append((labels[0] if one else labels, {**geometry, "name": f"{prefix}particles"}, "labels"))
    return out


def save_composition(run: CompositionRun, counts: Stack, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the run as ``operando stxm composition -o FOLDER/x.tif`` does: ``x.tif`` and ``x.json``."""
    from ..workflows.stxm import write_composition

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    source = counts.metadata.source
    return write_composition(run, out / "x.tif", counts=counts, inputs=[source] if source else None)


def layer_record(layer: Any) -> dict[str, Any]:
    """Return the operando record of a layer (``layer.metadata["operando"]``), or an empty dict."""
    record = (getattr(layer, "metadata", None) or {}).get("operando") or {}
    return record if isinstance(record, dict) else {}


class StxmWidget(QWidget):
    """Li fraction x, thickness and sd(x) per pixel from STXM counts, as ``operando stxm composition``."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        from ..denoise import METHODS
        from ._worker import JobPanel

        super().__init__()
        self.viewer = napari_viewer
        self.counts_choice = LayerChoice(napari_viewer, ("image",))
        self.energies = QLineEdit()
        self.energies.setPlaceholderText("eV, e.g. 708.2, 710.2 (empty: all the layer's)")
        self.references = QLineEdit()
        self.references.setPlaceholderText(BUILT_IN_REFERENCES)
        self.denoise = QComboBox()
        self.denoise.setEditable(True)  # several joined by '+' (tv+bm3d) can be typed
        self.denoise.addItems(["none", "auto", *METHODS])
        self.denoise_stage = QComboBox()
        self.denoise_stage.addItems(["before", "after"])
        self.i0_choice = LayerChoice(napari_viewer, ("shapes",), optional="auto")
        self.time_budget = spin(1.0, 86400.0, 120.0, decimals=2, suffix=" s")
        self.seed = spin(0, 2**31 - 1, 0)
        self.panel = JobPanel("Run")
        self.save_button = QPushButton("Save run...")
        self.save_button.setEnabled(False)
        form = form_layout((("counts", self.counts_choice), ("energies", self.energies),
                            ("references", path_row(self.references, "Reference spectra (CSV)")),
                            ("denoiser", self.denoise), ("denoise stage", self.denoise_stage),
                            ("I0 region", self.i0_choice), ("time budget", self.time_budget), ("seed", self.seed)))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.panel)
        layout.addWidget(self.save_button)
        layout.addStretch()
        self.i0_choice.setCurrentIndex(0)  # auto, until a rectangle layer is chosen
        self.i0_choice.setToolTip("auto: the bright-pixel histogram; or the last rectangle of a Shapes layer")
        self.counts_choice.currentTextChanged.connect(self._show_energies)
        self.panel.run_button.clicked.connect(self.run)
        self.save_button.clicked.connect(self._save_clicked)
        self.last_run: CompositionRun | None = None
        self.last_counts: Stack | None = None
        self._show_energies()

    def _show_energies(self, *_: Any) -> None:
        energies = layer_record(self.counts_choice.layer()).get("energies")
        self.energies.setText(", ".join(f"{float(e):g}" for e in energies) if energies else "")

    def _i0_text(self, counts_layer: Any, shape: tuple[int, int]) -> str:
        shapes = self.i0_choice.layer()
        if shapes is None:
            return "auto"
        rectangles = [d for d, kind in zip(shapes.data, shapes.shape_type, strict=True) if kind == "rectangle"]
        if not rectangles:
            raise InputError(f"the Shapes layer {shapes.name!r} holds no rectangle; draw one on a particle-free part "
                             "of the image, or choose auto")
        region = rectangle_region(rectangles[-1], shape, shapes_scale=shapes.scale, shapes_translate=shapes.translate,
                                  image_scale=counts_layer.scale, image_translate=counts_layer.translate)
        return format_region(region)

    def prepare(self) -> tuple[Stack, CompositionConfig]:
        """Read the form: the counts Stack and the checked configuration (InputError on a wrong field)."""
        from ..workflows.stxm import check_composition
        from ._layers import layer_to_stack

        layer = self.counts_choice.layer()
        if layer is None:
            raise InputError("no image layer to analyse; open STXM counts (File > Open, or the STXM sample)")
        counts, picks = counts_stack(layer_to_stack(layer), parse_energies(self.energies.text()))
        cfg = composition_config(energies=picks, references=self.references.text(),
                                 denoise=self.denoise.currentText(), denoise_stage=self.denoise_stage.currentText(),
                                 i0=self._i0_text(layer, counts.shape[-2:]), time_budget_s=self.time_budget.value(),
                                 seed=self.seed.value())
        check_composition(counts, cfg)  # refused in one line before the worker starts
        return counts, cfg

    def run(self) -> Any:
        """Start the composition in a worker thread; return the worker (None when the form was refused)."""
        from ..workflows.stxm import run_composition

        try:
            counts, cfg = self.prepare()
        except Exception as exc:  # noqa: BLE001 - one line in the status
            return self.panel.fail(exc)
        name = self.counts_choice.currentText()

        def done(run: CompositionRun) -> str:
            add_layers(self.viewer, composition_layers(run, counts, name=name))
            self.last_run, self.last_counts = run, counts
            self.save_button.setEnabled(True)
            means = ", ".join(f"{f['mean_x']:.3f}" for f in run.summary["frames"])
            return f"done: mean x {means} (thickness-weighted, per frame)"

        return self.panel.start(lambda progress: run_composition(counts, config=cfg, progress=progress), done,
                                message="composition")

    def save_run(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Write the last run into ``folder`` (``x.tif``, ``x.json``) as ``operando stxm composition`` does."""
        if self.last_run is None or self.last_counts is None:
            raise InputError("nothing to save yet: run the composition first")
        files = save_composition(self.last_run, self.last_counts, folder)
        self.panel.status.setText(f"wrote {files[0]} and {files[1].name}")
        return files

    def _save_clicked(self) -> None:
        save_into_folder(self, self.panel, "Save the composition run into a folder", self.save_run)
