"""The house rules, enforced: floors (import-linter), no cross-package private imports, ruff, short functions."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "operando"
GROUND = {"_stack", "_errors", "_files", "_progress", "_regions", "_provenance", "_units"}


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(src), "PATH": ""})


def test_import_linter_contracts_are_kept():
    out = _lint_imports(ROOT, ROOT / "src")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _lint_with_planted_import(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """Run import-linter on a copy of the package with ``line`` appended to ``module`` (a path under operando/)."""
    shutil.copytree(SRC, tmp_path / "src" / "operando", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = tmp_path / "src" / "operando" / module
    planted.write_text(planted.read_text() + "\n" + line + "\n")
    return _lint_imports(tmp_path, tmp_path / "src")


@pytest.mark.parametrize("module, line, importer, imported", [
    ("metrics/__init__.py", "from ..workflows import scale  # a job importing a workflow", "operando.metrics",
     "operando.workflows"),
    ("workflows/compare.py", "from ..bench import demo  # a pipeline importing a benchmark", "operando.workflows",
     "operando.bench"),
])
def test_a_wrong_way_import_breaks_the_floors(tmp_path, module, line, importer, imported):
    out = _lint_with_planted_import(tmp_path, module, line)
    assert out.returncode != 0
    assert importer in out.stdout and imported in out.stdout


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else ""


def test_no_package_imports_another_packages_private_module():
    bad = []
    for path, tree in _modules():
        own = _package_of(path)
        depth = len(path.relative_to(SRC).parts) - 1
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.level:
                base = list(path.relative_to(SRC).parts[:depth])[: max(depth - node.level + 1, 0)]
                target = [*base, *node.module.split(".")]
            elif node.module.startswith("operando."):
                target = node.module.split(".")[1:]
            else:
                continue
            if not target or target[0] == own or target[0] in GROUND:
                continue
            if any(part.startswith("_") for part in target[1:]):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {'.'.join(target)}")
    assert not bad, "\n".join(bad)


JOB_TESTS = ("io", "simulate", "noise", "metrics", "denoise", "inverse", "report", "xray", "neutron", "optical")


def test_tests_of_job_packages_do_not_import_the_benchmark_floor():
    bad = [f"{path.relative_to(ROOT)}" for job in JOB_TESTS for path in sorted((ROOT / "tests" / job).glob("*.py"))
           if "operando.bench" in path.read_text(encoding="utf-8")]
    assert not bad, "move these to tests/bench/ (they score against a truth): " + ", ".join(bad)


def test_no_module_longer_than_600_lines():
    long = [f"{path.relative_to(ROOT)} ({n} lines)" for path in sorted(SRC.rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600]
    assert not long, "split these modules: " + ", ".join(long)


def test_no_function_longer_than_80_lines():
    """Count a function's lines from its signature to its end, leaving out its docstring."""
    long = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
                    n -= first.end_lineno - first.lineno + 1
                if n > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "\n".join(long)


def test_ruff_is_clean_on_src():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    out = subprocess.run([ruff, "check", "--no-cache", str(SRC)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:]


PACKAGES = ["operando", "operando.io", "operando.simulate", "operando.noise", "operando.metrics",
            "operando.denoise", "operando.inverse", "operando.report", "operando.xray", "operando.neutron",
            "operando.optical"]


def test_every_public_function_documents_parameters_and_returns():
    import importlib
    import inspect

    missing = []
    for name in PACKAGES:
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public)
            if not inspect.isfunction(obj):
                continue
            doc = inspect.getdoc(obj) or ""
            needs_params = bool(inspect.signature(obj).parameters)
            if (needs_params and "Parameters\n----------" not in doc) or (
                    "Returns\n-------" not in doc and "Yields\n------" not in doc):
                missing.append(f"{name}.{public}")
    assert not missing, "public functions without numpy Parameters/Returns sections: " + ", ".join(missing)
