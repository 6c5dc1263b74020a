import json

from typer.testing import CliRunner

from operando.cli import app
from operando.workflows.demo import DemoConfig, run_demo


def test_quick_demo_writes_a_report_and_denoising_helps(tmp_path):
    result = run_demo(tmp_path / "demo", config=DemoConfig.quick(method="gaussian"))
    for name in ("report.md", "report.html", "frames.png", "psnr_per_frame.png", "clean.tif", "noisy.tif",
                 "denoised.tif", "metrics.json", "config.json"):
        assert (tmp_path / "demo" / name).exists(), name
    rows = {r["name"]: r for r in result.rows}
    assert rows["gaussian"]["psnr_db"] > rows["noisy"]["psnr_db"] + 5
    assert json.loads((tmp_path / "demo" / "config.json").read_text())["seed"] == 0
    assert "PSNR" in result.report.read_text()
    physics = {r["data"]: r for r in result.physics["rows"]}
    assert physics["clean"]["mu_h_rel_l2"] < 0.05  # learned back from the clean video
    assert (tmp_path / "demo" / "physics.png").exists()


def test_demo_cli_quick(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--quick", "--method", "gaussian", "--no-learn", "-o", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "d" / "report.md").exists()
