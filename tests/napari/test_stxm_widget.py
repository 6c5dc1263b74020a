"""The STXM composition widget: its pure pieces, then a real viewer running it on the STXM sample."""

import json

import numpy as np
import pytest

from operando import InputError
from operando._stack import Metadata, Stack
from operando.napari._stxm import (
    StxmWidget,
    composition_config,
    counts_stack,
    parse_energies,
    particle_labels,
    rectangle_region,
)

#: The tolerance tests/bench/test_stxm_workflow.py holds a small phantom's raw composition to (rmse of x inside the
#: particles, bias of the particles' mean x); the 48 px sample measures 0.146 and 0.003.
RMSE_X, MEAN_BIAS = 0.2, 0.05


def test_energies_are_parsed_and_bad_text_refused():
    assert parse_energies("708.2, 710.2") == [708.2, 710.2] and parse_energies("  ") is None
    with pytest.raises(InputError, match="separated by commas"):
        parse_energies("708.2 eV")


def test_a_layer_without_energies_takes_the_typed_ones():
    plain = Stack(np.ones((2, 8, 8)), "TYX", Metadata())
    stack, picks = counts_stack(plain, [708.2, 710.2])
    assert stack.axes == "EYX" and stack.metadata.energies == (708.2, 710.2) and picks is None
    with pytest.raises(InputError, match="one energy per image"):
        counts_stack(plain, [708.2])
    with pytest.raises(InputError, match="records no energies"):
        counts_stack(plain, None)
    recorded = Stack(np.ones((2, 8, 8)), "EYX", Metadata(energies=(708.2, 710.2)))
    assert counts_stack(recorded, [710.2])[1] == [710.2]  # picks among the layer's own


def test_a_drawn_rectangle_gives_the_pixels_whose_centres_it_covers():
    box = np.array([[-0.5, -0.5], [-0.5, 5.5], [3.5, 5.5], [3.5, -0.5]])
    assert tuple(rectangle_region(box, (32, 32))) == (0, 4, 0, 6)
    # drawn in world units (um) on a layer with scale 0.03 um
    assert tuple(rectangle_region(box * 0.03, (32, 32), image_scale=(0.03, 0.03))) == (0, 4, 0, 6)
    assert tuple(rectangle_region(np.array([[0, 0, 28], [0, 40, 40]]), (32, 32))) == (0, 32, 28, 32)  # clipped
    with pytest.raises(InputError, match="no pixel centre"):
        rectangle_region(np.array([[40.0, 40.0], [50.0, 50.0]]), (32, 32))


def test_the_config_refuses_an_unknown_denoiser_and_a_bad_region():
    with pytest.raises(InputError, match="denoiser"):
        composition_config(energies=None, references="", denoise="nonsense", denoise_stage="before", i0="auto",
                           time_budget_s=1.0, seed=0)
    with pytest.raises(InputError, match="i0"):
        composition_config(energies=None, references="", denoise="none", denoise_stage="before", i0="0:4:0:4",
                           time_budget_s=1.0, seed=0)


def test_particle_labels_number_each_frames_particles():
    mask = np.zeros((1, 8, 8), bool)
    mask[0, :2, :2] = mask[0, 5:, 5:] = True
    assert particle_labels(mask).max() == 2


def _run(qtbot, widget, timeout=60_000):
    with qtbot.waitSignal(widget.panel.finished, timeout=timeout) as blocker:
        widget.panel.run_button.click()
    return blocker.args[0]


@pytest.fixture(scope="module")
def sample_layers():
    """The stxm sample's layer data, generated once for the module."""
    from operando.napari._sample import stxm

    return stxm()


@pytest.fixture
def viewer_with_sample(make_napari_viewer, sample_layers):
    from operando.napari._forms import add_layers

    viewer = make_napari_viewer()
    add_layers(viewer, sample_layers)
    return viewer


def test_widget_runs_the_composition_and_saves_it(viewer_with_sample, qtbot, tmp_path):
    from operando.napari._sample import STXM_COUNTS, STXM_X

    viewer = viewer_with_sample
    counts = viewer.layers[STXM_COUNTS]
    widget = StxmWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.counts_choice.select(STXM_COUNTS)
    assert widget.energies.text() == "708.2, 710.2"  # from the layer's record
    assert _run(qtbot, widget) == "done", widget.panel.status.text()
    names = [f"{STXM_COUNTS} {n}" for n in ("x", "thickness", "sd(x)", "particles")]
    assert [layer.name for layer in viewer.layers][-4:] == names
    for name in names:
        layer = viewer.layers[name]
        assert layer.data.shape == counts.data.shape[-2:]
        assert np.allclose(layer.scale, counts.scale[-2:]) and np.allclose(layer.scale, 0.03)
    particles = viewer.layers[names[3]]
    assert type(particles).__name__ == "Labels" and particles.data.max() >= 4  # the sample's four platelets
    x, truth = viewer.layers[names[0]].data, viewer.layers[STXM_X].data
    inside = np.isfinite(truth) & np.isfinite(x)
    assert inside.sum() > 0.9 * np.isfinite(truth).sum()
    assert np.sqrt(np.mean((x[inside] - truth[inside]) ** 2)) < RMSE_X
    w = viewer.layers[names[1]].data[inside]  # thickness-weighted, as the particles' mean x
    assert abs(np.sum(w * (x[inside] - truth[inside])) / w.sum()) < MEAN_BIAS
    assert widget.panel.progress_bar.value() == 100 and widget.panel.max_fraction == 1.0
    assert widget.panel.run_button.isEnabled() and "mean x" in widget.panel.status.text()
    assert viewer.layers[names[0]].metadata["operando"]["extra"]["stxm_composition"]["i0_source"]
    tif, js = widget.save_run(tmp_path / "run")
    assert tif.name == "x.tif" and js.exists() and json.loads(js.read_text())["channels"][0] == "x"


def test_widget_takes_i0_from_a_drawn_rectangle(viewer_with_sample, qtbot):
    from operando.napari._sample import STXM_COUNTS

    viewer = viewer_with_sample
    rect = np.array([[0.0, 0.0], [0.0, 0.3], [0.15, 0.3], [0.15, 0.0]])  # world um: rows 0-5, columns 0-10 (empty)
    viewer.add_shapes([rect], shape_type="rectangle", name="I0")
    widget = StxmWidget(viewer)
    widget.counts_choice.select(STXM_COUNTS)
    widget.i0_choice.select("I0")
    assert _run(qtbot, widget) == "done", widget.panel.status.text()
    summary = viewer.layers[f"{STXM_COUNTS} x"].metadata["operando"]["extra"]["stxm_composition"]
    assert summary["config"]["i0"] == "0:6,0:11"


def test_widget_shows_a_refusal_as_one_line(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.ones((2, 16, 16)), name="plain")
    widget = StxmWidget(viewer)
    widget.panel.run_button.click()  # no energies: refused before any worker starts
    assert "records no energies" in widget.panel.status.text() and "\n" not in widget.panel.status.text()
    assert widget.panel.run_button.isEnabled() and widget.panel.worker is None
