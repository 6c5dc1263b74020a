"""Import hygiene: operando and its napari package import neither napari nor Qt nor torch (nor JAX)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "torch", "magicgui", "vispy")


def _loaded_after(code: str) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return [m for m in modules if m.split(".")[0] in HEAVY]


@pytest.mark.parametrize("code", [
    "import operando, operando.napari",
    # the reader, writer, layer conversion and samples are plain Python until napari calls them
    "import operando.napari._layers, operando.napari._reader, operando.napari._writer, operando.napari._sample",
])
def test_importing_the_plugin_loads_no_gui_and_no_torch(code):
    assert _loaded_after(code) == []


def test_plugin_modules_load_no_jax_until_a_sample_runs():
    done = subprocess.run([sys.executable, "-c", "import operando.napari._sample, operando.napari._reader, sys, json;"
                           "print(json.dumps('jax' in sys.modules))"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout.strip()) is False, done.stderr
