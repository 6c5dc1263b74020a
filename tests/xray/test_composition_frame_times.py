"""``stxm composition`` of a TEYX video keeps the video's frame times: x.tif opens in Fiji with its frame interval."""

import pytest
import tifffile

from operando.io import read


@pytest.fixture(scope="module")
def video():
    """Counts of a 3-frame phantom video, 30 s between frames, and its composition (no denoising)."""
    from operando.workflows.stxm import CompositionConfig, run_composition
    from operando.xray import PhantomConfig, make_phantom

    phantom = make_phantom(PhantomConfig(size=32, frames=3, n_particles=1, i0_counts=400, ch_dt=1e-4, seed=3))
    counts = phantom.counts
    counts = type(counts)(counts.data, counts.axes, counts.metadata.replace(frame_times=(0.0, 30.0, 60.0)))
    assert counts.axes == "TEYX"
    return counts, run_composition(counts, config=CompositionConfig(denoise="none"))


def test_a_3_frame_composition_writes_the_frame_interval_fiji_reads(video, tmp_path):
    from operando.workflows.stxm import write_composition

    counts, run = video
    tif, _ = write_composition(run, tmp_path / "x.tif", counts=counts)
    with tifffile.TiffFile(tif) as f:
        ij = f.imagej_metadata
        assert f.series[0].axes == "TCYX"
    assert ij["finterval"] == pytest.approx(30.0)
    assert ij["frames"] == 3
    assert read(tif, allow_nan=True).metadata.frame_times == pytest.approx((0.0, 30.0, 60.0))


def test_counts_without_frame_times_write_no_interval(video, tmp_path):
    from operando.workflows.stxm import write_composition

    counts, run = video
    bare = type(counts)(counts.data, counts.axes, counts.metadata.replace(frame_times=None))
    tif, _ = write_composition(run, tmp_path / "x.tif", counts=bare)
    with tifffile.TiffFile(tif) as f:
        assert "finterval" not in (f.imagej_metadata or {})


def test_a_series_of_real_scans_gets_its_frame_times_from_the_headers():
    from pathlib import Path

    from operando.workflows.stxm import read_series

    maxymus = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stxm" / "maxymus"
    if not maxymus.is_dir():
        pytest.skip("../shared/data/stxm is not here")
    series = read_series([maxymus / "tutorial000000003.hdr", maxymus / "tutorial000000004.hdr"])
    assert series.axes == "TEYX" and series.shape == (2, 1, 100, 100)
    assert series.metadata.frame_times == (0.0, 589.0)  # Time = 10:37:42 and 10:47:31 in the two headers
