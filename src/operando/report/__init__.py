"""Figures and Markdown/HTML reports (``plot_learned`` draws physics learned by ``operando.inverse``)."""

from ._figures import plot_bars, plot_frames_side_by_side, plot_psnr_per_frame, pyplot, save_figure
from ._markdown import Report, markdown_table
from ._physics import plot_learned

__all__ = ["Report", "markdown_table", "plot_bars", "plot_frames_side_by_side", "plot_learned",
           "plot_psnr_per_frame", "pyplot", "save_figure"]
