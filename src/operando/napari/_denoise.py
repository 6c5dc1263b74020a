"""The Denoise widget: pick a layer and a method (or ``auto``), train on the data itself, add the denoised layer.

The job runs in a worker thread through the shared :class:`~operando.napari._worker.JobPanel` (progress bar,
status line, Stop). Networks plot their training and validation loss while they train, and their trained model
can be saved and applied again (``Save model...``, ``Apply model...``: the two files of
:func:`operando.denoise.save_model`). The denoised layer keeps the input layer's scale, units and axis labels
and carries the operando record (method, seed, training settings, the ``auto`` choice with its reason) in
``metadata["operando"]``. A stack whose in-memory run would not fit (:attr:`DenoiseWidget.large_bytes`), or a
lazy (dask) layer, goes through the streamed path (:func:`operando.workflows.scale.denoise_large`) into a
``.zarr`` store that the viewer then opens lazily.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from operando import InputError, Stack
from operando.denoise import method_entry, method_names

from ._forms import AxesField, LayerChoice, form_layout, spin
from ._layers import stack_to_layer
from ._worker import JobPanel, error_line

if TYPE_CHECKING:
    import napari

__all__ = ["DenoiseWidget", "LossPlot"]

#: How much memory an in-memory run takes, as a multiple of the stack in float32 (copies, network inputs).
MEMORY_FACTOR = 4


def is_lazy(data: Any) -> bool:
    """Whether a layer's data is lazy (dask, zarr, a reader's proxy) rather than a numpy array in memory."""
    return not isinstance(data, np.ndarray)


def trains_one_network(method: str) -> bool:
    """Whether ``method`` trains one network with ``train_denoiser`` and applies it with ``predict``."""
    return method_entry(method).trains_one_network


def method_choices() -> list[tuple[str, str]]:
    """Return ``(name, install line)`` for ``auto`` and every method (install line ``""`` when usable)."""
    return [("auto", "")] + [(name, method_entry(name).missing_extra()) for name in method_names()]


class LossPlot(QWidget):
    """Training and validation loss against the step, drawn while a network trains (matplotlib in Qt)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 1.8), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self._drawn = 0.0
        self.clear()

    def clear(self) -> None:
        """Forget the losses and draw empty axes."""
        self.train, self.val = [], []
        self._draw()

    def add(self, event: Any) -> None:
        """Take the losses of one ProgressEvent (nothing when it has none); redraw a few times a second."""
        if event.train_loss is None and event.val_loss is None:
            return
        step = float(event.step if event.step is not None else len(self.train) + len(self.val))
        if event.train_loss is not None:
            self.train.append((step, float(event.train_loss)))
        if event.val_loss is not None:
            self.val.append((step, float(event.val_loss)))
        if time.monotonic() - self._drawn > 0.3:
            self._draw()

    def finish(self) -> None:
        """Draw what was collected (the last points may have come faster than the redraws)."""
        self._draw()

    def _draw(self) -> None:
        ax = self.axes
        ax.clear()
        for points, label in ((self.train, "train"), (self.val, "validation")):
            if points:
                steps, losses = zip(*points, strict=True)
                ax.plot(steps, losses, label=label, lw=1, marker="o", ms=2)
        ax.set_xlabel("step", fontsize=7)
        ax.set_ylabel("loss", fontsize=7)
        ax.tick_params(labelsize=6)
        if self.train or self.val:
            ax.legend(fontsize=6)
        else:
            ax.text(0.5, 0.5, "a network's training and validation losses\nappear here at each validation check",
                    ha="center", va="center", fontsize=7, color="0.4", transform=ax.transAxes)
        self._drawn = time.monotonic()
        self.canvas.draw_idle()


class DenoiseWidget(QWidget):
    """Denoise an image layer with ``auto`` or a method of the registry; adds the result as a new layer.

    Attributes
    ----------
    panel : JobPanel
        Run / Stop, progress bar, status line; ``panel.finished`` is emitted at the end of every run.
    large_bytes : int
        Memory an in-memory run may take (``MEMORY_FACTOR`` times the stack in float32); above it, or for a
        lazy layer, the run streams into a ``.zarr`` store (default: the streamed path's default memory limit).
    model : TrainedDenoiser or None
        The network the last run trained (what ``Save model...`` saves).
    result_layer : napari layer or None
        The layer the last run added.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        from operando.workflows.scale import default_memory_limit

        self.viewer = napari_viewer
        self.large_bytes = int(default_memory_limit())
        self.model: Any = None
        self.result_layer: Any = None
        self._build_form()

    # ---- form ----------------------------------------------------------------------------------------------
    def _build_form(self) -> None:
        self.image_choice = LayerChoice(self.viewer, ("image",))
        self.method_box = QComboBox()
        self._fill_methods()
        self.axes_edit = AxesField(self.image_choice)
        self.budget = spin(1.0, 86400.0, 60.0, decimals=2, suffix=" s")
        self.steps = spin(0, 10_000_000, 0)
        self.steps.setSpecialValueText("until the time budget")
        self.steps.setToolTip("networks: stop after this many training steps (same seed, same steps: same result "
                              "on CPU)")
        self.seed = spin(0, 2**31 - 1, 0)
        self.tta = QCheckBox("average flips and rotations (TTA, networks)")
        self.stream_folder = QLineEdit(str(Path(tempfile.gettempdir()) / "operando-napari"))
        self.stream_folder.setToolTip("where large stacks are streamed to (.zarr stores)")
        form = form_layout((("image", self.image_choice), ("method", self.method_box), ("axes", self.axes_edit),
                            ("time budget", self.budget), ("training steps", self.steps), ("seed", self.seed),
                            ("", self.tta), ("large stacks to", self.stream_folder)))
        self.extras_label = QLabel(self._extras_text())
        self.extras_label.setWordWrap(True)
        self.auto_label = QLabel("")
        self.auto_label.setWordWrap(True)
        self.loss_plot = LossPlot()
        self.panel = JobPanel("Run")
        self.panel.run_button.clicked.connect(self.run)
        self.panel.progressed.connect(self.loss_plot.add)
        self.save_button = QPushButton("Save model...")
        self.save_button.clicked.connect(self._ask_save_model)
        self.apply_button = QPushButton("Apply model...")
        self.apply_button.clicked.connect(self._ask_apply_model)
        models = QHBoxLayout()
        models.addWidget(self.save_button)
        models.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.extras_label)
        layout.addWidget(self.panel)
        layout.addWidget(self.auto_label)
        layout.addWidget(self.loss_plot)
        layout.addLayout(models)
        layout.addStretch(1)

    def _fill_methods(self) -> None:
        model = self.method_box.model()
        for name, install in method_choices():
            self.method_box.addItem(name if not install else f"{name} (not installed)", name)
            if install:
                item = model.item(self.method_box.count() - 1)
                item.setEnabled(False)
                item.setToolTip(install)
        self.method_box.setCurrentIndex(0)

    @staticmethod
    def _extras_text() -> str:
        missing: dict[str, list[str]] = {}
        for name, install in method_choices():
            if install:
                missing.setdefault(install, []).append(name)
        return "; ".join(f"{', '.join(names)}: {install}" for install, names in missing.items())

    def select(self, layer_name: str, method: str | None = None) -> None:
        """Choose the input layer (and the method) as a user would in the form."""
        self.image_choice.select(layer_name)
        if method is not None:
            index = self.method_box.findData(method)
            if index < 0:
                raise InputError(f"unknown method {method!r}; choose from {', '.join(n for n, _ in method_choices())}")
            self.method_box.setCurrentIndex(index)

    @property
    def method(self) -> str:
        """The chosen method's name (``auto`` or a registry name)."""
        return str(self.method_box.currentData())

    # ---- running -------------------------------------------------------------------------------------------
    def run(self) -> Any:
        """Start denoising the chosen layer (what Run does); returns the worker, or None when refused."""
        try:
            layer, stack = self.axes_edit.stack()
            method = self.method
            if method != "auto" and method_entry(method).missing_extra():
                raise InputError(f"{method} needs {method_entry(method).missing_extra()}")
        except InputError as exc:
            return self.panel.fail(exc)
        self.auto_label.setText("")
        self.loss_plot.clear()
        settings = {"method": method, "time_budget_s": float(self.budget.value()), "rng": int(self.seed.value()),
                    "max_steps": int(self.steps.value()) or None, "tta": self.tta.isChecked()}
        if self._is_large(stack):
            job = _streamed_job(stack, layer, Path(self.stream_folder.text()).expanduser(), settings)
            return self.panel.start(job, lambda out: self._add_streamed(layer, out), message="streaming")
        job = _in_memory_job(stack, settings)
        return self.panel.start(job, lambda out: self._add_result(layer, out), message=f"{method}: starting")

    def _is_large(self, stack: Stack) -> bool:
        float_bytes = int(np.prod(stack.shape, dtype=np.int64)) * 4
        return is_lazy(stack.data) or MEMORY_FACTOR * float_bytes > self.large_bytes

    def _add_result(self, layer: Any, out: tuple[Stack, Any]) -> str:
        result, model = out
        self.model = model if model is not None else self.model
        self.loss_plot.finish()
        record = result.metadata.extra.get("denoise", {})
        method = record.get("method", self.method)
        self.result_layer = self._add_layer(layer, result, f"{layer.name} denoised ({method})")
        return self._show_choice(record.get("auto"), method)

    def _add_streamed(self, layer: Any, out: tuple[Stack, dict[str, Any]]) -> str:
        result, manifest = out
        method = str(manifest.get("method", self.method))
        self.result_layer = self._add_layer(layer, result, f"{layer.name} denoised ({method}, streamed)")
        return self._show_choice(manifest.get("auto"), method) + f"; streamed to {result.metadata.source}"

    def _add_layer(self, layer: Any, result: Stack, name: str) -> Any:
        data, kwargs, _ = stack_to_layer(result, name=name)
        if len(layer.scale) == len(data.shape):  # the input layer's scale, as the user sees it
            kwargs.update(scale=tuple(layer.scale), translate=tuple(layer.translate))
            kwargs.update(units=tuple(str(u) for u in layer.units), axis_labels=tuple(layer.axis_labels))
        kwargs.setdefault("contrast_limits", layer.contrast_limits)
        kwargs.setdefault("colormap", layer.colormap.name)
        return self.viewer.add_image(data, **kwargs)

    def _show_choice(self, auto: dict[str, Any] | None, method: str) -> str:
        if auto:
            self.auto_label.setText(f"auto chose {auto.get('method', method)}: {auto.get('reason', '')}")
            return f"done: auto chose {auto.get('method', method)}"
        return f"done: {method}"

    # ---- models --------------------------------------------------------------------------------------------
    def save_model(self, path: str | os.PathLike) -> Path | None:
        """Save the network the last run trained to ``path`` (``PATH.safetensors`` + ``PATH.json``)."""
        from operando.denoise import save_model

        if self.model is None:
            self.panel.status.setText("no trained network to save: run a network method first (filters have "
                                      "nothing to save)")
            return None
        try:
            written = save_model(self.model, path)
        except (InputError, OSError) as exc:
            self.panel.status.setText(error_line(exc))
            return None
        self.panel.status.setText(f"model saved to {written}")
        return written

    def apply_model(self, path: str | os.PathLike) -> Any:
        """Denoise the chosen layer with the saved model at ``path`` (in the worker thread); returns the worker."""
        try:
            layer, stack = self.axes_edit.stack()
        except InputError as exc:
            return self.panel.fail(exc)
        self.auto_label.setText("")
        job = _apply_job(stack, Path(path), self.tta.isChecked())
        return self.panel.start(job, lambda out: self._add_result(layer, out), message="applying the model")

    def _ask_save_model(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "", "operando model (*.json *.safetensors)")
        if path:
            self.save_model(path)

    def _ask_apply_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Apply model", "", "operando model (*.json *.safetensors)")
        if path:
            self.apply_model(path)


# ---- jobs (run in the worker thread: no widget is touched) -------------------------------------------------
def _in_memory_job(stack: Stack, settings: dict[str, Any]):
    """Return ``job(progress) -> (denoised Stack, trained model or None)`` for an in-memory run."""
    def job(progress):
        from operando.denoise import choose_method, denoise, make_config

        work = Stack(np.asarray(stack.data), axes=stack.axes, metadata=stack.metadata)
        method, choice = settings["method"], None
        if method == "auto":
            choice = choose_method(work)
            method = choice.method
        if trains_one_network(method):
            return _train_and_predict(work, method, choice, settings, progress)
        config = None
        if method_entry(method).kind == "neural" and settings["max_steps"] is not None:
            config = make_config(max_steps=settings["max_steps"])
        result = denoise(work, method="auto" if choice is not None else method, config=config,
                         time_budget_s=settings["time_budget_s"], rng=settings["rng"], tta=settings["tta"],
                         progress=progress, diagnosis=None if choice is None else choice.diagnosis)
        return result, None

    return job


def _train_and_predict(stack: Stack, method: str, choice: Any, settings: dict[str, Any], progress) -> tuple:
    """Train one network (keeping it for Save model), then apply it: what ``denoise`` does for this method."""
    from operando._progress import sub_progress
    from operando.denoise import predict, record_choice, train_denoiser

    model = train_denoiser(stack, method=method, time_budget_s=settings["time_budget_s"], rng=settings["rng"],
                           max_steps=settings["max_steps"], progress=sub_progress(progress, 0.0, 0.95, ""),
                           diagnosis=None if choice is None else choice.diagnosis)
    model.auto = None if choice is None else choice.to_dict()
    result = predict(model, stack, tta=settings["tta"], progress=sub_progress(progress, 0.95, 1.0, "inference: "))
    return record_choice(result, model.auto), model


def _apply_job(stack: Stack, path: Path, tta: bool):
    """Return ``job(progress) -> (denoised Stack, the loaded model)`` applying a saved model."""
    def job(progress):
        from operando.denoise import load_model, predict, record_choice

        model = load_model(path)
        work = Stack(np.asarray(stack.data), axes=stack.axes, metadata=stack.metadata)
        result = predict(model, work, tta=tta, progress=progress)
        return record_choice(result, getattr(model, "auto", None)), model

    return job


def _streamed_job(stack: Stack, layer: Any, folder: Path, settings: dict[str, Any]):
    """Return ``job(progress) -> (lazy Stack of the output store, manifest)`` for the streamed path.

    The input is streamed from the file the layer was read from when that file holds the layer's data as it is
    (same axes and shape); otherwise the layer is first written to ``folder`` as a ``.zarr`` store (a lazy layer
    without such a file is read once for that).
    """
    def job(progress):
        from operando.io import read, write
        from operando.workflows.scale import denoise_large

        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in layer.name)
        src = _readable_source(layer, stack)
        if src is None:
            src = folder / f"{safe}-input-{stamp}.zarr"
            write(Stack(np.asarray(stack.data), axes=stack.axes, metadata=stack.metadata), src)
        out = folder / f"{safe}-{settings['method']}-{stamp}.zarr"
        result = denoise_large(src, out, method=settings["method"], time_budget_s=settings["time_budget_s"],
                               max_steps=settings["max_steps"], rng=settings["rng"], axes=stack.axes,
                               tta=settings["tta"], progress=progress)
        return read(result.output, lazy=True), dict(result.manifest)

    return job


def _readable_source(layer: Any, stack: Stack) -> str | None:
    """Return the file a lazy layer was read from when it holds the layer's data as is (else None: write it)."""
    import warnings

    from operando.io import read

    path = getattr(getattr(layer, "source", None), "path", None) or stack.metadata.source
    if not path or not is_lazy(stack.data) or not Path(str(path).split(".zarr:")[0]).exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = read(path, lazy=True)
    except (InputError, OSError, ValueError):
        return None
    return str(path) if (found.axes, tuple(found.shape)) == (stack.axes, tuple(stack.shape)) else None
