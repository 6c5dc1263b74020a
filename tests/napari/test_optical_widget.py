"""The optical widget: its pure pieces, then a real viewer analysing the optical sample."""

import numpy as np
import pytest

from operando import InputError
from operando.napari._optical import STAGE_COLOURS, OpticalWidget, optical_config, stage_colormap


def test_stage_colours_are_the_optical_figures_colours():
    from operando.optical import STAGE_CODES
    from operando.workflows.optical._figures import _COLOURS

    assert STAGE_COLOURS == _COLOURS
    cmap = stage_colormap()
    assert np.allclose(cmap.map(np.array([STAGE_CODES["III"]]))[0, :3], [0x28 / 255, 0x45 / 255, 0xA0 / 255])
    assert cmap.map(np.array([0]))[0, 3] == 0  # background transparent


def test_config_refuses_an_unknown_denoiser_and_a_bad_threshold():
    assert optical_config(denoise="none", threshold="otsu", channel="auto", reference_frame=0, min_area_px=20,
                          seed=0).max_steps is None
    with pytest.raises(InputError, match="denoiser"):
        optical_config(denoise="nonsense", threshold="otsu", channel="auto", reference_frame=0, min_area_px=20,
                       seed=0)
    with pytest.raises(InputError, match="threshold_method"):
        optical_config(denoise="none", threshold="kmeans", channel="auto", reference_frame=0, min_area_px=20, seed=0)


def test_widget_labels_the_particles_with_their_table(make_napari_viewer, qtbot, tmp_path):
    from operando.napari._forms import add_layers
    from operando.napari._sample import OPTICAL_VIDEO, optical

    viewer = make_napari_viewer()
    add_layers(viewer, optical())
    video = viewer.layers[OPTICAL_VIDEO]
    widget = OpticalWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.video_choice.select(OPTICAL_VIDEO)
    with qtbot.waitSignal(widget.panel.finished, timeout=90_000) as blocker:
        widget.panel.run_button.click()
    assert blocker.args[0] == "done", widget.panel.status.text()
    particles = viewer.layers[f"{OPTICAL_VIDEO} particles"]
    ids = np.unique(particles.data)
    ids = ids[ids > 0]
    assert len(particles.features) == ids.size > 5 and set(particles.features["index"]) == set(ids)
    assert {"transition_II_frame", "cbar_last"} <= set(particles.features.columns)
    assert particles.data.shape == video.data.shape[:3] and np.allclose(particles.scale, video.scale)
    stages = viewer.layers[f"{OPTICAL_VIDEO} stages"]
    assert type(stages.colormap).__name__ == "DirectLabelColormap" and set(np.unique(stages.data)) <= {0, 1, 2, 3, 4,
                                                                                                        255}
    assert widget.panel.progress_bar.value() == 100 and widget.panel.run_button.isEnabled()
    assert "particles" in widget.panel.status.text()


def test_widget_refuses_a_grey_video_in_one_line(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 32, 32), np.float32), name="grey")
    widget = OpticalWidget(viewer)
    widget.panel.run_button.click()
    status = widget.panel.status.text()
    assert status and "\n" not in status and widget.panel.worker is None and widget.panel.run_button.isEnabled()
