"""``python -m operando.cli``: the same as the ``operando`` command."""

from . import app

app()
