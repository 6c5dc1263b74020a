"""operando: self-supervised denoising and physics-validated quantification of operando microscopy.

``import operando`` is light: it imports neither torch nor jax. Subpackages:
``operando.io``, ``operando.simulate``, ``operando.noise``, ``operando.metrics``, ``operando.denoise``,
``operando.inverse``, ``operando.report``.
"""

from ._errors import AxesAssumedWarning, InputError
from ._progress import Cancelled, Progress, ProgressEvent
from ._stack import Metadata, Stack, as_stack

__version__ = "0.1.0"

__all__ = ["AxesAssumedWarning", "Cancelled", "InputError", "Metadata", "Progress", "ProgressEvent", "Stack",
           "__version__", "as_stack"]
