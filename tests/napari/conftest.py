"""napari tests: skipped as a whole without napari and pytest-qt; viewer tests skipped without a display.

pytest-xvfb starts a virtual X server for the session (``Xvfb`` from Debian's ``xvfb`` package); napari's pytest
plugin gives ``make_napari_viewer`` and pytest-qt gives ``qtbot``.
"""

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("napari", reason="napari is not installed (pip install operando[napari])")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (pip install operando[napari])")

#: Fixtures that need a screen (a real or virtual X server).
DISPLAY_FIXTURES = {"make_napari_viewer", "make_napari_viewer_proxy", "qtbot", "napari_viewer", "viewer_model"}
#: The real instrument files (read in place, never copied into the repository).
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _display_missing() -> str | None:
    """Return why no display can be made, or None when there is one."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        if os.environ.get("QT_QPA_PLATFORM", "") not in ("offscreen", "minimal"):
            return "no display (install xvfb: pytest-xvfb starts it) - napari viewer tests skipped"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _display_missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if DISPLAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real instrument files); skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not here")
    return SHARED_DATA
