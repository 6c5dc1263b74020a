"""The neutron widget: its pure pieces, then a real viewer normalising and analysing the neutron sample."""

import numpy as np
import pytest

from operando import InputError
from operando.napari._neutron import NeutronWidget, analysis_config, delta_layers, drawn_regions, metrics_rows
from operando.workflows.neutron import parse_reference


def test_reference_and_config_are_read_as_the_command_line_reads_them():
    assert parse_reference("0:4") == (0, 4) and parse_reference("3") == 3
    with pytest.raises(InputError, match="--reference-frame 'first' is not a frame N or a range start:stop"):
        parse_reference("first")
    with pytest.raises(InputError, match="reference frames 'first'"):
        analysis_config(reference="first", denoise="none", half_cycles="", time_budget_s=5.0, max_steps=0, seed=0)
    cfg = analysis_config(reference="0:4", denoise="none", half_cycles="3, 9,15", time_budget_s=5.0, max_steps=0,
                          seed=1)
    assert cfg.reference == (0, 4) and cfg.half_cycle_frames == (3, 9, 15) and cfg.max_steps is None
    with pytest.raises(InputError, match="half_cycle_frames"):
        analysis_config(reference="0", denoise="none", half_cycles="9,3", time_budget_s=5.0, max_steps=0, seed=0)


def test_drawn_rectangles_become_regions_pooled_by_name():
    regions = drawn_regions([("anode", "electrode", "2:10,0:4"), ("anode", "electrode", "2:10,6:8"),
                             ("separator", "separator", "2:10,4:6")], (12, 12))
    assert regions.regions["anode"].mask.sum() == 8 * 6 and regions.of_kind("separator")[0].mask.sum() == 16


def _run(qtbot, panel, timeout=90_000):
    with qtbot.waitSignal(panel.finished, timeout=timeout) as blocker:
        panel.run_button.click()
    return blocker.args[0]


@pytest.fixture(scope="module")
def sample_layers():
    """The neutron sample's layer data, generated once for the module."""
    from operando.napari._sample import neutron

    return neutron()


@pytest.fixture
def viewer_with_sample(make_napari_viewer, sample_layers):
    from operando.napari._forms import add_layers

    viewer = make_napari_viewer()
    add_layers(viewer, sample_layers)
    return viewer


def test_widget_normalises_then_analyses_the_sample(viewer_with_sample, qtbot):
    from operando.napari._sample import NEUTRON_DARK, NEUTRON_OPEN, NEUTRON_SAMPLE

    viewer = viewer_with_sample
    sample = viewer.layers[NEUTRON_SAMPLE]
    widget = NeutronWidget(viewer)
    viewer.window.add_dock_widget(widget)
    for choice, name in ((widget.sample_choice, NEUTRON_SAMPLE), (widget.open_beam_choice, NEUTRON_OPEN),
                         (widget.dark_choice, NEUTRON_DARK)):
        choice.select(name)
    assert _run(qtbot, widget.normalise_panel) == "done", widget.normalise_panel.status.text()
    transmission = viewer.layers[f"{NEUTRON_SAMPLE} transmission"]
    assert transmission.data.shape == sample.data.shape and np.allclose(transmission.scale, sample.scale)
    assert widget.transmission_choice.currentText() == transmission.name
    widget.reference.setText("0:4")
    widget.denoise.setCurrentText("none")
    assert _run(qtbot, widget.analyse_panel) == "done", widget.analyse_panel.status.text()
    raw = viewer.layers[f"{transmission.name} Delta A raw"]
    low, high = raw.contrast_limits
    assert low == pytest.approx(-high) and high > 0 and raw.colormap.name.lower().startswith("rdbu")
    assert raw.data.shape == sample.data.shape and np.allclose(raw.scale, sample.scale)
    regions = viewer.layers[f"{transmission.name} regions"]
    assert set(regions.features["name"]) >= {"anode", "cathode"} and np.allclose(regions.scale, sample.scale[-2:])
    assert widget.table.rowCount() >= 3 and widget.table.item(0, 0).text() == "dynamic variability"
    assert float(widget.table.item(0, 2).text()) > 0
    assert widget.analyse_panel.progress_bar.value() == 100 and widget.analyse_panel.run_button.isEnabled()


def test_the_denoised_layer_shares_the_raw_layers_symmetric_range(viewer_with_sample):
    """The layers of an analysis with a denoised Delta A (the denoiser itself is the workflow's tests' business)."""
    from dataclasses import replace

    from operando.napari._layers import layer_to_stack
    from operando.napari._sample import NEUTRON_SAMPLE
    from operando.neutron import normalize
    from operando.workflows.neutron import AnalysisConfig, analyze_series, metrics_document

    viewer = viewer_with_sample
    stacks = [layer_to_stack(viewer.layers[n]) for n in (NEUTRON_SAMPLE, "open beam", "dark")]
    tr = normalize(*stacks)
    cfg = AnalysisConfig(reference=(0, 4), denoise="none")
    analysis = analyze_series(tr, config=cfg)
    analysis = replace(analysis, delta_denoised=np.nan_to_num(analysis.delta_raw.stack.to_numpy()) * 0.5)
    layers = delta_layers(analysis, name="t")
    assert [k["name"] for _, k, _ in layers] == ["t Delta A raw", "t Delta A denoised", "t regions"]
    assert layers[0][1]["contrast_limits"] == layers[1][1]["contrast_limits"]
    rows = metrics_rows(metrics_document(analysis, cfg))
    assert rows[0][0] == "dynamic variability" and rows[0][3] == "-"


def test_widget_says_what_is_missing_in_one_line(make_napari_viewer):
    widget = NeutronWidget(make_napari_viewer())
    widget.analyse_panel.run_button.click()
    assert "no transmission layer" in widget.analyse_panel.status.text()
    widget.normalise_panel.run_button.click()
    assert "choose the sample" in widget.normalise_panel.status.text()
    assert widget.normalise_panel.run_button.isEnabled()
