"""Optical microscopy of graphite: colour processing, particle segmentation and staging.

Pure NumPy / SciPy / scikit-image functions on arrays and Stacks (no torch, no JAX, no figures): colour
calibration (:func:`video_rgb`, :func:`correct_colour`), colour restoration of denoised frames
(:func:`restore_colour`), weight-free segmentation carried through time (:func:`segment_particles`,
:func:`propagate_labels`), CIELAB stage classification (:func:`fit_stage_model`, :func:`classify_pixels`,
:func:`apply_hysteresis`), per-particle tables (:func:`measure_particles`), population statistics, the graphite
phantom and its family (:func:`simulate_graphite_phantom`, :func:`draw_variant`), particles found against a
fitted background (:func:`find_particles`) and optional deep-learning adapters.
"""

from ._adapters import segment_cellpose, segment_stardist
from ._colour import (
    ColourCorrection,
    check_colour_video,
    choose_background_model,
    correct_colour,
    fit_smooth_field,
    video_rgb,
)
from ._foreground import (
    BackgroundFit,
    Foreground,
    contrast_channel,
    contrast_threshold,
    find_particles,
    fit_background,
    flat_field,
)
from ._particles import ParticleTable, measure_particles, transition_frames
from ._phantom import (
    BACKGROUND_CLASSES,
    MIN_PHANTOM_SIZE,
    PHANTOM_COLOURS,
    VARIANT_RANGES,
    GraphitePhantom,
    background_class,
    concrete_seed,
    draw_variant,
    simulate_graphite_phantom,
)
from ._population import TransitionTrend, population_density, stage_fractions_over_time, transition_trend
from ._restore import estimate_noise_variance, restore_colour
from ._segment import (
    Segmentation,
    choose_channel,
    filter_sizes,
    foreground_channel,
    propagate_labels,
    register_shifts,
    segment_particles,
    shift_image,
    threshold_value,
)
from ._stages import (
    DEFAULT_CBAR,
    STAGE_CODES,
    STAGE_LEGEND,
    StageModel,
    apply_hysteresis,
    classify_pixels,
    fit_stage_model,
    rgb_to_lab,
)

__all__ = [
    "BACKGROUND_CLASSES", "VARIANT_RANGES", "BackgroundFit", "Foreground", "background_class",
    "choose_background_model", "contrast_channel", "contrast_threshold", "draw_variant", "find_particles",
    "fit_background", "flat_field",
    "DEFAULT_CBAR", "MIN_PHANTOM_SIZE", "PHANTOM_COLOURS", "STAGE_CODES", "STAGE_LEGEND", "ColourCorrection",
    "GraphitePhantom", "ParticleTable", "Segmentation", "StageModel", "TransitionTrend", "apply_hysteresis",
    "check_colour_video", "choose_channel",
    "classify_pixels", "concrete_seed", "correct_colour", "estimate_noise_variance", "filter_sizes",
    "fit_smooth_field", "fit_stage_model", "foreground_channel", "measure_particles", "population_density",
    "propagate_labels", "register_shifts", "restore_colour", "rgb_to_lab", "segment_cellpose", "segment_particles",
    "segment_stardist", "shift_image", "simulate_graphite_phantom", "stage_fractions_over_time", "threshold_value",
    "transition_frames", "transition_trend", "video_rgb",
]
