"""operando._units: one pint registry, canonical spellings and the names NGFF, ImageJ and OME-XML use."""

import subprocess
import sys

import pytest

from operando import InputError
from operando._units import (
    convert,
    energy_unit,
    from_imagej_unit,
    imagej_unit,
    length_in,
    length_unit,
    maybe_length_unit,
    ngff_unit,
    ome_unit,
    time_unit,
    unit_kind,
)


@pytest.mark.parametrize("text, canonical", [
    ("um", "um"), ("µm", "um"), ("μm", "um"), ("micron", "um"), ("microns", "um"), ("micrometer", "um"),
    ("micrometre", "um"), ("nanometre", "nm"), ("nm", "nm"), ("mm", "mm"), ("cm", "cm"), ("m", "m"),
    ("pm", "pm"), ("Å", "angstrom"), ("angstrom", "angstrom"), (" um ", "um"),
])
def test_length_unit_gives_one_spelling(text, canonical):
    assert length_unit(text) == canonical


@pytest.mark.parametrize("text", ["s", "eV", "A", "px", "pixel", "1", "", "furlongs!", None])
def test_length_unit_refuses_other_things_in_one_line(text):
    with pytest.raises(InputError) as info:
        length_unit(text)
    assert "\n" not in str(info.value) and "length unit" in str(info.value)


@pytest.mark.parametrize("text, canonical", [
    ("s", "s"), ("second", "s"), ("ms", "ms"), ("millisecond", "ms"), ("us", "us"), ("µs", "us"),
    ("microsecond", "us"), ("min", "min"), ("minute", "min"), ("h", "h"), ("hour", "h"),
])
def test_time_unit(text, canonical):
    assert time_unit(text) == canonical


@pytest.mark.parametrize("text, canonical", [("eV", "eV"), ("electronvolt", "eV"), ("keV", "keV")])
def test_energy_unit(text, canonical):
    assert energy_unit(text) == canonical


def test_time_and_energy_refuse_lengths():
    with pytest.raises(InputError, match="not a time unit"):
        time_unit("um")
    with pytest.raises(InputError, match="not an energy unit"):
        energy_unit("nm")


def test_convert_between_units_of_one_dimension():
    assert convert(0.02, "um", "nm") == 20.0
    assert convert(1.5, "keV", "eV") == 1500.0
    assert convert(60, "s", "min") == 1.0
    assert convert(1, "micron", "cm") == pytest.approx(1e-4)
    with pytest.raises(InputError, match="different things"):
        convert(1, "um", "s")
    with pytest.raises(InputError, match="unknown unit"):
        convert(1, "um", "parsecs!")


def test_length_in_takes_a_missing_unit_as_the_target():
    assert length_in(15.0, "nm") == 0.015 and length_in(1, "mm") == 1000.0
    assert length_in(0.02, "um") == 0.02 and length_in(3, None) == 3.0 and length_in(2, "px") == 2.0


@pytest.mark.parametrize("text, name", [
    ("um", "micrometer"), ("µm", "micrometer"), ("nm", "nanometer"), ("mm", "millimeter"), ("Å", "angstrom"),
    ("s", "second"), ("ms", "millisecond"), ("min", "minute"), ("eV", "electronvolt"),
])
def test_ngff_names_are_udunits(text, name):
    assert ngff_unit(text) == name


def test_imagej_units_round_trip():
    assert imagej_unit("um") == "micron" and imagej_unit("µm") == "micron"
    assert imagej_unit("nm") == "nm"
    for ij, canonical in (("micron", "um"), ("µm", "um"), ("um", "um"), ("nm", "nm"), ("mm", "mm")):
        assert from_imagej_unit(ij) == canonical
    with pytest.raises(InputError):
        from_imagej_unit("pixel")


def test_ome_symbols():
    assert [ome_unit(u) for u in ("um", "nm", "Å", "s", "ms", "us", "eV")] == ["µm", "nm", "Å", "s", "ms", "µs",
                                                                                 "eV"]


def test_kind_and_maybe():
    assert [unit_kind(u) for u in ("um", "s", "keV", "px", "A", None)] == ["length", "time", "energy", None, None,
                                                                            None]
    assert maybe_length_unit("micron") == "um" and maybe_length_unit("px") is None
    assert maybe_length_unit(None) is None


def test_import_operando_does_not_import_pint():
    code = "import sys, operando; print('pint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("garbled", ["*", "um/", "/", "^", "-", "(", "m)"])
def test_a_garbled_unit_is_refused_in_one_line_not_a_traceback(garbled):
    from operando import InputError
    from operando._units import convert, length_unit, maybe_length_unit

    with pytest.raises(InputError):
        length_unit(garbled)
    with pytest.raises(InputError):
        convert(1.0, garbled, "um")
    assert maybe_length_unit(garbled) is None
