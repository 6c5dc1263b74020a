"""Neutron units through pint (issue 32): cycler column units, the pixel size of the Li inventory, cm^2 and barn."""

import numpy as np
import pytest

from operando import InputError, Metadata
from operando.neutron import lithium_inventory, parse_cycler_text

#: The column names the old hand-written table knew, with its factors to s, A and V: unchanged.
OLD_TABLE = {
    "time": {"time/s": 1.0, "time(s)": 1.0, "time_s": 1.0, "test_time(s)": 1.0, "testtime(s)": 1.0, "time": 1.0,
             "totaltime(s)": 1.0, "time(h)": 3600.0, "time/h": 3600.0, "time_h": 3600.0, "time(min)": 60.0,
             "time_min": 60.0},
    "current": {"i/ma": 1e-3, "<i>/ma": 1e-3, "current(ma)": 1e-3, "current_ma": 1e-3, "current(a)": 1.0,
                "current/a": 1.0, "current_a": 1.0, "current": 1.0, "i/a": 1.0},
    "voltage": {"ewe/v": 1.0, "ecell/v": 1.0, "voltage(v)": 1.0, "voltage/v": 1.0, "voltage_v": 1.0, "voltage": 1.0,
                "u/v": 1.0, "voltage(mv)": 1e-3},
}


def _csv(time: str, current: str, voltage: str) -> str:
    return f"{time},{current},{voltage}\n0,2,3.5\n10,2,3.6\n20,-2,3.4\n"


@pytest.mark.parametrize("kind", list(OLD_TABLE))
def test_every_column_of_the_old_table_reads_with_its_old_factor(kind):
    from operando.neutron._cycler import _CURRENT, _TIME, _VOLTAGE, _factor

    quantity = {"time": _TIME, "current": _CURRENT, "voltage": _VOLTAGE}[kind]
    others = [q for q in (_TIME, _CURRENT, _VOLTAGE) if q is not quantity]
    for column, factor in OLD_TABLE[kind].items():
        assert _factor(column, quantity) == factor, column  # exactly the old number
        assert all(_factor(column, q) is None for q in others), column


def test_any_unit_pint_reads_and_the_case_of_the_header():
    data = parse_cycler_text(_csv("Time (min)", "I/uA", "Ecell/mV"))
    assert data.time_s.tolist() == [0.0, 600.0, 1200.0]
    assert data.current_a == pytest.approx([2e-6, 2e-6, -2e-6])
    assert data.voltage_v == pytest.approx([3.5e-3, 3.6e-3, 3.4e-3])
    biologic = parse_cycler_text(_csv("time/s", "<I>/mA", "Ewe/V"))
    assert biologic.current_a == pytest.approx([2e-3, 2e-3, -2e-3]) and biologic.voltage_v[0] == 3.5
    loud = parse_cycler_text(_csv("TIME(H)", "CURRENT(MA)", "VOLTAGE(V)"))  # upper case: still mA, not megaampere
    assert loud.time_s[1] == 36000.0 and loud.current_a[0] == pytest.approx(2e-3)


@pytest.mark.parametrize("header", ["time_stamp,i/ma,ewe/v", "time/s,(q-qo)/ma.h,ewe/v", "time/kg,i/ma,ewe/v",
                                    "time/*,i/ma,ewe/v"])
def test_a_column_whose_unit_is_not_of_its_kind_is_not_taken(header):
    with pytest.raises(InputError, match="no (time|current) column"):
        parse_cycler_text(header + "\n0,1,3\n1,1,3\n2,-1,3\n")


@pytest.mark.parametrize(("unit", "um"), [(None, 55.0), ("um", 55.0), ("µm", 55.0), ("micron", 55.0),
                                          ("nm", 0.055), ("mm", 55000.0), ("px", None), ("s", None)])
def test_the_inventory_pixel_size_in_um_from_any_length_unit(unit, um):
    from operando.workflows.neutron._run import pixel_size_um

    assert pixel_size_um(Metadata(pixel_size=55.0, pixel_unit=unit)) == um
    assert pixel_size_um(Metadata(pixel_unit=unit)) is None


def test_moles_are_the_old_hand_written_conversion_to_the_bit():
    rng = np.random.default_rng(0)
    delta = rng.random((3, 8, 9))
    mask = np.zeros((8, 9), bool)
    mask[2:6, 3:7] = True
    moles = lithium_inventory(delta, mask, pixel_size_um=55.0, cross_section_barn=70.5)["moles"]
    total = delta[:, mask].sum(axis=1)
    old = total * (55.0 * 1e-4) ** 2 / (70.5 * 1e-24) / 6.02214076e23
    assert moles == old.tolist()
