"""The optical widget: a colour video of graphite -> particle labels with their table, and stages in their colours.

The science is :func:`operando.workflows.optical.analyze_video` with an :class:`OpticalConfig`, the call
``operando optical analyze`` makes; the particle table is the per-particle summary of ``particle_summary.csv``
(:func:`~operando.workflows.optical.summary_rows`) and "Save run..." writes what the command writes
(:func:`~operando.workflows.optical.write_analysis`). The stage labels use the colours of the optical figures
(:data:`STAGE_COLOURS`: stage III blue, II red, I gold).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QPushButton, QVBoxLayout, QWidget

from .._errors import InputError
from .._stack import Stack
from ._forms import LayerChoice, add_layers, checked_config, form_layout, save_into_folder, spin
from ._layers import LayerData

if TYPE_CHECKING:
    import napari

    from ..workflows.optical import OpticalConfig, OpticalResult

#: The stage colours of the optical figures (``operando.workflows.optical``'s stage-fraction and transition plots;
#: tests/napari/test_optical_widget.py checks that they are the same), by stage name.
STAGE_COLOURS = {"III": "#2845a0", "II": "#b02020", "I": "#d9a520", "plating": "#888888", "unknown": "#000000"}

#: Layer settings a result layer takes from the video layer (its geometry on T, Y, X).
_GEOMETRY = ("scale", "translate", "units", "axis_labels")


def stage_colormap() -> Any:
    """Return napari's label colour map of the stage codes (:data:`operando.optical.STAGE_CODES`)."""
    from napari.utils.colormaps import DirectLabelColormap

    from ..optical import STAGE_CODES

    colours: dict[Any, Any] = {None: "transparent", STAGE_CODES["background"]: "transparent"}
    colours.update({STAGE_CODES[name]: colour for name, colour in STAGE_COLOURS.items()})
    return DirectLabelColormap(color_dict=colours)


def particle_features(result: OpticalResult) -> Any:
    """Return the particle table as a labels layer's ``features``: one row per particle, ``index`` its label."""
    import pandas as pd

    from ..workflows.optical import summary_rows

    rows = summary_rows(result)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame({"index": np.array([], int)})
    return table.rename(columns={"id": "index"})


def stage_features() -> Any:
    """Return the stage legend as ``features`` (``index`` the code, ``stage`` what it means)."""
    import pandas as pd

    from ..optical import STAGE_LEGEND

    return pd.DataFrame({"index": list(STAGE_LEGEND), "stage": list(STAGE_LEGEND.values())})


def optical_layers(result: OpticalResult, geometry: dict[str, Any], *, name: str = "") -> list[LayerData]:
    """Return the particle labels (with their table as features) and the stage labels in the stages' colours."""
    prefix = f"{name} " if name else ""
    keep = {k: list(v)[-result.labels.ndim:] for k, v in geometry.items() if k in _GEOMETRY and v is not None}
    record = {"operando": {"axes": "TYX", "extra": {"optical": {"config": result.config,
                                                                 "channel": result.channel,
                                                                 "threshold": float(result.threshold)}}}}
    particles = (result.labels, {**keep, "name": f"{prefix}particles", "features": particle_features(result),
                                 "metadata": record}, "labels")
    stages = (result.stages, {**keep, "name": f"{prefix}stages", "colormap": stage_colormap(),
                              "features": stage_features(), "opacity": 0.8, "metadata": record}, "labels")
    return [particles, stages]


def optical_config(*, denoise: str, threshold: str, channel: str, reference_frame: int, min_area_px: int,
                   seed: int, time_budget_s: float = 90.0, max_steps: int = 0) -> OpticalConfig:
    """Return the checked :class:`OpticalConfig` of the form (``max_steps`` 0: as the budget allows)."""
    from ..denoise import check_method
    from ..workflows.optical import DENOISE_CHOICES, OpticalConfig

    check_method(denoise, "denoiser", allow=DENOISE_CHOICES)
    return checked_config(OpticalConfig, denoise=denoise, threshold_method=threshold, channel=channel,
                          reference_frame=reference_frame, min_area_px=min_area_px, seed=seed,
                          time_budget_s=time_budget_s, max_steps=max_steps or None)


class OpticalWidget(QWidget):
    """Segment, track and stage the graphite particles of a colour video, as ``operando optical analyze``."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        from ..workflows.optical import DENOISE_CHOICES
        from ._worker import JobPanel

        super().__init__()
        self.viewer = napari_viewer
        self.video_choice = LayerChoice(napari_viewer, ("image",))
        self.denoise = QComboBox()
        self.denoise.setEditable(True)  # any method of operando.denoise can be typed
        self.denoise.addItems([*DENOISE_CHOICES, "video", "gaussian", "median"])
        self.threshold = QComboBox()
        self.threshold.addItems(["otsu", "multiotsu", "gmm"])
        self.channel = QComboBox()
        self.channel.addItems(["auto", "contrast", "chroma", "lightness", "saturation"])
        self.reference_frame = spin(0, 10**6, 0)
        self.reference_frame.setToolTip("a frame where all particles are one stage (pristine)")
        self.min_area = spin(1, 10**7, 20, suffix=" px")
        self.time_budget = spin(1.0, 86400.0, 90.0, decimals=1, suffix=" s")
        self.max_steps = spin(0, 10**7, 0)
        self.seed = spin(0, 2**31 - 1, 0)
        self.panel = JobPanel("Run")
        self.save_button = QPushButton("Save run...")
        self.save_button.setEnabled(False)
        form = form_layout((("video", self.video_choice), ("denoiser", self.denoise), ("threshold", self.threshold),
                            ("channel", self.channel), ("reference frame", self.reference_frame),
                            ("smallest particle", self.min_area), ("time budget", self.time_budget),
                            ("max steps", self.max_steps), ("seed", self.seed)))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.panel)
        layout.addWidget(self.save_button)
        layout.addStretch()
        self.panel.run_button.clicked.connect(self.run)
        self.save_button.clicked.connect(self._save_clicked)
        self.result: OpticalResult | None = None
        self.video: Stack | None = None

    def prepare(self) -> tuple[Any, Stack, OpticalConfig]:
        """Read the form: (video layer, its Stack, the configuration), refused in one line before any work."""
        from ..optical import check_colour_video
        from ..workflows.optical import check_video_settings
        from ._layers import layer_to_stack

        layer = self.video_choice.layer()
        if layer is None:
            raise InputError("no video layer: open a colour video (TYXC) or the optical sample")
        stack = layer_to_stack(layer)
        cfg = optical_config(denoise=self.denoise.currentText(), threshold=self.threshold.currentText(),
                             channel=self.channel.currentText(), reference_frame=self.reference_frame.value(),
                             min_area_px=self.min_area.value(), seed=self.seed.value(),
                             time_budget_s=self.time_budget.value(), max_steps=self.max_steps.value())
        check_colour_video(stack)
        check_video_settings(cfg, stack.size("T"), (stack.size("Y"), stack.size("X")))
        return layer, stack, cfg

    def run(self) -> Any:
        """Analyse the chosen video in a worker; add the particle and stage labels. Return the worker."""
        from ..workflows.optical import analyze_video

        try:
            layer, stack, cfg = self.prepare()
        except Exception as exc:  # noqa: BLE001 - one line in the status
            return self.panel.fail(exc)
        geometry = {k: getattr(layer, k, None) for k in _GEOMETRY}

        def done(result: OpticalResult) -> str:
            add_layers(self.viewer, optical_layers(result, geometry, name=layer.name))
            self.result, self.video = result, stack
            self.save_button.setEnabled(True)
            return f"done: {result.table.ids.size} particles in {result.labels.shape[0]} frames"

        return self.panel.start(lambda progress: analyze_video(stack, config=cfg, progress=progress), done,
                                message="optical analysis")

    def save_run(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write the last analysis into ``folder`` as ``operando optical analyze -o FOLDER`` does."""
        from ..workflows.optical import write_analysis

        if self.result is None or self.video is None:
            raise InputError("nothing to save yet: run the analysis first")
        files = write_analysis(self.result, folder, source=self.video)
        self.panel.status.setText(f"wrote {len(files)} files to {folder}")
        return files

    def _save_clicked(self) -> None:
        save_into_folder(self, self.panel, "Save the optical analysis into a folder", self.save_run)
