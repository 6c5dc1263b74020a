"""The form pieces the widgets share: the layer choice, the axes field, a pydantic complaint as one line."""

import numpy as np
import pytest

from operando import InputError, Stack
from operando.napari._forms import AxesField, LayerChoice, checked_config
from operando.napari._layers import stack_to_layer


def test_a_settings_model_complaint_is_one_input_error_line():
    from operando.workflows.neutron import AnalysisConfig

    assert checked_config(AnalysisConfig, reference=(0, 4)).reference == (0, 4)
    with pytest.raises(InputError, match="half_cycle_frames") as info:
        checked_config(AnalysisConfig, half_cycle_frames=(9, 3))
    assert "\n" not in str(info.value)


def test_the_axes_field_fills_the_chosen_layers_axes_and_keeps_typed_ones(make_napari_viewer):
    viewer = make_napari_viewer()
    data, kwargs, _ = stack_to_layer(Stack(np.zeros((4, 8, 8), np.float32), axes="TYX"), name="video")
    viewer.add_image(data, **kwargs)
    choice = LayerChoice(viewer, ("image",))
    axes = AxesField(choice)
    assert choice.currentText() == "video" and axes.text() == "TYX"
    axes.setText("ZYX")
    viewer.add_image(np.zeros((8, 8), np.float32), name="image")  # another layer comes: the typed axes stay
    assert choice.currentText() == "video" and axes.text() == "ZYX"
    assert axes.stack()[1].axes == "ZYX"
    choice.select("image")
    assert axes.text() == "YX"
    with pytest.raises(InputError, match="no layer 'nothing'"):
        choice.select("nothing")
    viewer.layers.clear()
    with pytest.raises(InputError, match="no image layer chosen"):
        axes.stack()
