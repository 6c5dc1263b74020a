"""Neutron radiography: normalisation, outliers, differential attenuation and transport metrics.

Pure NumPy/SciPy/scikit-image functions on Stacks (no torch, no JAX), and ``read_normalized`` for a sample /
open-beam / dark triple on disk; the pipeline that denoises, measures and draws figures is
:mod:`operando.workflows.neutron`. Rectangles of pixels are ``'y0:y1,x0:x1'`` (:mod:`operando._regions`).
"""

from ._attenuation import (
    DeltaA,
    attenuation,
    differential_attenuation,
    estimate_drift,
    estimate_variance,
    reference_frames,
    shift_frames,
)
from ._cycler import (
    CyclerData,
    HalfCycle,
    charge_at,
    coulombic_efficiency,
    frame_boundaries,
    half_cycles,
    parse_cycler_text,
    read_cycler_csv,
)
from ._metrics import (
    DepthProfile,
    Variability,
    active_area_fraction,
    depth_profile,
    dynamic_variability,
    half_cycle_changes,
    inactive_edge_px,
    li_cross_section_barn,
    lithium_inventory,
    local_std_map,
)
from ._normalize import CombinedImage, Transmission, beam_factors, combine_images, normalize, parse_box, region_mask
from ._phantom import FAMILY, PLACEMENTS, Phantom, default_config, draw_phantom_config, simulate_neutron_phantom
from ._read import read_normalized, read_radiographs
from ._regions import Region, Regions, find_layers, regions_from_dict
from ._spots import SpotResult, remove_spots_spatial, remove_spots_temporal

__all__ = [
    "FAMILY", "PLACEMENTS", "CombinedImage", "CyclerData", "DeltaA", "DepthProfile", "HalfCycle", "Phantom",
    "Region", "Regions", "SpotResult", "Transmission", "Variability", "active_area_fraction", "attenuation",
    "beam_factors", "charge_at", "combine_images", "coulombic_efficiency", "default_config", "depth_profile",
    "differential_attenuation", "draw_phantom_config", "dynamic_variability", "estimate_drift", "estimate_variance",
    "find_layers",
    "frame_boundaries", "half_cycle_changes", "half_cycles", "inactive_edge_px", "li_cross_section_barn",
    "lithium_inventory", "local_std_map", "normalize", "parse_box", "parse_cycler_text", "read_cycler_csv",
    "read_normalized", "read_radiographs",
    "reference_frames", "region_mask", "regions_from_dict", "remove_spots_spatial", "remove_spots_temporal",
    "shift_frames", "simulate_neutron_phantom",
]
