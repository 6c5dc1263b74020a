"""The ``operando`` command: a thin layer over the public Python API.

Each command parses its options, makes one library call, writes, and prints a short summary. Heavy imports
(torch, JAX) happen inside the commands, so ``operando --help`` is instant. A modality adds one typer sub-app
module here and one row in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import importlib

from ._core import app

#: Sub-command groups: name -> module holding a typer app named ``app``.
SUBCOMMANDS: dict[str, str] = {
    "benchmark": "._benchmark",
    "neutron": "._neutron",
    "optical": "._optical",
    "stxm": "._stxm",
    "txm": "._txm",
}

#: Modules that add commands to the main app itself (``operando simulate``, ``operando learn``).
COMMAND_MODULES: tuple[str, ...] = ("._physics",)

for _name, _module in SUBCOMMANDS.items():
    app.add_typer(importlib.import_module(_module, __name__).app, name=_name)
for _module in COMMAND_MODULES:
    importlib.import_module(_module, __name__)

__all__ = ["app"]
