"""The form pieces every operando widget shares: layer drop-downs, an axes field, rows, spin boxes and folders.

- :class:`LayerChoice`: a drop-down of the viewer's layers of some types, kept up to date;
- :class:`AxesField`: the axes of the chosen image layer (filled with the layer's own when another is chosen);
- :func:`form_layout`, :func:`spin`, :func:`path_row`: the rows of a form, a spin box, a path with Browse...;
- :func:`checked_config`: a pydantic settings model made from the form, its complaint as one InputError line;
- :func:`save_into_folder`: "Save run..." (a folder dialog, then the widget's save; an error in the status);
- :func:`add_layers`: layer data tuples into the viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from .._errors import InputError, validation_reason
from .._stack import Stack
from ._layers import LayerData, layer_to_stack

if TYPE_CHECKING:
    import napari

    from ._worker import JobPanel

__all__ = ["AxesField", "LayerChoice", "add_layers", "checked_config", "default_axes", "form_layout", "path_row",
           "save_into_folder", "spin"]

Model = TypeVar("Model")


def add_layers(viewer: Any, tuples: list[LayerData]) -> list[Any]:
    """Add layer data tuples to ``viewer``; return the layers."""
    from napari.layers import Layer

    return [viewer.add_layer(Layer.create(data, kwargs, kind)) for data, kwargs, kind in tuples]


def checked_config(model: Callable[..., Model], **fields: Any) -> Model:
    """Return ``model(**fields)`` (a pydantic settings model); its complaint becomes one InputError line."""
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as exc:
        raise InputError(validation_reason(exc)) from None


def default_axes(layer: Any) -> str:
    """Return the axes of ``layer``: its operando record's, else from its axis labels, else a guess (3-D: TYX)."""
    try:
        return layer_to_stack(layer).axes
    except InputError:
        return "TYX"


class LayerChoice(QComboBox):
    """A drop-down of the viewer's layers of some types, kept up to date as layers come, go and are renamed.

    ``optional`` adds a first entry (e.g. ``"auto"``) that stands for no layer.
    """

    def __init__(self, viewer: napari.viewer.Viewer, kinds: tuple[str, ...], *, optional: str | None = None) -> None:
        super().__init__()
        self.viewer, self.kinds, self.optional = viewer, kinds, optional
        viewer.layers.events.inserted.connect(self.refresh)
        viewer.layers.events.removed.connect(self.refresh)
        viewer.layers.events.inserted.connect(self._watch_name)
        for layer in viewer.layers:
            layer.events.name.connect(self.refresh)
        self.refresh()

    def _watch_name(self, event: Any) -> None:
        event.value.events.name.connect(self.refresh)

    def refresh(self, *_: Any) -> None:
        """Re-list the layers, keeping the current choice when it still exists."""
        current = self.currentText()
        names = [layer.name for layer in self.viewer.layers if type(layer).__name__.lower() in self.kinds]
        self.blockSignals(True)
        self.clear()
        if self.optional:
            self.addItem(self.optional)
        self.addItems(names)
        self.blockSignals(False)
        index = self.findText(current)
        self.setCurrentIndex(index if index >= 0 else (1 if self.optional and names else 0))
        self.currentTextChanged.emit(self.currentText())

    def layer(self) -> Any:
        """Return the chosen layer, or None (the optional entry, or no layer)."""
        name = self.currentText()
        if not name or name == self.optional or name not in self.viewer.layers:
            return None
        return self.viewer.layers[name]

    def select(self, name: str) -> None:
        """Choose the layer (or the optional entry) called ``name``."""
        index = self.findText(name)
        if index < 0:
            raise InputError(f"no layer {name!r} to choose; layers: {[self.itemText(i) for i in range(self.count())]}")
        self.setCurrentIndex(index)


class AxesField(QLineEdit):
    """The axes of the image chosen in ``choice``, one letter per dimension from TECZYX.

    Choosing another layer fills in that layer's axes (:func:`default_axes`); axes typed for the chosen layer are
    kept while it stays chosen. :meth:`stack` returns the chosen layer as a Stack with these axes.
    """

    def __init__(self, choice: LayerChoice) -> None:
        super().__init__()
        self.choice = choice
        self.setToolTip("one letter per dimension from TECZYX, e.g. TYX")
        self._filled_for: Any = None
        choice.currentTextChanged.connect(self.fill)
        self.fill()

    def fill(self, *_: Any) -> None:
        """Show the chosen layer's own axes when the choice moved to another layer."""
        layer = self.choice.layer()
        if layer is not None and layer is not self._filled_for:
            self._filled_for = layer
            self.setText(default_axes(layer))

    def stack(self) -> tuple[Any, Stack]:
        """Return the chosen layer and its Stack with the typed axes (InputError: no layer, or bad axes)."""
        layer = self.choice.layer()
        if layer is None:
            raise InputError("no image layer chosen: open an image or a sample (File > Open Sample > operando)")
        stack = layer_to_stack(layer)
        axes = self.text().strip()
        if axes.upper() == stack.axes:
            return layer, stack
        return layer, Stack(layer.data, axes=axes, metadata=stack.metadata)


def form_layout(rows: Sequence[tuple[str, QWidget]], parent: QWidget | None = None) -> QFormLayout:
    """Return a form of ``(label, field)`` rows (on ``parent`` when given)."""
    form = QFormLayout(parent) if parent is not None else QFormLayout()
    for label, field in rows:
        form.addRow(label, field)
    return form


def spin(low: float, high: float, value: float, *, decimals: int | None = None, suffix: str = "") -> Any:
    """Return a spin box from ``low`` to ``high`` showing ``value``: whole numbers, or ``decimals`` places."""
    box = QDoubleSpinBox() if decimals is not None else QSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    return box


def path_row(edit: QLineEdit, caption: str, *, folder: bool = False) -> QWidget:
    """Return a line edit with a "Browse..." button that fills it from a file (or folder) dialog."""
    row, box = QWidget(), QHBoxLayout()
    box.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse...")

    def browse() -> None:
        chosen = (QFileDialog.getExistingDirectory(row, caption) if folder
                  else QFileDialog.getOpenFileName(row, caption)[0])
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    box.addWidget(edit)
    box.addWidget(button)
    row.setLayout(box)
    return row


def save_into_folder(parent: QWidget, panel: JobPanel, caption: str, save: Callable[[str], Any]) -> None:
    """Ask for a folder (``caption``) and call ``save(folder)``; an error becomes the panel's status line."""
    from ._worker import error_line

    folder = QFileDialog.getExistingDirectory(parent, caption)
    if folder:
        try:
            save(folder)
        except Exception as exc:  # noqa: BLE001 - one line in the status
            panel.status.setText(error_line(exc))
