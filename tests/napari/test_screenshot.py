"""What a person sees: after a denoise run the viewer's canvas shows the denoised slice (not a blank canvas)."""

import numpy as np

from operando.napari import _sample
from operando.napari._denoise import DenoiseWidget


def canvas_samples(viewer, layer, shot):
    """Sample the screenshot's luminance at the canvas position of each pixel centre of the displayed slice."""
    rows, cols = layer.data.shape[-2:]
    scale, translate = np.asarray(layer.scale[-2:]), np.asarray(layer.translate[-2:])
    camera = viewer.scene.camera
    centre, zoom = np.asarray(camera.center[-2:]), camera.zoom
    canvas_h, canvas_w = viewer.window._qt_viewer.canvas.size
    ratio = shot.shape[0] / canvas_h  # physical over logical pixels
    world_y = translate[0] + scale[0] * np.arange(rows)
    world_x = translate[1] + scale[1] * np.arange(cols)
    pix_y = np.round(((world_y - centre[0]) * zoom + canvas_h / 2) * ratio).astype(int)
    pix_x = np.round(((world_x - centre[1]) * zoom + canvas_w / 2) * ratio).astype(int)
    assert pix_y.min() >= 0 and pix_y.max() < shot.shape[0] and pix_x.min() >= 0 and pix_x.max() < shot.shape[1]
    rgb = shot[..., :3].astype(float)
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    return luminance[np.ix_(pix_y, pix_x)]


def test_canvas_after_a_denoise_run_shows_the_denoised_slice(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("operando", "cahn_hilliard")
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Denoise")
    widget.select(_sample.CH_NOISY, "gaussian")
    with qtbot.waitSignal(widget.panel.finished, timeout=60_000) as blocker:
        widget.panel.run_button.click()
    assert blocker.args == ["done"], widget.panel.status.text()
    out = widget.result_layer
    for layer in viewer.layers:
        layer.visible = layer is out
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    lum = shot[..., :3].mean(axis=-1)
    assert lum.std() > 5.0 and lum.max() > 20, "the canvas is uniform or black"
    step = viewer.dims.current_step[0]
    shown = np.asarray(out.data[step], float)
    low, high = out.contrast_limits
    expected = np.clip((shown - low) / (high - low), 0.0, 1.0)
    seen = canvas_samples(viewer, out, shot)
    r = np.corrcoef(seen.ravel(), expected.ravel())[0, 1]
    assert r > 0.8, r
    whole = viewer.screenshot(canvas_only=False, flash=False)  # the window, widget included
    assert whole.shape[0] >= shot.shape[0] and whole.shape[1] > shot.shape[1]
