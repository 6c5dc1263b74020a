"""Screenshots of the STXM, Neutron and Optical widgets on operando's sample data, for docs/napari.md.

Run under a display (a virtual one is fine)::

    xvfb-run -a python benchmarks/napari_screenshots_modalities.py            # all three
    xvfb-run -a python benchmarks/napari_screenshots_modalities.py stxm       # one

Each function opens the sample in a fresh viewer, docks the widget, clicks Run (waiting on the job panel's
``finished`` signal, never a sleep), and writes ``docs/img/napari/<widget>_*.png``: the whole window (widget and
canvas) and the canvas alone. The companion of ``benchmarks/napari_screenshots.py`` (Denoise, Diagnose), whose
``click_and_wait`` and ``save_shots`` it uses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from napari_screenshots import click_and_wait, save_shots

SIZE = (1500, 950)


def _viewer(sample: Any) -> Any:
    import napari

    from operando.napari._forms import add_layers

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(*SIZE)
    add_layers(viewer, sample())
    return viewer


def stxm() -> list[Path]:
    """STXM composition of the STXM sample (auto I0, no denoiser): x over the counts, the particles outlined."""
    from operando.napari._sample import STXM_COUNTS, STXM_X, stxm
    from operando.napari._stxm import StxmWidget

    viewer = _viewer(stxm)
    widget = StxmWidget(viewer)
    viewer.window.add_dock_widget(widget, name="STXM composition")
    widget.counts_choice.select(STXM_COUNTS)
    print("stxm:", click_and_wait(widget.panel))
    for layer in viewer.layers:
        layer.visible = layer.name in (f"{STXM_COUNTS} x", f"{STXM_COUNTS} particles")
    viewer.layers[f"{STXM_COUNTS} particles"].contour = 1
    viewer.layers.selection.active = viewer.layers[f"{STXM_COUNTS} x"]
    assert STXM_X in viewer.layers
    return save_shots(viewer, "stxm")


def _air_rectangles(viewer: Any, sample: Any) -> Any:
    """Draw the sample's open-beam boxes (its record's regions.json) as rectangles of a Shapes layer ``air``."""
    from operando._regions import parse_region

    boxes = [parse_region(b) for b in sample.metadata["operando"]["extra"]["regions"]["regions"]["open"]["boxes"]]
    rects = [np.array([[b.y0, b.x0], [b.y0, b.x1], [b.y1, b.x1], [b.y1, b.x0]], float) - 0.5 for b in boxes]
    return viewer.add_shapes(rects, shape_type="rectangle", name="air", scale=sample.scale[-2:], edge_width=0.5,
                             edge_color="yellow", face_color="transparent")


def neutron(time_budget_s: float = 30.0) -> list[Path]:
    """Neutron sample: normalise, then analyse with the video denoiser; Delta A raw and denoised side by side."""
    from operando.napari._neutron import NeutronWidget
    from operando.napari._sample import NEUTRON_DARK, NEUTRON_OPEN, NEUTRON_SAMPLE, neutron

    viewer = _viewer(neutron)
    widget = NeutronWidget(viewer)
    widget.setMinimumWidth(480)  # the metrics table's four columns
    viewer.window.add_dock_widget(widget, name="Neutron")
    for choice, name in ((widget.sample_choice, NEUTRON_SAMPLE), (widget.open_beam_choice, NEUTRON_OPEN),
                         (widget.dark_choice, NEUTRON_DARK)):
        choice.select(name)
    _air_rectangles(viewer, viewer.layers[NEUTRON_SAMPLE])
    widget.air_choice.select("air")
    print("neutron normalise:", click_and_wait(widget.normalise_panel))
    widget.reference.setText("0:4")
    widget.half_cycles.setText("3,9,15")  # the sample's charge (frames 3-9) and discharge (9-15)
    widget.time_budget.setValue(time_budget_s)
    print("neutron analyse:", click_and_wait(widget.analyse_panel))
    name = f"{NEUTRON_SAMPLE} transmission"
    shown = (f"{name} Delta A raw", f"{name} Delta A denoised", f"{name} regions")
    for layer in viewer.layers:
        layer.visible = layer.name in shown
    viewer.layers[f"{name} regions"].contour = 1
    viewer.grid.enabled = True
    viewer.grid.shape = (1, 2)
    viewer.dims.set_current_step(0, viewer.dims.nsteps[0] // 2)
    return save_shots(viewer, "neutron")


def optical() -> list[Path]:
    """Optical sample: particle labels with their table as features, stages in the figures' colours."""
    from operando.napari._optical import OpticalWidget
    from operando.napari._sample import OPTICAL_STAGES, OPTICAL_VIDEO, optical

    viewer = _viewer(optical)
    widget = OpticalWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Optical")
    widget.video_choice.select(OPTICAL_VIDEO)
    print("optical:", click_and_wait(widget.panel))
    viewer.layers[OPTICAL_STAGES].visible = False
    viewer.layers[f"{OPTICAL_VIDEO} particles"].contour = 1
    viewer.dims.set_current_step(0, int(np.ceil(viewer.dims.nsteps[0] * 0.6)))
    viewer.layers.selection.active = viewer.layers[f"{OPTICAL_VIDEO} particles"]
    return save_shots(viewer, "optical")


SHOTS = {"stxm": stxm, "neutron": neutron, "optical": optical}


def main(names: list[str]) -> None:
    from qtpy.QtWidgets import QApplication

    for name in names or list(SHOTS):
        for path in SHOTS[name]():
            print("wrote", path)
    QApplication.processEvents()


if __name__ == "__main__":
    main(sys.argv[1:])
