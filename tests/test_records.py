"""Every output's record names the versions that made it (issue 32), beside its configuration and seed.

Each case runs one command on tiny inputs and checks the record it writes: ``versions`` with operando, numpy and torch
(and jax for the physics and kinetics fits), plus the configuration and the seed where the command has them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import Metadata, Stack
from operando.cli import app
from operando.io import write

runner = CliRunner()


def _run(*args: object) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _embedded_record(path: Path) -> dict[str, Any]:
    """The operando record a TIFF carries (tifffile's shaped or ImageJ metadata, or a JSON description)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        holders = [*(tif.shaped_metadata or ()), tif.imagej_metadata or {}]
        texts = [t.value for t in tif.pages.first.tags.values() if isinstance(t.value, str)]
    for holder in holders:
        record = holder.get("operando")
        record = json.loads(record) if isinstance(record, str) else record
        if isinstance(record, dict):
            return record
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("operando"), dict):
            return value["operando"]
    raise AssertionError(f"{path}: no operando record in the TIFF")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A tiny clean Cahn-Hilliard video and a noisy copy (seconds)."""
    folder = tmp_path_factory.mktemp("records")
    _run("simulate", "-o", folder / "clean.tif", "--size", "32", "--frames", "8", "--seed", "0")
    _run("corrupt", folder / "clean.tif", "-o", folder / "noisy.tif", "--noise", "gaussian:0.1", "--seed", "1")
    return folder


# Each case: (inputs folder, own folder) -> (record, where its config is, where its seed is, uses jax).
Case = Callable[[Path, Path], tuple[dict[str, Any], str | None, str | None, bool]]


def _denoise(data: Path, out: Path):
    _run("denoise", data / "noisy.tif", "-o", out / "g.tif", "--method", "gaussian")
    record = _embedded_record(out / "g.tif")
    from operando.io import read

    extra = read(out / "g.tif").metadata.extra
    if "versions" not in record and "versions" in extra:  # the reader's metadata.extra is the other place
        record = {**record, "versions": extra["versions"]}
    assert record["extra"]["denoise"]["method"] == "gaussian"
    return record, None, None, False


def _train(data: Path, out: Path):
    _run("train", data / "noisy.tif", "-o", out / "m", "--max-steps", "3", "--method", "n2v2", "--seed", "4")
    record = _json(out / "m.json")
    assert record["seed"] == 4
    return record, "config", "seed", False


def _stxm(data: Path, out: Path):
    from operando.xray import PhantomConfig, make_phantom, write_phantom

    phantom = make_phantom(PhantomConfig(size=32, frames=1, n_particles=1, i0_counts=400, ch_dt=1e-4, seed=3))
    scan = write_phantom(phantom, out / "scan")["nxstxm"]
    _run("stxm", "composition", scan, "-o", out / "x.tif")
    return _json(out / "x.json"), "config", "seed", False


def _neutron(data: Path, out: Path):
    from operando.bench.neutron_demo import write_phantom

    ph = write_phantom(out / "ph", rng=1, ny=16, nx=48, n_cycles=1, frames_per_half_cycle=3)
    _run("neutron", "analyze", ph["sample"], "--open-beam", ph["open_beam"], "--dark", ph["dark"],
         "--regions", ph["regions"], "--reference-frame", "0:2", "--denoise", "none", "--seed", "2",
         "-o", out / "run")
    record = _json(out / "run" / "metrics.json")
    assert record["seed"] == 2
    return record, "configuration", "seed", False


def _optical(data: Path, out: Path):
    from operando.optical import simulate_graphite_phantom
    from operando.workflows.optical import write_phantom

    phantom = simulate_graphite_phantom(shape=(64, 64), n_particles=5, n_frames=4, radius_px=7.0, rng=3)
    files = write_phantom(phantom, out / "ph")
    assert "versions" in _json(files["config"]) and _json(files["config"])["seed"] == 3
    _run("optical", "analyze", files["video"], "-o", out / "a", "--denoise", "none")
    return _json(out / "a" / "analysis.json"), "config", "seed", False


def _learn_ch(data: Path, out: Path):
    _run("learn", data / "clean.tif", "-o", out / "r.json", "--n-mu", "1", "--n-d", "1", "--window", "2",
         "--time-budget", "5", "--seed", "5")
    record = _json(out / "r.json")
    assert record["settings"]["seed"] == 5
    return record, "settings.config", "settings.seed", True


def _learn_acr(data: Path, out: Path):
    _run("simulate", "--model", "acr", "--size", "48", "--particles", "1", "--frames", "8", "--seed", "0",
         "-o", out / "sim")
    truth = _json(out / "sim" / "truth.json")
    assert {"operando", "numpy", "torch", "jax"} <= set(truth["versions"])
    _run("learn", out / "sim" / "noisy.tif", "--model", "acr", "-o", out / "fit", "--k-modes", "3",
         "--n-mu", "2", "--time-budget", "5", "--seed", "6")
    record = _json(out / "fit" / "kinetics.json")
    assert record["seed"] == 6
    return record, "config", "seed", True


def _kinetics_record(data: Path, out: Path):
    """What ``learn --model acr`` writes, without its fit (tens of seconds of compiling: the slow case above)."""
    from types import SimpleNamespace

    from operando.workflows.kinetics._files import record

    result = SimpleNamespace(to_dict=lambda: {"model": "acr", "config": {"model": "acr"}, "seed": 6})
    run = SimpleNamespace(result=result, sigma_source="given", inputs={}, source="noisy.tif", pixel_size=1.0,
                          pixel_unit="px")
    return record(run), "config", "seed", True


def _txm(data: Path, out: Path):
    energies = np.linspace(8320.0, 8380.0, 13)
    edge = 1.0 / (1.0 + np.exp(-(energies - 8333.0) / 2.0))
    od = (0.1 + 0.5 * edge[:, None, None] * np.ones((1, 16, 16))).astype(np.float32)
    write(Stack(od, "EYX", Metadata(energies=tuple(energies), pixel_size=0.03)), out / "od.tif")
    _run("txm", "edge", out / "od.tif", "-o", out / "maps.tif", "--pre-edge", "8320:8320", "--post-edge",
         "8350:8380", "--bootstrap", "3", "--seed", "3")
    record = _json(out / "maps.json")
    assert record["seed"] == 3
    return record, "config", "seed", False


def _compare(data: Path, out: Path):
    _run("compare", data / "noisy.tif", data / "clean.tif", "--reference", data / "clean.tif", "--json",
         out / "rows.json")
    record = _json(out / "rows.json")
    assert record["config"]["normalise"] == "none"
    return record, "config", None, False


def _diagnose(data: Path, out: Path):
    _run("diagnose", data / "noisy.tif", "--json", out / "d.json")
    return _json(out / "d.json"), None, None, False


def _evaluate(data: Path, out: Path):
    _run("evaluate", "--clean", data / "clean.tif", data / "noisy.tif", "--json", out / "e.json")
    return _json(out / "e.json"), None, None, False


def _corrupt(data: Path, out: Path):
    """``operando corrupt``: the noisy TIFF's record holds the noise spec and the seed (its help says so)."""
    from operando.io import read

    record = _embedded_record(data / "noisy.tif")
    extra = read(data / "noisy.tif").metadata.extra
    assert extra["corrupt"] == {"noise": "gaussian:0.1", "seed": 1} == record["extra"]["corrupt"]
    return record, None, "extra.corrupt.seed", False


def _neutron_phantom_truth(data: Path, out: Path):
    _run("neutron", "phantom", "-o", out / "ph", "--frames-per-half-cycle", "2", "--cycles", "1", "--seed", "4")
    regions = _json(out / "ph" / "regions.json")  # read back by "neutron analyze" in the case above
    assert regions["seed"] == 4 and {"operando", "numpy", "torch"} <= set(regions["versions"])
    record = _json(out / "ph" / "truth" / "truth.json")
    assert record["seed"] == 4
    return record, "configuration", "seed", False


def _neutron_variability(data: Path, out: Path):
    _run("neutron", "variability", data / "noisy.tif", "--json", out / "v.json")
    return _json(out / "v.json"), None, None, False


def _optical_score(data: Path, out: Path):
    from operando.optical import simulate_graphite_phantom
    from operando.workflows.optical import write_phantom

    phantom = simulate_graphite_phantom(shape=(48, 48), n_particles=3, n_frames=3, radius_px=6.0, rng=2)
    files = write_phantom(phantom, out / "ph")
    _run("optical", "analyze", files["video"], "-o", out / "a", "--denoise", "none")
    _run("optical", "score", out / "a", "--truth", files["labels"].parent)
    record = _json(out / "a" / "score.json")
    assert "instance" in record
    return record, None, None, False


def _benchmark_denoise(data: Path, out: Path):
    from operando.bench.denoise import benchmark_denoisers

    benchmark_denoisers(out, size=32, n_frames=6, noises=["gaussian:0.1"], methods=["gaussian"], scanline=None,
                        seed=3)
    record = _json(out / "denoise_benchmark.json")
    assert record["settings"]["seed"] == 3
    return record, "settings", "settings.seed", False


def _benchmark_correlated(data: Path, out: Path):
    from operando.bench.correlated import benchmark_correlated

    benchmark_correlated(out, scenes=["camera"], noises=["gaussian:0.05"], methods=["gaussian"], size=40, seed=2)
    return _json(out / "correlated_benchmark.json"), None, "seed", False


def _demo(data: Path, out: Path):
    from operando.bench.demo import DemoConfig, run_demo

    run_demo(out, config=DemoConfig.quick(method="gaussian", learn=False, size=16, n_frames=8))
    return _json(out / "metrics.json"), "config", "seed", False


def _benchmark_sweep(data: Path, out: Path):
    from operando.bench.denoise import sweep_train_settings

    sweep_train_settings(["max_steps=2"], size=16, n_frames=8, time_budget_s=5, method="n2v2", seed=1, output=out)
    return _json(out / "sweep.json"), "video", "video.seed", False


def _benchmark_scale(data: Path, out: Path):
    from operando.bench.scale import run_scale_benchmark

    run_scale_benchmark(out, frames=0, size=32, base=8)  # the stack and the model only: no streamed child
    return _json(out / "scale.json"), "config", None, False


def _benchmark_neutron(data: Path, out: Path):
    from operando.bench.neutron import run_benchmark

    run_benchmark(out, time_budget_s=5, seed=2, targets=("delta_a",), max_steps=2, data_dir=None, ny=24, nx=64,
                  n_cycles=1, frames_per_half_cycle=3)
    record = _json(out / "neutron_benchmark.json")
    return record, "configuration", "configuration.seed", False


def _benchmark_physics_family(data: Path, out: Path):
    from operando.bench.physics import benchmark_physics_family

    benchmark_physics_family(out, variants=1, family_seed=5, size=16, n_frames=8, denoisers=[], bootstrap=0,
                             n_mu=1, n_d=1, window=2, fit_budget_s=5)
    return _json(out / "family.json"), "settings", "seed", False


def _benchmark_stxm(data: Path, out: Path):
    from operando.bench.stxm import BenchmarkConfig, benchmark_stxm
    from operando.xray import PhantomConfig

    cfg = BenchmarkConfig(phantom=PhantomConfig(size=32, frames=1, n_particles=1, seed=3), extra_methods=[],
                          bias_draws=0, seed=3)
    benchmark_stxm(out, config=cfg)
    return _json(out / "results.json"), "config", "seed", False


def _benchmark_stxm_family(data: Path, out: Path):
    from operando.bench.stxm import BenchmarkConfig
    from operando.bench.stxm_family import benchmark_stxm_family
    from operando.xray import PhantomConfig

    cfg = BenchmarkConfig(phantom=PhantomConfig(size=32, frames=1, n_particles=1, seed=3), extra_methods=[],
                          bias_draws=0, seed=3)
    benchmark_stxm_family(out, variants=1, config=cfg)
    return _json(out / "results.json"), "config", "seed", False


def _stxm_demo(data: Path, out: Path):
    from operando.bench.stxm import run_demo

    run_demo(out, quick=True, method="tv", rng=4)
    return _json(out / "demo.json"), "phantom", "seed", False


def _benchmark_real(data: Path, out: Path):
    from operando.bench.real import DEFAULT_DATA, benchmark_real

    if not Path(DEFAULT_DATA).is_dir():
        pytest.skip(f"no step-wedge data at {DEFAULT_DATA}")
    benchmark_real(out, methods=["gaussian"], crop=64, seed=1)
    return _json(out / "real_benchmark.json"), None, "seed", False


def _slow(case: Case, name: str) -> Any:
    return pytest.param(case, marks=pytest.mark.slow, id=name)


CASES: dict[str, Any] = {
    "denoise": _denoise, "train": _train, "stxm composition": _stxm, "neutron analyze": _neutron,
    "optical analyze": _optical,
    "learn ch": _learn_ch, "learn acr": pytest.param(_learn_acr, marks=pytest.mark.slow, id="learn acr"),
    "kinetics record": _kinetics_record, "txm edge": _txm, "compare": _compare,
    "diagnose": _diagnose, "evaluate": _evaluate,
    "corrupt": _corrupt, "neutron phantom": _neutron_phantom_truth, "neutron variability": _neutron_variability,
    "optical score": _optical_score, "benchmark denoise": _benchmark_denoise,
    "benchmark correlated": _benchmark_correlated, "demo": _demo,
    **{name: _slow(case, name) for name, case in {
        "benchmark sweep": _benchmark_sweep, "benchmark scale": _benchmark_scale,
        "benchmark neutron": _benchmark_neutron, "benchmark physics family": _benchmark_physics_family,
        "benchmark stxm": _benchmark_stxm, "benchmark stxm family": _benchmark_stxm_family,
        "stxm demo": _stxm_demo, "benchmark real": _benchmark_real}.items()},
}


def _at(record: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        assert key in record, f"no {dotted!r} in the record (keys: {sorted(record)})"
        record = record[key]
    return record


@pytest.mark.parametrize("case", [c if not callable(c) else pytest.param(c, id=name) for name, c in CASES.items()])
def test_every_record_names_the_versions_beside_its_config_and_seed(case: Case, inputs: Path, tmp_path: Path):
    record, config, seed, uses_jax = case(inputs, tmp_path)
    versions = record.get("versions")
    assert isinstance(versions, dict), f"no versions in the record (keys: {sorted(record)})"
    assert {"operando", "numpy", "torch"} <= set(versions)
    assert versions["operando"] and versions["numpy"]
    if uses_jax:
        assert "jax" in versions
    if config is not None:
        assert isinstance(_at(record, config), dict)
    if seed is not None:
        assert isinstance(_at(record, seed), int)


def test_one_versions_helper():
    """No private copy of a versions helper is left in the package (``operando._provenance.versions`` is the one)."""
    src = Path(__file__).resolve().parents[1] / "src" / "operando"
    copies = [p for p in src.rglob("*.py") if "def _versions(" in p.read_text(encoding="utf-8")]
    assert not copies, copies
