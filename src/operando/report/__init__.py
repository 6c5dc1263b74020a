"""Figures and Markdown/HTML reports (``plot_learned`` draws physics learned by ``operando.inverse``).

Every figure in operando is made, coloured and saved through the ONE style here (:mod:`._style`):
``new_figure`` (object-oriented, off pyplot: no backend is chosen), ``figure_style`` (the house rcParams),
``show_image`` / ``colour_map`` / ``colours`` / ``signed_limits`` (sequential map, diverging map centred on 0
for signed data, NaN grey), ``save_figure`` (atomic, format from the ending, ``figure_format``).
"""

from ._figures import plot_bars, plot_frames_side_by_side, plot_psnr_per_frame, pyplot
from ._markdown import Report, markdown_table
from ._physics import plot_learned
from ._style import (
    CATEGORICAL_CMAP,
    DIVERGING_CMAP,
    DPI,
    FIGURE_FORMATS,
    GREY_CMAP,
    NAN_COLOUR,
    SEQUENTIAL_CMAP,
    colour_map,
    colours,
    figure_format,
    figure_style,
    new_figure,
    save_figure,
    show_image,
    signed_limits,
)

__all__ = [
    "CATEGORICAL_CMAP",
    "DIVERGING_CMAP",
    "DPI",
    "FIGURE_FORMATS",
    "GREY_CMAP",
    "NAN_COLOUR",
    "SEQUENTIAL_CMAP",
    "Report",
    "colour_map",
    "colours",
    "figure_format",
    "figure_style",
    "markdown_table",
    "new_figure",
    "plot_bars",
    "plot_frames_side_by_side",
    "plot_learned",
    "plot_psnr_per_frame",
    "pyplot",
    "save_figure",
    "show_image",
    "signed_limits",
]
