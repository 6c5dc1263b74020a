import json

import pytest
from typer.testing import CliRunner

from operando.bench.demo import DemoConfig, run_demo
from operando.cli import app
from operando.inverse import FIT_STATUSES


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    return folder, run_demo(folder, config=DemoConfig.quick(method="gaussian"))


def test_quick_demo_writes_a_report_and_denoising_helps(quick_demo):
    folder, result = quick_demo
    for name in ("report.md", "report.html", "frames.png", "psnr_per_frame.png", "clean.tif", "noisy.tif",
                 "denoised.tif", "metrics.json", "config.json"):
        assert (folder / name).exists(), name
    rows = {r["name"]: r for r in result.rows}
    assert rows["gaussian"]["psnr_db"] > rows["noisy"]["psnr_db"] + 5
    assert json.loads((folder / "config.json").read_text())["seed"] == 0
    assert "PSNR" in result.report.read_text()
    physics = {r["data"]: r for r in result.physics["rows"]}
    assert physics["clean"]["status"] == "converged"
    assert physics["clean"]["mu_h_rel_l2"] < 0.05  # learned back from the clean video
    assert (folder / "physics.png").exists()


def test_issue_15_the_demo_never_reports_a_fit_that_did_not_move_as_a_result(quick_demo):
    # the demo's truth (ln D = 0.5 (2c - 1)) differs from the fit's starting guess (ln D = 0): a fit that stays
    # at its start shows the start's error, never 0, and every fit says how it ended, in the table and report
    folder, result = quick_demo
    assert result.physics["config"]["n_d"] == 2
    text = result.report.read_text()
    for row in result.physics["rows"]:
        assert row["status"] in FIT_STATUSES
        assert row["mobility_rel_l2"] > 1e-3, row  # the truth's mobility is not the starting guess
        assert f"| {row['status']} |" in text
    metrics = json.loads((folder / "metrics.json").read_text())
    assert [r["status"] for r in metrics["physics"]["rows"]] == [r["status"] for r in result.physics["rows"]]


def test_demo_cli_quick_prints_each_table_once(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--quick", "--method", "gaussian", "--no-learn", "-o", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "d" / "report.md").exists()
    assert r.output.count("denoising (data range 1)") == 1  # the output is not a terminal here
