"""The optical pipeline's shared spellings and protocols: regions, the auto denoiser's record, cancel."""

import json
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from operando import Cancelled, InputError
from operando._regions import Region
from operando.cli import app
from operando.workflows.optical import OpticalConfig, analyze_video, write_analysis, write_phantom

runner = CliRunner()


# ---------------------------------------------------------------------------------------------------------------
# Regions: one spelling, 'y0:y1,x0:x1'
# ---------------------------------------------------------------------------------------------------------------


def test_regions_are_spelled_y0_y1_x0_x1_and_the_old_list_is_refused_with_the_new_spelling_named():
    assert OpticalConfig(white_region="2:10, 3:12").white_region == "2:10,3:12"
    assert OpticalConfig(white_region=Region(2, 10, 3, 12)).white_region == "2:10,3:12"  # built in Python
    with pytest.raises(ValidationError, match=r"white_region '\[2, 10, 3, 12\]': that spelling is no longer read; "
                                              r"give rows and columns as 'y0:y1,x0:x1'"):
        OpticalConfig(white_region=[2, 10, 3, 12])
    with pytest.raises(ValidationError, match="no longer read.*'y0:y1,x0:x1'"):
        OpticalConfig(white_region="2:10:3:12")  # STXM's old spelling
    with pytest.raises(ValidationError, match="non-empty"):
        OpticalConfig(white_region="10:2,3:12")
    ok = OpticalConfig(stages={"III": {"frame": 1, "region": "0:5,0:5"}})
    assert ok.stages["III"]["region"] == "0:5,0:5"
    with pytest.raises(ValidationError, match=r"stage III: region '\[0, 5, 0, 5\]': that spelling is no longer read.*"
                                              "'y0:y1,x0:x1'"):
        OpticalConfig(stages={"III": {"frame": 0, "region": [0, 5, 0, 5]}})


def test_the_white_region_is_the_rows_and_columns_it_names(tiny_phantom):
    """The region's pixels (rows y0:y1, columns x0:x1) are the neutral ones: a region outside the frame is refused,
    and regions of other pixels give other white balances."""
    video = tiny_phantom.video
    with pytest.raises(InputError, match="reaches outside"):
        analyze_video(video, config=OpticalConfig(white_region="0:10,90:97"))
    first = analyze_video(video, config=OpticalConfig(white_region="0:6,0:6"))
    other = analyze_video(video, config=OpticalConfig(white_region="0:6,90:96"))
    assert not np.allclose(first.correction.white, 1)
    assert not np.allclose(first.correction.white, other.correction.white)
    assert first.config["white_region"] == "0:6,0:6"


# ---------------------------------------------------------------------------------------------------------------
# auto: the choice made once by denoise(), recorded in analysis.json
# ---------------------------------------------------------------------------------------------------------------


def test_the_denoiser_is_checked_by_the_method_table_and_auto_and_none_are_taken(tmp_path):
    assert OpticalConfig(denoise="auto").denoise == "auto" and OpticalConfig(denoise="none").denoise == "none"
    with pytest.raises(ValidationError, match="denoise 'bogus' is not a denoising method; choose one of none, auto, "
                                              "video"):
        OpticalConfig(denoise="bogus")
    for command in (["optical", "analyze", str(tmp_path / "v.tif"), "-o", str(tmp_path / "a"), "--denoise", "bogus"],
                    ["optical", "demo", "-o", str(tmp_path / "d"), "--denoise", "bogus"],
                    ["benchmark", "optical", "-o", str(tmp_path / "b"), "--denoiser", "bogus"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "'bogus' is not a denoising method; choose one of none, auto" in " ".join(
            result.output.split()), result.output
        assert not any(tmp_path.iterdir())  # refused before anything is read or written


def test_auto_records_the_choice_and_its_reason_in_analysis_json(tiny_phantom, tmp_path, monkeypatch):
    """denoise() makes the choice once (here a stand-in for the measurement: gaussian, fast); the pipeline copies
    denoise()'s record of it into analysis.json and the report, and never measures again."""
    import operando.denoise._auto as auto_module

    calls = []

    def choose(data, *, axes=None):
        calls.append(data.shape)
        return auto_module.AutoChoice("gaussian", "the test's reason", {}, {"sigma": 0.1})

    monkeypatch.setattr(auto_module, "choose_method", choose)
    result = analyze_video(tiny_phantom.video, config=OpticalConfig(denoise="auto", seed=0))
    assert calls == [(8, 96, 96, 3)]  # one choice, on the colour video
    assert result.denoise_record["method"] == "gaussian"
    assert result.denoise_record["auto"] == {"method": "gaussian", "reason": "the test's reason", "settings": {},
                                             "noise": {"sigma": 0.1}}
    write_analysis(result, tmp_path / "a", source=tiny_phantom.video)
    record = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert record["config"]["denoise"] == "auto"
    assert record["denoise"]["auto"]["method"] == "gaussian"
    assert record["denoise"]["auto"]["reason"] == "the test's reason"
    assert "auto chose gaussian (the test's reason)" in (tmp_path / "a" / "report.md").read_text()


@pytest.mark.slow
def test_auto_on_a_colour_video_measures_the_noise_and_records_why(tiny_phantom, tmp_path):
    result = analyze_video(tiny_phantom.video, config=OpticalConfig(denoise="auto", time_budget_s=2, seed=0))
    choice = result.denoise_record["auto"]
    assert choice["method"] == "video" and "between frames" in choice["reason"]
    write_analysis(result, tmp_path / "a", source=tiny_phantom.video)
    record = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert record["denoise"]["auto"]["reason"] == choice["reason"]


def test_a_named_denoiser_is_recorded_without_an_auto_entry(tiny_phantom, tmp_path):
    result = analyze_video(tiny_phantom.video, config=OpticalConfig(denoise="gaussian", seed=0))
    write_analysis(result, tmp_path / "a", source=tiny_phantom.video)
    record = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert record["denoise"]["method"] == "gaussian" and "auto" not in record["denoise"]


# ---------------------------------------------------------------------------------------------------------------
# Cancel: a stop asked from the progress callback is honoured within 5 s and leaves no output
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def longer_video():
    """A phantom whose analysis takes several seconds (so that a stop one second in lands in the middle)."""
    from operando.optical import simulate_graphite_phantom

    return simulate_graphite_phantom(shape=(192, 192), n_particles=60, n_frames=24, rng=0).video


def _stop_when_asked():
    """Return (callback, ask, events): the callback raises Cancelled once ``ask`` is set."""
    ask, events = threading.Event(), []

    def callback(event):
        events.append(event)
        if ask.is_set():
            raise Cancelled("asked to stop")

    return callback, ask, events


@pytest.mark.parametrize("denoise", ["none", "gaussian"])
def test_analyze_video_stops_within_5_s_of_a_cancel_and_writes_nothing(longer_video, tmp_path, denoise):
    callback, ask, events = _stop_when_asked()
    asked = {}

    def ask_in_a_second():
        time.sleep(1.0)
        asked["at"] = time.monotonic()
        ask.set()

    threading.Thread(target=ask_in_a_second, daemon=True).start()
    out = tmp_path / "analysis"
    with pytest.raises(Cancelled):
        result = analyze_video(longer_video, config=OpticalConfig(denoise=denoise, seed=0), progress=callback)
        write_analysis(result, out, source=longer_video)  # never reached: nothing is written
    stopped = time.monotonic()
    assert stopped - asked["at"] < 5.0
    assert not out.exists()
    assert events and all(e.fraction != e.fraction or 0.0 <= e.fraction <= 1.0 for e in events)


def test_the_cli_stopped_during_the_analysis_exits_130_and_leaves_no_output(tiny_phantom, tmp_path, monkeypatch):
    import operando.cli._optical as cli

    seen = []

    @contextmanager
    def stop_at_the_labels(description):
        def update(event):
            seen.append(event.message)
            if event.fraction == event.fraction and event.fraction >= 0.7:
                raise Cancelled("stopped by the test")

        yield update

    write_phantom(tiny_phantom, tmp_path / "ph")
    monkeypatch.setattr(cli, "progress_bar", stop_at_the_labels)
    out = tmp_path / "new" / "a"
    result = runner.invoke(app, ["optical", "analyze", str(tmp_path / "ph" / "video.tif"), "-o", str(out)])
    assert result.exit_code == 130, result.output
    assert any("carrying" in m for m in seen)
    assert not out.exists()


def test_the_phantom_reports_each_frame_and_stops_when_asked():
    from operando.optical import simulate_graphite_phantom

    events = []
    simulate_graphite_phantom(shape=(48, 48), n_particles=4, n_frames=5, rng=0, progress=events.append)
    assert [e.message for e in events][:5] == [f"painting frame {t}/5" for t in range(1, 6)]
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)

    def stop_at_frame_3(event):
        if event.message == "painting frame 3/5":
            raise Cancelled("enough")

    with pytest.raises(Cancelled, match="enough"):
        simulate_graphite_phantom(shape=(48, 48), n_particles=4, n_frames=5, rng=0, progress=stop_at_frame_3)
