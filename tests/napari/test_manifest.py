"""The npe2 manifest: valid, installed, and naming only things that exist and that operando really reads/writes."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

npe2 = pytest.importorskip("npe2")

import operando.napari  # noqa: E402
from operando.io import FORMATS, format_of  # noqa: E402

MANIFEST = Path(operando.napari.__file__).with_name("napari.yaml")


@pytest.fixture(scope="module")
def manifest():
    return npe2.PluginManifest.from_file(MANIFEST)


def test_manifest_is_valid_and_installed(manifest):
    assert manifest.name == "operando"
    installed = npe2.PluginManifest.from_distribution("operando")
    assert installed.name == "operando" and {c.id for c in installed.contributions.commands} == {
        c.id for c in manifest.contributions.commands}


def test_npe2_validate_command_accepts_the_plugin():
    done = subprocess.run([sys.executable, "-m", "npe2", "validate", "operando"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_every_python_name_whose_module_exists_imports(manifest):
    package = Path(operando.napari.__file__).parent
    missing, broken = [], []
    for command in manifest.contributions.commands:
        module, _, name = command.python_name.partition(":")
        if not (package / f"{module.rsplit('.', 1)[-1]}.py").is_file():
            missing.append(command.python_name)
            continue
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            broken.append(f"{command.python_name}: {exc}")
    assert not broken, f"python_names that do not import: {broken} (modules not written yet: {missing})"
    assert len(missing) < len(manifest.contributions.commands), "no module of the manifest exists"


def test_reader_patterns_are_formats_operando_reads(manifest):
    (reader,) = manifest.contributions.readers
    assert reader.accepts_directories
    for pattern in reader.filename_patterns:
        ending = pattern.lstrip("*")
        if ending in (".xim", ".xsp"):  # an STXM image or spectrum file: the reader opens its header
            continue
        fmt, _, _ = format_of(f"file{ending}")
        assert fmt.name in {f.name for f in FORMATS}


def test_writer_endings_are_formats_operando_writes(manifest):
    (writer,) = manifest.contributions.writers
    assert writer.layer_types == ["image+"]
    for ending in writer.filename_extensions:
        assert format_of(f"file{ending}")[0].writable, ending


def test_sample_commands_are_the_sample_functions(manifest):
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    keys = {s.key: commands[s.command] for s in manifest.contributions.sample_data}
    assert keys == {key: f"operando.napari._sample:{key}" for key in ("cahn_hilliard", "stxm", "neutron", "optical")}
