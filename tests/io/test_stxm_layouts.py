"""STXM_Control layouts written from scratch: BESSY/CLS ``ImageNNN``, ALS COSMIC ``ImageNNN_R`` with sparse file
numbers (a stack cut down to some energies), aborted stacks, multi-region stacks, and headers that contradict
themselves. Each test writes a small .hdr/.xim set in ``tmp_path`` and checks what a user would: the energies, the
counts of each image, and a note naming any energy left out."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from operando import InputError
from operando.io import read, read_stxm

NY, NX = 5, 7


def _points(values) -> str:
    return f"({len(values)}, " + ", ".join(f"{v:.4f}" for v in values) + ")"


def _header(energies, *, regions: int = 1, entries: list[str] = (), cosmic: bool = True, dwell: float = 4.0,
            energy_regions: str | None = None) -> str:
    """An STXM_Control header in the layout of the ALS COSMIC (``cosmic``) or BESSY II writer."""
    region = ("{\n\t\t\tPAxis = { Name = \"Sample X\"; Unit = \"um\"; Min = 0; Max = 1; Dir = 1;\n\t\t\t\tPoints = "
              f"{_points(np.arange(NX) * 0.03 - 0.6)};\n}};\n\n\t\t\tQAxis = {{ Name = \"Sample Y\"; Unit = \"um\"; "
              f"Min = 7; Max = 8; Dir = 1;\n\t\t\t\tPoints = {_points(7.25 + np.arange(NY) * 0.03)};\n}};\n}}")
    junk = " Dwell2 = -6.2774386e+066;" if cosmic else ""
    kind = ("NEXAFS Image Scan", "Image Stack") if len(energies) > 1 else ("Image Scan", "Image")
    regions_text = ",\n".join([region] * regions)
    lines = [
        "",
        f'ScanDefinition = {{ Label = "x.hdr"; Type = "{kind[0]}"; Flags = "{kind[1]}"; Dwell = {dwell:g};{junk}',
        f"\tRegions = ({regions},", regions_text + ");", "",
        f'\tStackAxis = {{ Name = "Energy"; Unit = "eV"; Min = {min(energies):g}; Max = {max(energies):g}; Dir = 1;',
        f"\t\tPoints = {_points(energies)};", "};", "",
        '\tChannels = (1,', '{ Name = "V/F"; Unit = "counts";});', "};",
        ' Time = "2018 November 10 23:57:34"; BeamFeedback = false; ShutterAutomatic = true;',
        'Monochromator = { Name = "Beamline Energy"; LastPosition = 849.9894; Status = 1; Type = 1;};',
        " StorageRingCurrent = 0; EPUPhase = 0; Polarization = -99.99;",
        'ImageScan = { ScanType = "Image (Line - unidirection)"; SingleEnergy = false;',
        "\tEnergyRegions = " + (energy_regions or "(1,\n{ StartEnergy = 850; EndEnergy = 865; Range = 15; Step = 1; "
                                                 "Points = 34; DwellTime = 4;})") + ";",
        " MultipleRegions = false;", "};",
        *entries,
    ]
    return "\n".join(lines) + "\n"


def _entry(number: int, energy: float, region: int | None, cosmic: bool = True) -> str:
    key = f"Image{number:03d}" + (f"_{region}" if region is not None else "")
    tail = " ZP_dest= -5682.64; ZP_error = 0.55;" if cosmic else ""
    return f'{key} = {{StorageRingCurrent = 0.00; Energy = {energy:.2f}; Time = "2018 Nov 11 00:03:50";{tail}}};'


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 60000, size=(NY, NX))


def _write_xim(path: Path, image: np.ndarray, crlf: bool = False) -> None:
    text = "\n".join("\t".join(str(int(v)) for v in row) + "\t" for row in image) + "\n"
    path.write_bytes(text.replace("\n", "\r\n").encode() if crlf else text.encode())


def _quiet_read(path: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_stxm(path, **kw) if kw else read(path)


@pytest.mark.parametrize("cosmic", [True, False])
def test_full_stack_in_both_entry_spellings(tmp_path, cosmic):
    energies = [850.0, 852.0, 853.5, 857.75]
    entries = [_entry(i, e + 0.01, 0 if cosmic else None, cosmic) for i, e in enumerate(energies)]
    hdr = tmp_path / "full.hdr"
    hdr.write_text(_header(energies, entries=entries, cosmic=cosmic))
    images = [_image(i) for i in range(4)]
    for i, im in enumerate(images):
        _write_xim(tmp_path / f"full_a{i:03d}.xim", im, crlf=cosmic)
    stack = _quiet_read(hdr)
    assert stack.axes == "EYX" and stack.shape == (4, NY, NX)
    assert stack.metadata.energies == tuple(energies)
    np.testing.assert_array_equal(stack.to_numpy(), np.stack(images))
    assert stack.metadata.extra["measured_energies_ev"] == pytest.approx([e + 0.01 for e in energies])
    assert stack.metadata.extra["dwell_ms"] == 4.0  # EnergyRegions (34 points) do not fit: ScanDefinition.Dwell


def test_cosmic_stack_cut_down_to_two_energies_reads_files_003_and_019(tmp_path):
    """The layout xanespy's COSMIC test file has: two stack energies, entries Image003_0 and Image019_0."""
    hdr = tmp_path / "stxm-scan.hdr"
    hdr.write_text(_header([853.0, 857.75], entries=[_entry(3, 853.0, 0), _entry(19, 857.75, 0)]))
    a, b = _image(3), _image(19)
    _write_xim(tmp_path / "stxm-scan_a003.xim", a)
    _write_xim(tmp_path / "stxm-scan_a019.xim", b)
    stack = _quiet_read(hdr)
    assert stack.metadata.energies == (853.0, 857.75)
    np.testing.assert_array_equal(stack.to_numpy(), np.stack([a, b]))
    assert stack.metadata.extra["image_files"] == [3, 19]


@pytest.mark.parametrize("seed", range(8))
def test_cut_down_stacks_drawn_at_random_map_every_file_to_its_energy(tmp_path, seed):
    """A family of cut-down stacks: a random subset of a 40-energy scan kept, in either energy direction, with
    measured energies jittered by up to 0.04 eV; some subsets keep only low file numbers (all < the count)."""
    rng = np.random.default_rng(seed)
    full = np.round(np.concatenate([np.arange(700, 705, 1.0), np.arange(705, 712, 0.25)]), 4)[:40]
    k = int(rng.integers(2, 12))
    pool = 2 * k if seed % 2 else len(full)  # even seeds: numbers from the whole scan; odd: from the first 2k
    numbers = np.sort(rng.choice(pool, size=k, replace=False))
    kept = full[numbers]
    descending = seed % 3 == 0
    nominal = kept[::-1] if descending else kept
    order = numbers[::-1] if descending else numbers
    entries = [_entry(int(n), float(full[n] + rng.uniform(-0.04, 0.04)), 0) for n in order]
    hdr = tmp_path / "cut.hdr"
    hdr.write_text(_header(list(nominal), entries=entries))
    for n in numbers:
        _write_xim(tmp_path / f"cut_a{n:03d}.xim", _image(1000 + int(n)))
    stack = _quiet_read(hdr)
    assert stack.metadata.energies == tuple(float(e) for e in nominal)
    for plane, e in zip(stack.to_numpy(), nominal, strict=True):
        n = int(np.flatnonzero(full == e)[0])
        np.testing.assert_array_equal(plane, _image(1000 + n))


def test_aborted_stack_is_read_as_far_as_it_goes_with_a_note(tmp_path):
    energies = [850.0, 851.0, 852.0, 853.0, 854.0]
    hdr = tmp_path / "ab.hdr"
    hdr.write_text(_header(energies, entries=[_entry(i, e, 0) for i, e in enumerate(energies)]))
    for i in range(3):
        _write_xim(tmp_path / f"ab_a{i:03d}.xim", _image(i))
    with pytest.warns(UserWarning, match=r"lists 5 energies, 3 images.*missing 853, 854 eV"):
        stack = read(hdr)
    assert stack.metadata.energies == (850.0, 851.0, 852.0)
    np.testing.assert_array_equal(stack.to_numpy()[2], _image(2))
    assert stack.metadata.extra["missing_energies_ev"] == [853.0, 854.0]


def test_aborted_stack_whose_last_image_was_cut_off_while_written(tmp_path):
    """Entries only for the images taken (0..2); the last file stops after two rows: it is left out, named."""
    energies = [850.0, 851.0, 852.0, 853.0]
    hdr = tmp_path / "cut.hdr"
    hdr.write_text(_header(energies, entries=[_entry(i, energies[i], 0) for i in range(3)]))
    for i in range(2):
        _write_xim(tmp_path / f"cut_a{i:03d}.xim", _image(i))
    _write_xim(tmp_path / "cut_a002.xim", _image(2)[:2])
    with pytest.warns(UserWarning, match=r"cut_a002.xim, is incomplete.*missing 852, 853 eV"):
        stack = read(hdr)
    assert stack.shape == (2, NY, NX) and stack.metadata.energies == (850.0, 851.0)


def test_a_damaged_image_inside_a_complete_stack_is_still_refused(tmp_path):
    energies = [850.0, 851.0, 852.0]
    hdr = tmp_path / "bad.hdr"
    hdr.write_text(_header(energies, entries=[_entry(i, e, 0) for i, e in enumerate(energies)]))
    for i in range(3):
        _write_xim(tmp_path / f"bad_a{i:03d}.xim", _image(i)[: 2 if i == 1 else NY])
    with pytest.raises(InputError, match="bad_a001.xim.*truncated"):
        read(hdr)


def test_aborted_stack_without_any_image_file_is_refused_in_one_line(tmp_path):
    hdr = tmp_path / "none.hdr"
    hdr.write_text(_header([850.0, 851.0], entries=[_entry(0, 850.0, 0)]))
    with pytest.raises(InputError, match="none_a000.xim.*missing") as err:
        read(hdr)
    assert "\n" not in str(err.value)


def test_multi_region_cosmic_stack_reads_each_region_and_notes_a_missing_image(tmp_path):
    energies = [850.0, 851.0, 852.0]
    entries = [_entry(i, e, r) for i, e in enumerate(energies) for r in range(2) if not (r == 1 and i == 2)]
    hdr = tmp_path / "mr.hdr"
    hdr.write_text(_header(energies, regions=2, entries=entries))
    for i in range(3):
        for r in range(2):
            if not (r == 1 and i == 2):
                _write_xim(tmp_path / f"mr_a{i:03d}{r}.xim", _image(10 * i + r))
    with pytest.warns(UserWarning, match="2 regions; read region 0"):
        first = read(hdr)
    assert first.shape == (3, NY, NX)
    np.testing.assert_array_equal(first.to_numpy()[2], _image(20))
    with pytest.warns(UserWarning, match="missing 852 eV"):
        second = read_stxm(hdr, region=1)
    assert second.metadata.energies == (850.0, 851.0)
    np.testing.assert_array_equal(second.to_numpy()[1], _image(11))


def test_single_energy_cosmic_image_with_a_numbered_file(tmp_path):
    hdr = tmp_path / "one.hdr"
    hdr.write_text(_header([853.0], entries=[_entry(7, 853.01, 0)]))
    _write_xim(tmp_path / "one_a007.xim", _image(7))
    stack = _quiet_read(hdr)
    assert stack.shape == (1, NY, NX) and stack.metadata.energies == (853.0,)
    np.testing.assert_array_equal(stack.to_numpy()[0], _image(7))


def test_entries_that_match_no_energy_are_refused_in_one_line(tmp_path):
    hdr = tmp_path / "odd.hdr"
    hdr.write_text(_header([850.0, 855.0, 860.0], entries=[_entry(5, 870.0, 0), _entry(9, 880.0, 0)]))
    with pytest.raises(InputError, match="cannot tell which image file holds which energy") as err:
        read(hdr)
    assert "\n" not in str(err.value)


def test_a_monochromator_offset_larger_than_half_a_step_is_reported_not_hidden(tmp_path):
    energies = [850.0, 850.25, 850.5]
    hdr = tmp_path / "off.hdr"
    hdr.write_text(_header(energies, entries=[_entry(i, e + 0.4, 0) for i, e in enumerate(energies)]))
    for i in range(3):
        _write_xim(tmp_path / f"off_a{i:03d}.xim", _image(i))
    with pytest.warns(UserWarning, match=r"differ from the StackAxis energies by \+0.4"):
        stack = read(hdr)
    np.testing.assert_array_equal(stack.to_numpy(), np.stack([_image(i) for i in range(3)]))
