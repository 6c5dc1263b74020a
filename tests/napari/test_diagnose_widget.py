"""The Diagnose widget in a real (headless) viewer, on the Cahn-Hilliard sample (Gaussian noise, sd 0.1)."""

import pytest

from operando.napari import _sample
from operando.napari._diagnose import DiagnoseWidget
from operando.napari._layers import stack_to_layer


def test_diagnose_shows_the_noise_level_and_a_recommended_method(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open_sample("operando", "cahn_hilliard")
    widget = DiagnoseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Diagnose")
    widget.select(_sample.CH_NOISY)
    assert widget.axes_edit.text() == "TYX"
    n_layers = len(viewer.layers)
    with qtbot.waitSignal(widget.panel.finished, timeout=90_000) as blocker:
        widget.panel.run_button.click()
    assert blocker.args == ["done"], widget.panel.status.text()
    rows = dict(widget.rows())
    found = widget.diagnosis
    assert found.noise_sigma == pytest.approx(_sample.CH_SIGMA, rel=0.2)
    assert rows["noise level"].startswith(f"{found.noise_sigma:.3g}")
    assert rows["recommended method"] == found.recommended_method and found.recommended_method
    assert rows["why"] == found.recommended_reason and found.recommended_reason
    assert rows["stripes"] == "no" and rows["impulse pixels"].endswith("%")
    if found.noise_correlation is not None:  # measured: the neighbour correlation with its standard error
        assert "standard error" in rows["spatial correlation"]
    assert "between neighbouring frames" in rows["temporal correlation"]
    assert widget.panel.progress_bar.value() == 100 and widget.panel.run_button.isEnabled()
    assert len(viewer.layers) == n_layers  # diagnosing adds nothing


def test_bad_axes_show_one_error_line(make_napari_viewer, qtbot):
    import numpy as np

    from operando import Stack

    viewer = make_napari_viewer()
    data, kwargs, _ = stack_to_layer(Stack(np.zeros((4, 16, 16), np.float32), axes="TYX"), name="flat")
    viewer.add_image(data, **kwargs)
    widget = DiagnoseWidget(viewer)
    widget.axes_edit.setText("TY")
    with qtbot.waitSignal(widget.panel.finished, timeout=5_000) as blocker:
        widget.panel.run_button.click()
    assert blocker.args == ["error"]
    text = widget.panel.status.text()
    assert "names 2 axes but the data has 3" in text and "\n" not in text
    assert widget.table.rowCount() == 0
