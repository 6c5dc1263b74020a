"""TIFF outputs that Fiji opens calibrated (ImageJ hyperstacks, OME-TIFF), read back by operando on their own."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operando import Metadata, Stack
from operando.io import read, write

STXM_CHANNELS = ["x", "thickness", "sd(x)"]
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _composition(rng, dtype=np.float32):
    """A TCYX stack like 'operando stxm composition' writes: 3 frames 60 s apart, 0.02 um pixels."""
    data = rng.random((3, 3, 6, 7)).astype(dtype)
    data[:, :, 0, 0] = np.nan  # outside the particles
    meta = Metadata(pixel_size=0.02, pixel_unit="um", frame_times=(0.0, 60.0, 120.0),
                    extra={"channels": STXM_CHANNELS, "outside_mask": "NaN"})
    return Stack(data, axes="TCYX", metadata=meta)


def _imagej_view(path):
    """What Fiji reads: the ImageJ description and the resolution tag (pixels per unit)."""
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        xres = tif.pages.first.tags["XResolution"].value
        return tif.imagej_metadata, tif.series[0].axes, xres[1] / xres[0]


def _strip_imagej_record(path):
    """Remove operando's line from the ImageJ description, as a tool that keeps only ImageJ's keys would."""
    with tifffile.TiffFile(path) as tif:
        description = tif.pages.first.description
    stripped = "\n".join(line for line in description.splitlines() if not line.startswith("operando="))
    assert stripped != description
    tifffile.tiffcomment(path, stripped)


def _strip_ome_record(path):
    """Remove the operando record from the OME-XML (its energies and axes annotations stay)."""
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    stripped = re.sub(r'<M K="record">.*?</M>', "", xml, flags=re.S)
    assert stripped != xml
    tifffile.tiffcomment(path, stripped.encode())


def test_stxm_composition_opens_in_fiji_with_unit_interval_and_labels(tmp_path, rng):
    stack = _composition(rng)
    write(stack, tmp_path / "x.tif")
    ij, axes, pixel = _imagej_view(tmp_path / "x.tif")
    assert axes == "TCYX"
    assert ij["unit"] == "micron" and pixel == pytest.approx(0.02)
    assert ij["finterval"] == pytest.approx(60.0)
    assert ij["Labels"] == STXM_CHANNELS * 3
    assert ij["channels"] == 3 and ij["frames"] == 3 and ij["mode"] == "grayscale"
    assert len(ij["Ranges"]) == 6 and all(np.isfinite(ij["Ranges"]))
    back = read(tmp_path / "x.tif", allow_nan=True)
    assert back.axes == "TCYX" and back.dtype == np.float32
    np.testing.assert_array_equal(back.to_numpy(), stack.to_numpy())
    assert back.metadata.pixel_size == 0.02 and back.metadata.pixel_unit == "um"
    assert back.metadata.frame_times == (0.0, 60.0, 120.0)
    assert back.metadata.extra["channels"] == STXM_CHANNELS
    assert back.metadata.extra["outside_mask"] == "NaN"  # from the record


def test_imagej_fields_alone_give_the_same_stack(tmp_path, rng):
    stack = _composition(rng)
    write(stack, tmp_path / "x.tif")
    _strip_imagej_record(tmp_path / "x.tif")
    back = read(tmp_path / "x.tif", allow_nan=True)
    assert back.axes == "TCYX"
    assert back.metadata.pixel_size == pytest.approx(0.02, rel=1e-9) and back.metadata.pixel_unit == "um"
    assert back.metadata.frame_times == pytest.approx((0.0, 60.0, 120.0))
    assert back.metadata.extra["channels"] == STXM_CHANNELS
    assert "outside_mask" not in back.metadata.extra  # only the record held it


def test_energy_stack_is_a_channel_per_energy(tmp_path, rng):
    energies = (706.0, 708.5, 711.0)
    stack = Stack(rng.random((3, 5, 6)).astype(np.float32), axes="EYX",
                  metadata=Metadata(pixel_size=15.0, pixel_unit="nm", energies=energies))
    write(stack, tmp_path / "e.tif")
    ij, axes, pixel = _imagej_view(tmp_path / "e.tif")
    assert axes == "CYX" and ij["Labels"] == ["706.0 eV", "708.5 eV", "711.0 eV"]
    assert ij["unit"] == "nm" and pixel == pytest.approx(15.0)
    _strip_imagej_record(tmp_path / "e.tif")
    back = read(tmp_path / "e.tif")
    assert back.axes == "EYX" and back.metadata.energies == energies
    assert back.metadata.pixel_size == 15.0 and back.metadata.pixel_unit == "nm"


def test_video_gets_a_frame_interval_and_non_uniform_times_come_from_the_record(tmp_path, rng):
    video = rng.random((4, 8, 8)).astype(np.float32)
    write(Stack(video, "TYX", Metadata(pixel_size=0.5, pixel_unit="µm", frame_times=(0, 2, 4, 6))), tmp_path / "v.tif")
    ij, axes, pixel = _imagej_view(tmp_path / "v.tif")
    assert axes == "TYX" and ij["finterval"] == 2.0 and ij["unit"] == "micron" and pixel == pytest.approx(0.5)
    times = (1.0, 2.0, 4.5, 9.0)
    write(Stack(video, "TYX", Metadata(frame_times=times)), tmp_path / "u.tif")
    ij, _, _ = _imagej_view(tmp_path / "u.tif")
    assert "finterval" not in ij and "unit" not in ij
    assert read(tmp_path / "u.tif").metadata.frame_times == times


def test_float64_keeps_its_precision_in_an_ome_tiff(tmp_path, rng):
    stack = _composition(rng, np.float64)
    write(stack, tmp_path / "x.tif")
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        assert tif.is_ome and not tif.is_imagej
    back = read(tmp_path / "x.tif", allow_nan=True)
    assert back.dtype == np.float64 and back.axes == "TCYX"
    np.testing.assert_array_equal(back.to_numpy(), stack.to_numpy())
    assert back.metadata.extra["channels"] == STXM_CHANNELS and back.metadata.frame_times == (0.0, 60.0, 120.0)


def test_ome_tiff_keeps_energies_on_its_own(tmp_path, rng):
    energies = (706.0, 708.5, 711.0)
    meta = Metadata(pixel_size=0.02, pixel_unit="um", energies=energies, frame_times=(0.0, 30.0),
                    extra={"channels": ["od", "sd"]})
    stack = Stack(rng.random((2, 3, 2, 5, 6)).astype(np.float32), axes="TECYX", metadata=meta)  # E and C: OME
    write(stack, tmp_path / "s.tif")
    with tifffile.TiffFile(tmp_path / "s.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "TZCYX"
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
    assert pixels["PhysicalSizeX"] == 0.02 and pixels["PhysicalSizeXUnit"] == "µm"
    assert pixels["TimeIncrement"] == 30.0 and [c["Name"] for c in pixels["Channel"]] == ["od", "sd"]
    _strip_ome_record(tmp_path / "s.tif")
    back = read(tmp_path / "s.tif")
    assert back.axes == "TECYX" and back.metadata.energies == energies
    assert back.metadata.frame_times == (0.0, 30.0) and back.metadata.extra["channels"] == ["od", "sd"]
    assert back.metadata.pixel_size == 0.02 and back.metadata.pixel_unit == "um"
    np.testing.assert_array_equal(back.to_numpy(), stack.to_numpy())


def test_ome_name_writes_energies_as_channel_names(tmp_path, rng):
    stack = Stack(rng.random((3, 4, 4)).astype(np.float32), "EYX", Metadata(energies=(706.0, 708.5, 711.0)))
    write(stack, tmp_path / "e.ome.tif")
    with tifffile.TiffFile(tmp_path / "e.ome.tif") as tif:
        names = [c["Name"] for c in tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]["Channel"]]
    assert names == ["706.0 eV", "708.5 eV", "711.0 eV"]
    _strip_ome_record(tmp_path / "e.ome.tif")
    back = read(tmp_path / "e.ome.tif")
    assert back.axes == "EYX" and back.metadata.energies == (706.0, 708.5, 711.0)


def test_length_one_axes_come_back_and_lazy_reads_match(tmp_path, rng):
    stack = Stack(rng.random((1, 3, 5, 6)).astype(np.float32), "TCYX",
                  Metadata(extra={"channels": STXM_CHANNELS}))
    write(stack, tmp_path / "one.tif")
    back = read(tmp_path / "one.tif")
    assert back.axes == "TCYX" and back.shape == (1, 3, 5, 6)
    lazy = read(tmp_path / "one.tif", lazy=True)
    assert lazy.shape == (1, 3, 5, 6)
    np.testing.assert_array_equal(lazy.data[0, 1:], stack.to_numpy()[0, 1:])
    np.testing.assert_array_equal(lazy.data[..., 2, :], stack.to_numpy()[..., 2, :])


def test_record_names_versions(tmp_path, rng):
    write(_composition(rng), tmp_path / "x.tif")
    ij, _, _ = _imagej_view(tmp_path / "x.tif")
    record = json.loads(ij["operando"])
    assert record["axes"] == "TCYX" and {"operando", "numpy"} <= set(record["versions"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    axes=st.sampled_from(["YX", "TYX", "EYX", "CYX", "ZYX", "TCYX", "TZYX", "ETYX", "TECYX", "YXC"]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64]),
    seed=st.integers(0, 2**16),
    unit=st.sampled_from(["um", "nm", None]),
)
def test_any_layout_roundtrips_with_its_metadata(tmp_path_factory, axes, dtype, seed, unit):
    rng = np.random.default_rng(seed)
    sizes = {"T": 2, "E": 3, "C": 2, "Z": 2, "Y": 4, "X": 5}
    data = (rng.random([sizes[a] for a in axes]) * 200).astype(dtype)
    meta = Metadata(pixel_size=0.25 if unit else None, pixel_unit=unit,
                    frame_times=(0.0, 1.5) if "T" in axes else None,
                    energies=(700.0, 705.5, 710.25) if "E" in axes else None,
                    extra={"channels": ["a", "b"]} if "C" in axes else {})
    path = tmp_path_factory.mktemp("rt") / "s.tif"
    write(Stack(data, axes, meta), path)
    back = read(path)
    assert back.axes == axes and back.dtype == data.dtype
    np.testing.assert_array_equal(back.to_numpy(), data)
    assert back.metadata.pixel_size == meta.pixel_size and back.metadata.pixel_unit == meta.pixel_unit
    assert back.metadata.frame_times == meta.frame_times and back.metadata.energies == meta.energies
    assert back.metadata.extra.get("channels") == meta.extra.get("channels")


@pytest.mark.parametrize("name, pixel, energy", [
    ("stxm/maxymus/tutorial000000003.hdr", 0.02, 707.8),
    ("stxm/maxymus/tutorial000000005.hdr", 0.015, 709.5),
    ("txm/rep01_000051_ref_20161456_ssrl-test-data_08324.0_eV_001of010.xrm", 0.0312, 8324.0),
])
def test_real_instrument_frames_open_in_fiji_calibrated(tmp_path, name, pixel, energy):
    if not (DATA / name).exists():
        pytest.skip(f"../shared/data/{name} is not here")
    stack = read(DATA / name)
    write(stack, tmp_path / "f.tif", dtype="float32")
    ij, _, size = _imagej_view(tmp_path / "f.tif")
    assert ij["unit"] == "micron" and size == pytest.approx(pixel, rel=1e-9) and ij["Labels"] == f"{energy!r} eV"
    back = read(tmp_path / "f.tif")
    assert back.axes == "EYX" and back.metadata.pixel_size == pixel and back.metadata.energies == (energy,)
