"""What made an output: the versions of operando and the libraries that shaped its numbers.

Every output record (a run's JSON, a manifest, a model's sidecar) carries ``versions()`` beside its
configuration and seed, so that a result can be traced and reproduced.

>>> sorted(versions())[:3]
['jax', 'numpy', 'operando']
"""

from __future__ import annotations

import platform
from importlib import metadata

#: Distributions named in every record (their absence is recorded as None).
RECORDED = ("numpy", "scipy", "torch", "jax", "scikit-image", "tifffile", "zarr")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Return ``{name: version}`` of operando, Python and :data:`RECORDED` (+ ``extra``), without importing them."""
    from . import __version__

    out: dict[str, str | None] = {"operando": __version__, "python": platform.python_version()}
    for name in (*RECORDED, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
