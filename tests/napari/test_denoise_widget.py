"""The Denoise widget in a real (headless) viewer: Run, Stop, errors, auto's reason, models, the streamed path."""

import numpy as np
import pytest

from operando import Metadata, Stack
from operando.napari import _sample
from operando.napari._denoise import DenoiseWidget, LossPlot, method_choices
from operando.napari._layers import stack_to_layer

SD = 0.15


def noisy_video(n_frames=10, size=32, seed=0):
    """A small smooth moving pattern (clean) and a copy with Gaussian noise of sd SD (noisy)."""
    t, y, x = np.meshgrid(np.arange(n_frames), np.arange(size), np.arange(size), indexing="ij")
    clean = (0.5 + 0.3 * np.sin(2 * np.pi * (x + 0.5 * t) / 24) * np.cos(2 * np.pi * y / 20)).astype(np.float32)
    noisy = (clean + np.random.default_rng(seed).normal(0, SD, clean.shape)).astype(np.float32)
    return clean, noisy


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))


@pytest.fixture
def viewer_with_video(make_napari_viewer):
    viewer = make_napari_viewer()
    clean, noisy = noisy_video()
    meta = Metadata(pixel_size=0.02, pixel_unit="um", frame_times=tuple(0.5 * i for i in range(len(clean))))
    for name, data in (("clean", clean), ("noisy", noisy)):
        layer_data, kwargs, _ = stack_to_layer(Stack(data, axes="TYX", metadata=meta), name=name)
        viewer.add_image(layer_data, **kwargs)
    return viewer, clean


def add_widget(viewer):
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Denoise")
    return widget


def click_run(qtbot, widget, timeout=60_000):
    with qtbot.waitSignal(widget.panel.finished, timeout=timeout) as blocker:
        widget.panel.run_button.click()
    return blocker.args[0]


def test_gaussian_run_on_the_sample_adds_a_calibrated_layer_and_raises_psnr(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open_sample("operando", "cahn_hilliard")
    widget = add_widget(viewer)
    widget.select(_sample.CH_NOISY, "gaussian")
    assert widget.axes_edit.text() == "TYX"
    n_layers = len(viewer.layers)
    assert click_run(qtbot, widget) == "done", widget.panel.status.text()
    assert len(viewer.layers) == n_layers + 1
    out, noisy, clean = viewer.layers[-1], viewer.layers[_sample.CH_NOISY], viewer.layers[_sample.CH_CLEAN]
    assert out is widget.result_layer
    assert out.data.shape == noisy.data.shape
    np.testing.assert_allclose(out.scale, noisy.scale)
    assert tuple(out.units) == tuple(noisy.units) and tuple(out.axis_labels) == tuple(noisy.axis_labels)
    record = out.metadata["operando"]
    assert record["axes"] == "TYX" and record["pixel_size"] == noisy.metadata["operando"]["pixel_size"]
    assert record["extra"]["denoise"]["method"] == "gaussian"
    gain = psnr(out.data, clean.data) - psnr(noisy.data, clean.data)
    assert gain > 3.0, gain
    assert widget.panel.progress_bar.value() == 100
    assert widget.panel.run_button.isEnabled() and not widget.panel.stop_button.isEnabled()
    assert widget.panel.status.text() == "done: gaussian"


def test_auto_shows_its_choice_and_reason(viewer_with_video, qtbot):
    viewer, _ = viewer_with_video
    widget = add_widget(viewer)
    widget.select("noisy", "auto")
    widget.budget.setValue(2.0)
    assert click_run(qtbot, widget) == "done", widget.panel.status.text()
    auto = viewer.layers[-1].metadata["operando"]["extra"]["denoise"]["auto"]
    assert auto["method"] and auto["reason"]
    assert widget.auto_label.text() == f"auto chose {auto['method']}: {auto['reason']}"
    assert widget.panel.max_fraction == pytest.approx(1.0)


def test_stop_ends_a_long_training_and_adds_nothing(viewer_with_video, qtbot):
    viewer, _ = viewer_with_video
    widget = add_widget(viewer)
    widget.select("noisy", "video")
    widget.budget.setValue(3600.0)
    n_layers = len(viewer.layers)
    widget.panel.run_button.click()
    qtbot.waitUntil(lambda: "training" in widget.panel.status.text(), timeout=60_000)
    with qtbot.waitSignal(widget.panel.finished, timeout=15_000) as blocker:
        widget.panel.stop_button.click()
    assert blocker.args == ["stopped"]
    assert widget.panel.status.text() == "stopped"
    assert len(viewer.layers) == n_layers
    assert widget.panel.run_button.isEnabled()


def test_bad_axes_show_one_error_line(viewer_with_video, qtbot):
    viewer, _ = viewer_with_video
    widget = add_widget(viewer)
    widget.select("noisy", "gaussian")
    widget.axes_edit.setText("QYX")
    n_layers = len(viewer.layers)
    assert click_run(qtbot, widget, timeout=5_000) == "error"
    text = widget.panel.status.text()
    assert "unknown axis letter" in text and "\n" not in text
    assert len(viewer.layers) == n_layers and widget.panel.run_button.isEnabled()


def test_network_plots_losses_saves_and_applies_its_model(viewer_with_video, qtbot, tmp_path):
    viewer, _ = viewer_with_video
    widget = add_widget(viewer)
    widget.select("noisy", "n2v2")
    widget.budget.setValue(600.0)
    widget.steps.setValue(3)  # the steps end it, not the budget
    assert click_run(qtbot, widget) == "done", widget.panel.status.text()
    assert widget.model is not None and widget.model.steps == 3
    assert viewer.layers[-1].metadata["operando"]["extra"]["denoise"]["config"]["max_steps"] == 3
    rows = len(widget.model.history)  # one validation row per val_every steps: each is plotted as it comes
    assert rows - 1 <= len(widget.loss_plot.train) <= rows and len(widget.loss_plot.val) == len(widget.loss_plot.train)
    written = widget.save_model(tmp_path / "net")
    assert written is not None and written.exists()
    n_layers = len(viewer.layers)
    with qtbot.waitSignal(widget.panel.finished, timeout=60_000) as blocker:
        widget.apply_model(tmp_path / "net")
    assert blocker.args == ["done"], widget.panel.status.text()
    assert len(viewer.layers) == n_layers + 1
    assert viewer.layers[-1].data.shape == viewer.layers["noisy"].data.shape


def test_losses_reported_by_a_job_reach_the_plot(viewer_with_video, qtbot):
    from operando._progress import emit

    viewer, _ = viewer_with_video
    widget = add_widget(viewer)

    def job(progress):
        for step in (50, 100, 150):
            emit(progress, step / 150, f"step {step}", step=step, train_loss=1.0 / step, val_loss=2.0 / step)

    with qtbot.waitSignal(widget.panel.finished, timeout=10_000):
        widget.panel.start(job, None)
    assert [s for s, _ in widget.loss_plot.train] == [50, 100, 150]
    assert widget.loss_plot.val[-1] == (150.0, pytest.approx(2.0 / 150))


def test_large_stack_streams_to_zarr_and_opens_lazily(viewer_with_video, qtbot, tmp_path):
    viewer, _ = viewer_with_video
    widget = add_widget(viewer)
    widget.select("noisy", "gaussian")
    widget.large_bytes = 1000  # anything is "large"
    widget.stream_folder.setText(str(tmp_path))
    assert click_run(qtbot, widget) == "done", widget.panel.status.text()
    out, noisy = viewer.layers[-1], viewer.layers["noisy"]
    assert "streamed" in out.name and ".zarr" in widget.panel.status.text()
    assert not isinstance(out.data, np.ndarray)  # lazy
    assert out.data.shape == noisy.data.shape
    np.testing.assert_allclose(out.scale, noisy.scale)
    assert list(tmp_path.glob("*.zarr"))


def test_missing_extras_are_listed_disabled_with_their_install_line(make_napari_viewer):
    widget = DenoiseWidget(make_napari_viewer())
    names = [widget.method_box.itemData(i) for i in range(widget.method_box.count())]
    assert names == [name for name, _ in method_choices()] and names[0] == "auto"
    for i, (name, install) in enumerate(method_choices()):
        item = widget.method_box.model().item(i)
        assert item.isEnabled() == (not install)
        if install:
            assert "pip install" in item.toolTip() and name in widget.extras_label.text()


def test_loss_plot_collects_losses():
    from operando import ProgressEvent

    plot = LossPlot()
    plot.add(ProgressEvent(0.1, "x", step=1, train_loss=0.5))
    plot.add(ProgressEvent(0.2, "x", step=2, train_loss=0.4, val_loss=0.45))
    plot.add(ProgressEvent(0.3, "x"))
    assert plot.train == [(1.0, 0.5), (2.0, 0.4)] and plot.val == [(2.0, 0.45)]


def test_lazy_layer_streams_from_its_own_file(make_napari_viewer, qtbot, tmp_path):
    from operando.io import read, write

    _, noisy = noisy_video()
    meta = Metadata(pixel_size=0.02, pixel_unit="um")
    source = write(Stack(noisy, axes="TYX", metadata=meta), tmp_path / "in.zarr")
    viewer = make_napari_viewer()
    data, kwargs, _ = stack_to_layer(read(source, lazy=True), name="lazy")
    viewer.add_image(data, **kwargs)
    widget = add_widget(viewer)
    widget.select("lazy", "gaussian")
    out_folder = tmp_path / "out"
    widget.stream_folder.setText(str(out_folder))
    assert click_run(qtbot, widget) == "done", widget.panel.status.text()
    written = list(out_folder.iterdir())
    assert len(written) == 1 and written[0].name.startswith("lazy-gaussian-")  # the output only, no input copy
    out = viewer.layers[-1]
    assert not isinstance(out.data, np.ndarray) and out.data.shape == noisy.shape
    np.testing.assert_allclose(out.scale, viewer.layers["lazy"].scale)
