"""Screenshots of the Denoise and Diagnose widgets on operando's Cahn-Hilliard sample, for docs/napari.md.

Run under a display (a virtual one is fine)::

    xvfb-run -a python benchmarks/napari_screenshots.py              # both
    xvfb-run -a python benchmarks/napari_screenshots.py denoise      # one

Each function opens the sample in a fresh viewer (``File > Open Sample > operando``), docks the widget, clicks
Run (waiting on the job panel's ``finished`` signal, never a sleep) and writes ``docs/img/napari/<widget>_*.png``:
the whole window (widget and canvas) and the canvas alone. It prints the status line and, for the denoised
canvas, the correlation between the screenshot's luminance at each pixel centre and the displayed slice (what
``tests/napari/test_screenshot.py`` checks). STXM, Neutron and Optical: ``benchmarks/napari_screenshots_modalities.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "napari"
SIZE = (1400, 900)
#: Training of the denoise example: at most STEPS steps (a validation check every 50) within BUDGET_S seconds.
BUDGET_S, STEPS = 300.0, 200


def _viewer() -> Any:
    import napari
    import napari._qt.qt_main_window as main_window

    main_window.SHOW_QT_WARNING = False  # napari's PyQt5 deprecation notice would cover the canvas
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(*SIZE)
    viewer.open_sample("operando", "cahn_hilliard")
    return viewer


def click_and_wait(panel: Any) -> str:
    """Click the panel's Run and wait in a Qt event loop for its ``finished`` signal; return the status line."""
    from qtpy.QtCore import QEventLoop

    loop, outcome = QEventLoop(), []
    panel.finished.connect(lambda result: (outcome.append(result), loop.quit()))
    panel.run_button.click()
    if panel.worker is not None:
        loop.exec_()
    else:
        outcome.append(panel.status.text())
    if outcome[-1] != "done":
        raise RuntimeError(f"the job ended {outcome[-1]!r}: {panel.status.text()}")
    return panel.status.text()


def save_shots(viewer: Any, stem: str) -> list[Path]:
    """Fit the view, write ``OUT/<stem>_widget.png`` (the window) and ``OUT/<stem>_canvas.png``, close the viewer.

    napari's notifications are closed first (they would cover the canvas).
    """
    from napari._qt.dialogs.qt_notification import NapariQtNotification
    from qtpy.QtWidgets import QApplication

    OUT.mkdir(parents=True, exist_ok=True)
    viewer.reset_view()
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    QApplication.processEvents()
    whole, canvas = OUT / f"{stem}_widget.png", OUT / f"{stem}_canvas.png"
    viewer.screenshot(str(whole), canvas_only=False, flash=False)
    viewer.screenshot(str(canvas), canvas_only=True, flash=False)
    viewer.close()
    return [whole, canvas]


def _canvas_correlation(viewer: Any, layer: Any) -> float:
    """Correlation of the canvas luminance at each pixel centre with the displayed slice (contrast applied)."""
    shot = viewer.screenshot(canvas_only=True, flash=False)
    canvas_h, canvas_w = viewer.window._qt_viewer.canvas.size
    ratio = shot.shape[0] / canvas_h
    camera = viewer.scene.camera
    centre, zoom = np.asarray(camera.center[-2:]), camera.zoom
    rows, cols = layer.data.shape[-2:]
    scale, translate = np.asarray(layer.scale[-2:]), np.asarray(layer.translate[-2:])
    pix = [np.round(((translate[i] + scale[i] * np.arange(n) - centre[i]) * zoom + size / 2) * ratio).astype(int)
           for i, (n, size) in enumerate(((rows, canvas_h), (cols, canvas_w)))]
    luminance = shot[..., :3].astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    low, high = layer.contrast_limits
    shown = np.clip((np.asarray(layer.data[viewer.dims.current_step[0]], float) - low) / (high - low), 0, 1)
    return float(np.corrcoef(luminance[np.ix_(*pix)].ravel(), shown.ravel())[0, 1])


def denoise() -> list[Path]:
    """Denoise the noisy sample with ``auto`` (it picks the video network): the choice, its reason, the losses."""
    from operando.napari._denoise import DenoiseWidget
    from operando.napari._sample import CH_NOISY

    viewer = _viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Denoise")
    widget.select(CH_NOISY, "auto")
    widget.budget.setValue(BUDGET_S)
    widget.steps.setValue(STEPS)
    print("denoise:", click_and_wait(widget.panel))
    print("denoise:", widget.auto_label.text())
    print(f"denoise: {widget.model.steps} steps, {len(widget.model.history)} validation checks")
    out = widget.result_layer
    for layer in viewer.layers:
        layer.visible = layer is out
    viewer.reset_view()
    print(f"denoise: canvas luminance vs displayed slice r = {_canvas_correlation(viewer, out):.3f}")
    viewer.layers[CH_NOISY].visible = True
    viewer.grid.enabled = True  # noisy and denoised side by side
    viewer.layers.selection.active = out
    return save_shots(viewer, "denoise")


def diagnose() -> list[Path]:
    """Diagnose the noisy sample: noise level, impulses, stripes, correlations, the recommended method."""
    from operando.napari._diagnose import DiagnoseWidget
    from operando.napari._sample import CH_NOISY

    viewer = _viewer()
    widget = DiagnoseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Diagnose")
    widget.select(CH_NOISY)
    print("diagnose:", click_and_wait(widget.panel))
    for quantity, value in widget.rows():
        print(f"  {quantity}: {value}")
    return save_shots(viewer, "diagnose")


JOBS = {"denoise": denoise, "diagnose": diagnose}


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(JOBS))
    if unknown:
        raise SystemExit(f"unknown widget(s) {', '.join(unknown)}; choose from {', '.join(JOBS)}")
    for name in names or list(JOBS):
        for path in JOBS[name]():
            print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1:])
