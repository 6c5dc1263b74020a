"""The neutron pipeline stops when asked (no partial output) and records what ``auto`` chose, and why."""

import json
import time

import pytest

from operando import Cancelled
from operando.bench.neutron_demo import write_phantom
from operando.workflows.neutron import AnalysisConfig, analyze_files


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    """A 40 x 64 phantom of one cycle (14 frames) as a user's files."""
    return write_phantom(tmp_path_factory.mktemp("ph"), rng=1, ny=40, nx=64, n_cycles=1, frames_per_half_cycle=5)


def _analyze(files, out, config, progress=None):
    return analyze_files(files["sample"], out, config=config, open_beam=files["open_beam"], dark=files["dark"],
                         regions=files["regions"], cycler=files["cycler"], progress=progress)


@pytest.mark.parametrize("stage", ["denoise: video", "mean correction"])
def test_a_cancelled_analysis_stops_within_seconds_and_writes_nothing(phantom_files, tmp_path, stage):
    """The stop is asked at the first report of ``stage`` and honoured at a later report."""
    asked: list[float] = []
    seen: list[str] = []

    def stop(event, *old):  # a report in the old (fraction, message) form still counts
        message = old[0] if old else event.message
        seen.append(message)
        if asked:
            raise Cancelled("stopped by the test")
        if stage in message:
            asked.append(time.monotonic())

    out = tmp_path / "out"
    config = AnalysisConfig(reference=(0, 4), time_budget_s=120, max_steps=400 if "denoise" in stage else 5, seed=0)
    with pytest.raises(Cancelled):
        _analyze(phantom_files, out, config, progress=stop)
    stopped = time.monotonic()
    assert asked, f"no report of {stage!r}: {seen[-5:]}"
    assert stopped - asked[0] < 5.0, seen[-5:]
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]


def test_auto_records_the_choice_and_its_reason_in_metrics_json(phantom_files, tmp_path):
    config = AnalysisConfig(reference=(0, 4), denoise="auto", time_budget_s=60, max_steps=3, seed=0)
    analysis, document = _analyze(phantom_files, tmp_path / "out", config)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())["denoised"]
    auto = saved["auto"]
    assert auto == analysis.denoiser["auto"] == document["denoised"]["auto"]  # denoise()'s own record, copied
    assert auto["method"] == saved["method"] and saved["requested"] == "auto"
    assert auto["reason"] and "noise" in auto  # the choice, why, and the measurement behind it
    assert saved["what"] == "transmission"
