"""The Diagnose widget: what kind of noise an image layer holds, and which denoiser ``auto`` would use for it.

:func:`operando.denoise.diagnose` measures, in a worker thread, the noise level, the share of impulse pixels,
stripes, the spatial correlation of neighbouring pixels' noise (with its standard error) and the correlation
between frames, and picks the method ``auto`` would use with its reason. The widget shows them as a small table;
the whole :class:`~operando.denoise.Diagnosis` is kept in :attr:`DiagnoseWidget.diagnosis`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from operando import InputError, Stack

from ._forms import AxesField, LayerChoice, form_layout
from ._worker import JobPanel

if TYPE_CHECKING:
    import napari

__all__ = ["DiagnoseWidget", "diagnosis_rows"]


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(float(value)):
        return "not measured"
    return f"{float(value):.{digits}g}"


def _spatial(diagnosis: Any) -> str:
    corr = diagnosis.noise_correlation
    if corr is None:
        text = f"x {_number(diagnosis.spatial_corr_x, 2)}, y {_number(diagnosis.spatial_corr_y, 2)}"
        why = diagnosis.correlation_unmeasured
        return f"{text} (no standard error: {why})" if why else text
    se = corr.neighbour_corr_se
    spread = f" \u00b1 {se:.2f} (standard error)" if math.isfinite(se) else " (standard error unknown)"
    return f"{corr.neighbour_corr:.2f}{spread}; length {corr.correlation_length_px} px"


def _temporal(diagnosis: Any) -> str:
    if diagnosis.n_frames < 2:
        return "single image"
    corr = diagnosis.noise_correlation
    value = corr.temporal_corr if corr is not None and corr.temporal_corr is not None else diagnosis.temporal_corr
    static = "; static in time (fixed pattern)" if diagnosis.static_in_time else ""
    return f"{_number(value, 2)} between neighbouring frames{static}"


def diagnosis_rows(diagnosis: Any) -> list[tuple[str, str]]:
    """Return the (quantity, value) rows the widget shows for a :class:`~operando.denoise.Diagnosis`."""
    if diagnosis.constant:
        noise = f"none: every pixel is {diagnosis.constant_value:g}"
    else:
        noise = f"{_number(diagnosis.noise_sigma)} (sd, data units)"
    rows = [
        ("noise level", noise),
        ("impulse pixels", f"{100 * diagnosis.impulse_fraction:.2f} %"
                           + (" (at fixed values)" if diagnosis.impulses_known else "")),
        ("stripes", "yes" if diagnosis.stripes else "no"),
        ("spatial correlation", _spatial(diagnosis)),
        ("temporal correlation", _temporal(diagnosis)),
        ("frames", str(diagnosis.n_frames)),
        ("recommended method", diagnosis.recommended_method),
        ("why", diagnosis.recommended_reason),
        ("loss", diagnosis.recommended_loss),
    ]
    rows += [("note", note) for note in diagnosis.notes]
    return rows


class DiagnoseWidget(QWidget):
    """Measure the noise of an image layer and show it with the method ``auto`` would use.

    Attributes
    ----------
    panel : JobPanel
        Run / Stop, progress bar, status line; ``panel.finished`` is emitted at the end of every run.
    table : QTableWidget
        The rows of :func:`diagnosis_rows`.
    diagnosis : Diagnosis or None
        The last measurement.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.diagnosis: Any = None
        self.image_choice = LayerChoice(napari_viewer, ("image",))
        self.axes_edit = AxesField(self.image_choice)
        form = form_layout((("image", self.image_choice), ("axes", self.axes_edit)))
        self.panel = JobPanel("Diagnose")
        self.panel.run_button.clicked.connect(self.run)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["quantity", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(True)
        self.setMinimumWidth(440)  # the reason and the correlation read on few lines
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.panel)
        layout.addWidget(self.table, 1)

    def select(self, layer_name: str) -> None:
        """Choose the layer to diagnose, as a user would in the form."""
        self.image_choice.select(layer_name)

    def run(self) -> Any:
        """Start measuring the chosen layer's noise (what the button does); returns the worker, or None."""
        try:
            layer, stack = self.axes_edit.stack()
        except InputError as exc:
            return self.panel.fail(exc)
        self.table.setRowCount(0)
        return self.panel.start(_diagnose_job(stack), self._show, message=f"measuring the noise of {layer.name}")

    def _show(self, diagnosis: Any) -> str:
        self.diagnosis = diagnosis
        rows = diagnosis_rows(diagnosis)
        self.table.setRowCount(len(rows))
        for i, (quantity, value) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(quantity))
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            self.table.setItem(i, 1, item)
        self.table.resizeRowsToContents()
        return f"done: recommended {diagnosis.recommended_method}"

    def rows(self) -> list[tuple[str, str]]:
        """Return the table as (quantity, value) pairs, as shown."""
        return [(self.table.item(i, 0).text(), self.table.item(i, 1).text()) for i in range(self.table.rowCount())]


def _diagnose_job(stack: Stack):
    """Return ``job(progress) -> Diagnosis`` (runs in the worker thread)."""
    def job(progress):
        from operando._progress import check_cancel, emit
        from operando.denoise import diagnose

        emit(progress, 0.0, "measuring the noise")
        work = Stack(np.asarray(stack.data), axes=stack.axes, metadata=stack.metadata)
        found = diagnose(work, progress=progress)
        check_cancel(progress, 1.0, "measured")  # a Stop pressed meanwhile: show nothing
        return found

    return job
