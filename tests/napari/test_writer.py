"""The napari writer: round trips through operando's formats keep data, scale and metadata; sources are safe."""

import numpy as np
import pytest

from operando import InputError, Stack
from operando._stack import Metadata
from operando.io import read
from operando.napari._layers import stack_to_layer
from operando.napari._reader import get_reader
from operando.napari._writer import write_layers


def _energy_stack() -> Stack:
    data = np.random.default_rng(0).integers(0, 4000, (3, 6, 7)).astype(np.uint16)
    meta = Metadata(pixel_size=0.02, pixel_unit="um", energies=(706.0, 708.0, 710.0), source="/nowhere/scan.hdr",
                    extra={"dwell_ms": 35.0})
    return Stack(data, "EYX", meta)


def _video() -> Stack:
    data = np.random.default_rng(1).random((5, 6, 7)).astype(np.float32)
    return Stack(data, "TYX", Metadata(pixel_size=15.0, pixel_unit="nm", frame_times=tuple(0.5 * i for i in range(5))))


@pytest.mark.parametrize("ending", [".tif", ".zarr", ".nxs"])
@pytest.mark.parametrize("make", [_energy_stack, _video])
def test_round_trip_keeps_data_scale_and_metadata(tmp_path, ending, make):
    stack = make()
    layer = stack_to_layer(stack, "layer")
    written = write_layers(str(tmp_path / f"out{ending}"), [layer])
    assert written == [str(tmp_path / f"out{ending}")]
    back = read(written[0])
    assert back.axes == stack.axes and back.dtype == stack.dtype
    assert np.array_equal(back.to_numpy(), stack.data)
    for key in ("pixel_size", "pixel_unit", "energies", "frame_times"):
        assert getattr(back.metadata, key) == getattr(stack.metadata, key), key
    (data, settings, _), = get_reader(written[0])(written[0])
    assert settings["scale"] == pytest.approx(layer[1]["scale"])
    assert settings["translate"] == pytest.approx(layer[1]["translate"])
    assert settings["units"] == layer[1]["units"] and settings["axis_labels"] == layer[1]["axis_labels"]


def test_layer_without_a_record_is_rebuilt_from_its_scale_and_units(tmp_path):
    data = np.ones((4, 5, 6), np.float32)
    settings = {"name": "drawn", "scale": [2.5, 0.1, 0.1], "translate": [10.0, 0.0, 0.0],
                "units": ["second", "micrometer", "micrometer"], "axis_labels": ["t", "y", "x"]}
    written = write_layers(str(tmp_path / "drawn.nxs"), [(data, settings, "image")])
    back = read(written[0])
    assert back.axes == "TYX" and back.metadata.pixel_size == pytest.approx(0.1) and back.metadata.pixel_unit == "um"
    assert back.metadata.frame_times == pytest.approx((10.0, 12.5, 15.0, 17.5))


def test_same_grid_layers_become_named_channels_of_one_file(tmp_path):
    base = Stack(np.zeros((6, 7), np.float32), "YX", Metadata(pixel_size=0.03, pixel_unit="um"))
    layers = [stack_to_layer(base.with_data(np.full((6, 7), v, np.float32)), name)
              for v, name in ((0.4, "x"), (0.1, "thickness_um"))]
    written = write_layers(str(tmp_path / "maps.tif"), layers)
    back = read(written[0])
    assert back.axes == "CYX" and back.metadata.extra["channels"] == ["x", "thickness_um"]
    assert back.to_numpy()[:, 0, 0] == pytest.approx([0.4, 0.1]) and back.metadata.pixel_size == pytest.approx(0.03)


def test_layers_of_different_shapes_become_one_file_each(tmp_path):
    layers = [stack_to_layer(_video(), "video"), stack_to_layer(_energy_stack(), "scan 1")]
    written = write_layers(str(tmp_path / "out.zarr"), layers)
    assert written == [str(tmp_path / "out_video.zarr"), str(tmp_path / "out_scan_1.zarr")]
    assert read(written[1]).metadata.energies == (706.0, 708.0, 710.0)


def test_refuses_to_overwrite_a_layers_source(tmp_path):
    path = tmp_path / "source.tif"
    write_layers(str(path), [stack_to_layer(_video(), "video")])
    before = path.read_bytes()
    layers = get_reader(str(path))(str(path))
    with pytest.raises(InputError, match="refusing to overwrite the input file"):
        write_layers(str(path), layers)
    with pytest.raises(InputError, match="refusing to overwrite the input file"):
        write_layers(str(path), layers + [stack_to_layer(_video(), "other")])
    assert path.read_bytes() == before


def test_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(InputError, match="image layers"):
        write_layers(str(tmp_path / "a.tif"), [(np.zeros((3, 2)), {}, "points")])
    with pytest.raises(InputError, match="writes .tif"):
        write_layers(str(tmp_path / "a.png"), [stack_to_layer(_video(), "v")])
    assert write_layers(str(tmp_path / "plain"), [stack_to_layer(_video(), "v")]) == [str(tmp_path / "plain.tif")]


def test_viewer_saves_layers_through_the_plugin(tmp_path, make_napari_viewer):
    viewer = make_napari_viewer()
    data, settings, _ = stack_to_layer(_energy_stack(), "scan")
    viewer.add_image(data, **settings)
    written = viewer.layers.save(str(tmp_path / "saved.zarr"), plugin="operando")
    assert written == [str(tmp_path / "saved.zarr")]
    back = read(written[0])
    assert back.metadata.energies == (706.0, 708.0, 710.0) and back.metadata.pixel_size == pytest.approx(0.02)
    assert np.array_equal(back.to_numpy(), data)


def test_layer_to_stack_reads_napari_layers_with_or_without_the_record():
    from napari.layers import Image

    from operando.napari._layers import layer_to_stack

    stack = _energy_stack()
    data, settings, _ = stack_to_layer(stack, "scan")
    back = layer_to_stack(Image(data, **settings))
    assert back.axes == "EYX" and back.metadata == stack.metadata
    plain = layer_to_stack(Image(np.zeros((4, 5, 6)), scale=(2.0, 0.1, 0.1), translate=(1.0, 0, 0),
                                 units=("s", "um", "um"), axis_labels=("t", "y", "x")))
    assert plain.axes == "TYX" and plain.metadata.pixel_size == pytest.approx(0.1) and plain.metadata.pixel_unit == "um"
    assert plain.metadata.frame_times == pytest.approx((1.0, 3.0, 5.0, 7.0))
    colour = layer_to_stack(Image(np.zeros((5, 6, 3), np.uint8), rgb=True))
    assert colour.axes == "YXC" and colour.metadata.pixel_size is None
    with pytest.raises(InputError, match="axis_labels"):
        layer_to_stack(Image(np.zeros((2, 2, 2, 3, 4))))


def test_axes_are_put_in_napari_order_and_rgb_stays_colour():
    from operando.napari._layers import layer_to_stack

    video = _video()
    moved = Stack(np.moveaxis(video.data, 0, -1), "YXT", video.metadata)  # frames last
    data, settings, _ = stack_to_layer(moved, "moved")
    assert data.shape == video.shape and settings["axis_labels"] == ["t", "y", "x"]
    assert np.array_equal(data, video.data) and settings["scale"] == pytest.approx([0.5, 15.0, 15.0])
    assert layer_to_stack((data, settings, "image")).axes == "TYX"
    colour = Stack(np.zeros((2, 3, 5, 6), np.uint8), "TCYX", Metadata(pixel_size=1.5, pixel_unit="um"))
    data, settings, _ = stack_to_layer(colour)
    assert data.shape == (2, 5, 6, 3) and settings["rgb"] and settings["scale"] == [1.0, 1.5, 1.5]
