"""X-ray spectromicroscopy (STXM, TXM): optical density, alignment, composition with uncertainty, scan-line noise.

Pure NumPy / SciPy / scikit-image functions on Stacks (no torch, no JAX); the pipeline that combines them with
readers and denoisers is :mod:`operando.workflows.stxm`.
Also here: the STXM phantom and its family, and the split (binomial thinning) error of denoised OD.
"""

from ._align import Alignment, align_stack, estimate_shift, shift_image
from ._composition import (
    Composition,
    ReferenceSpectra,
    check_energy_shift,
    composition,
    default_references,
    read_reference_spectra,
    significance_mask,
    unmix,
)
from ._od import I0Spectrum, OpticalDensity, find_background, flat_field_od, optical_density
from ._split import SplitDenoised, residual_error_variance, split_covariance, split_denoise
from ._stripes import StripeDiagnosis, diagnose_stripes, remove_row_offsets, stripe_share
from ._stxm_phantom import (
    Phantom,
    PhantomConfig,
    PhantomFamily,
    check_energy_list,
    draw_phantom_config,
    make_phantom,
    noise_draw,
    phantom_family,
    write_phantom,
)
from ._txm import EdgeMaps, TXMOpticalDensity, edge_maps, txm_optical_density

__all__ = [
    "Phantom",
    "PhantomConfig",
    "PhantomFamily",
    "SplitDenoised",
    "check_energy_list",
    "draw_phantom_config",
    "make_phantom",
    "noise_draw",
    "phantom_family",
    "residual_error_variance",
    "split_covariance",
    "split_denoise",
    "write_phantom",
    "Alignment",
    "Composition",
    "EdgeMaps",
    "I0Spectrum",
    "OpticalDensity",
    "ReferenceSpectra",
    "StripeDiagnosis",
    "TXMOpticalDensity",
    "align_stack",
    "check_energy_shift",
    "composition",
    "default_references",
    "diagnose_stripes",
    "edge_maps",
    "estimate_shift",
    "find_background",
    "flat_field_od",
    "optical_density",
    "read_reference_spectra",
    "remove_row_offsets",
    "shift_image",
    "significance_mask",
    "stripe_share",
    "txm_optical_density",
    "unmix",
]
