"""The STXM pipeline's contracts: cancel from the progress callback, the auto record, the I0 region spelling,
the stages computed once, and the split estimator with any OD function and denoiser passed in."""

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from operando import Cancelled, InputError, ProgressEvent
from operando.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def phantom():
    from operando.xray import PhantomConfig, make_phantom

    return make_phantom(PhantomConfig(size=32, frames=2, n_particles=1, i0_counts=400, ch_dt=1e-4, seed=3))


@pytest.fixture(scope="module")
def scan(phantom, tmp_path_factory):
    from operando.xray import write_phantom

    out = tmp_path_factory.mktemp("scan")
    return write_phantom(phantom, out)["nxstxm"]


def _cancel_on(word: str, events: list):
    """A progress callback that records the events and raises Cancelled at the first one whose message has ``word``."""
    def callback(event: ProgressEvent) -> None:
        assert isinstance(event, ProgressEvent)
        events.append((time.perf_counter(), event))
        if word in event.message:
            raise Cancelled(f"stopped at {event.message!r}")

    return callback


@pytest.mark.parametrize(("denoise", "word"), [("none", ""), ("tv", "joint TV")])
def test_run_composition_stops_within_5_s_when_its_progress_callback_cancels(phantom, denoise, word):
    from operando.workflows.stxm import CompositionConfig, run_composition

    events: list = []
    with pytest.raises(Cancelled):
        run_composition(phantom.counts, config=CompositionConfig(denoise=denoise), progress=_cancel_on(word, events))
    stopped = time.perf_counter()
    assert events and word in events[-1][1].message
    assert stopped - events[-1][0] < 5.0
    assert all(0.0 <= e.fraction <= 1.0 for _, e in events if e.fraction == e.fraction)


def test_cli_composition_cancelled_writes_no_output(scan, tmp_path, monkeypatch):
    import operando.workflows.stxm as stxm

    real = stxm.run_composition
    events: list = []

    def cancelled_run(counts, *, config=None, progress=None):
        return real(counts, config=config, progress=_cancel_on("", events))

    monkeypatch.setattr(stxm, "run_composition", cancelled_run)
    out = tmp_path / "x.tif"
    result = runner.invoke(app, ["stxm", "composition", str(scan), "-o", str(out), "--denoise", "tv"])
    assert result.exit_code == 130, result.output
    assert events and not out.exists() and not out.with_suffix(".json").exists()
    assert not list(tmp_path.iterdir())


def test_auto_denoiser_records_its_choice_and_reason_in_the_json(scan, tmp_path):
    out = tmp_path / "x.tif"
    result = runner.invoke(app, ["stxm", "composition", str(scan), "-o", str(out), "--denoise", "auto",
                                 "--time-budget", "1", "--sd", "residual"])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.with_suffix(".json").read_text())
    auto = summary["denoise_auto"]
    assert auto["method"] in ("video", "n2v2", "structn2v", "bm3d_refine", "pixel_shuffle")
    assert "neighbour correlation" in auto["reason"]  # denoise()'s own words, copied
    assert auto["calls"] and all(c["method"] == auto["method"] for c in auto["calls"])
    assert summary["config"]["denoise"] == "auto"


def test_a_run_without_auto_has_no_auto_record(phantom):
    from operando.workflows.stxm import CompositionConfig, run_composition

    assert "denoise_auto" not in run_composition(phantom.counts, config=CompositionConfig()).summary


@pytest.mark.parametrize("old", ["0:4:0:30", "[0, 4, 0, 30]"])
def test_the_old_i0_region_spelling_is_refused_naming_the_new_one(old):
    from pydantic import ValidationError

    from operando.workflows.stxm import CompositionConfig

    with pytest.raises(ValidationError, match=r"no longer read.*'y0:y1,x0:x1'"):
        CompositionConfig(i0=old)


def test_an_i0_region_selects_those_pixels(phantom):
    from operando.workflows.stxm import CompositionConfig, run_optical_density

    od, summary = run_optical_density(phantom.counts, config=CompositionConfig(i0="0:4,0:30", per_line_i0=False))
    assert summary["i0_source"] == "given region (y0, y1, x0, x1) = (0, 4, 0, 30)"
    assert abs(float(np.nanmean(od.to_numpy()[..., 0:4, 0:30]))) < 0.01  # OD ~0 where I0 was taken


@pytest.mark.parametrize("per_line", [True, False])
def test_stripe_record_equals_the_whole_series_od_with_one_i0_per_image(phantom, per_line):
    """The 'before' stripe figures come from frame 0 alone: the same numbers as the whole series' plain OD."""
    from operando.workflows.stxm import CompositionConfig, run_optical_density
    from operando.xray import diagnose_stripes, optical_density

    cfg = CompositionConfig(per_line_i0=per_line)
    _, summary = run_optical_density(phantom.counts, config=cfg)
    plain = optical_density(phantom.counts, per_line=False)
    for e, record in enumerate(summary["stripes"]):
        expected = diagnose_stripes(plain.od.to_numpy()[0, e], mask=plain.background[0]).to_dict()
        assert json.dumps(record["before"], default=str) == json.dumps(expected, default=str)


def test_split_computes_every_parts_od_once(phantom):
    """With two parts the rest of one part is the other: 2 OD computations per thinning, not 4."""
    from operando.xray import optical_density, split_denoise

    calls = []

    def od(counts):
        calls.append(counts.shape)
        result = optical_density(counts, per_line=True)
        return result.od.to_numpy(), result.variance

    def smooth(image, seed, progress):
        from scipy import ndimage

        return ndimage.gaussian_filter(np.nan_to_num(image), (0, 0, 1.0, 1.0))

    split = split_denoise(phantom.counts, optical_density=od, denoiser=smooth, parts=2, repeats=2, rng=4)
    assert len(calls) == 4
    assert split.od.shape == phantom.counts.shape and split.parts.shape == (2, 2, *phantom.counts.shape)
    assert np.all(split.variance > 0) and split.correlation_area_px >= 1.0 and split.seed == 4
    three = split_denoise(phantom.counts, optical_density=od, denoiser=smooth, parts=3, repeats=1, rng=4)
    assert len(calls) == 4 + 6 and three.parts.shape[1] == 3
    again = split_denoise(phantom.counts, optical_density=od, denoiser=smooth, parts=2, repeats=2, rng=4)
    assert np.array_equal(again.od, split.od)


def test_split_denoise_is_cancelled_from_its_progress_callback(phantom):
    from operando.xray import optical_density, split_denoise

    def od(counts):
        result = optical_density(counts)
        return result.od.to_numpy(), result.variance

    def denoiser(image, seed, progress):
        from operando._progress import emit

        emit(progress, 0.5, "working")
        return np.nan_to_num(image)

    events: list = []
    with pytest.raises(Cancelled):
        split_denoise(phantom.counts, optical_density=od, denoiser=denoiser, progress=_cancel_on("working", events))
    assert len(events) == 1 and events[0][1].message.startswith("split 1/2: part 1/2: ")


def test_joint_denoisers_keep_the_shape_and_refuse_nothing_finite():
    from operando.denoise import joint_tv

    rng = np.random.default_rng(0)
    clean = np.zeros((2, 24, 24))
    clean[:, 6:18, 6:18] = [[[1.0]], [[0.6]]]
    noisy = clean + rng.normal(0, 0.2, clean.shape)
    out = joint_tv(noisy, axes="EYX", n_weights=5)
    assert out.shape == noisy.shape and out.dtype == np.float64
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    with pytest.raises(TypeError):
        joint_tv(noisy, "EYX")  # axes is keyword-only


def test_unknown_denoiser_still_refused_before_any_work():
    from operando.workflows.stxm import check_denoisers

    check_denoisers("auto")
    check_denoisers("tv+auto")
    with pytest.raises(InputError, match="'tvv' is not a denoising method"):
        check_denoisers("tvv")
