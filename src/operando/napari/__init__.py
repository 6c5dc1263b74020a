"""operando in napari: readers, a writer, generated sample data and widgets (``pip install operando[napari]``).

The plugin is declared in ``napari.yaml`` (npe2) beside this file. Importing this package imports neither napari
nor Qt nor torch: every contribution imports what it needs when napari calls it.
"""

from __future__ import annotations

__all__: list[str] = []
