"""The optical graphite pipeline: analyse a colour video of a graphite electrode and write what was found.

::

    from operando.workflows.optical import OpticalConfig, analyze_video, write_analysis

    result = analyze_video(read("video.tif"), config=OpticalConfig(denoise="video"), progress=callback)
    write_analysis(result, "analysis", source=stack)  # labels.tif, stages.tif, tables, figures, analysis.json

``analyze_video`` runs: optional video denoising (3 channels jointly) -> first-pass segmentation -> colour
correction (flicker, haze, illumination, optional white balance) -> registration -> segmentation of the
registered time-average -> labels carried through time -> CIELAB stage model (given or learned) -> per-pixel
stages with confidence and hysteresis -> per-particle table -> population statistics (docs/optical.md).

Modules: ``_config`` (:class:`OpticalConfig` and its checks), ``_run`` (:func:`analyze_video`), ``_files``
(:func:`write_analysis`, :func:`write_phantom`), ``_figures`` (the population figures). Scoring against a
truth, the benchmarks and the demo live one floor up, in :mod:`operando.bench.optical`.
"""

from ._config import DENOISE_CHOICES, OpticalConfig, check_video_settings
from ._files import default_frames_of_interest, summary_rows, write_analysis, write_phantom
from ._run import OpticalResult, analyze_video

__all__ = [
    "DENOISE_CHOICES", "OpticalConfig", "OpticalResult", "analyze_video", "check_video_settings",
    "default_frames_of_interest", "summary_rows", "write_analysis", "write_phantom",
]
