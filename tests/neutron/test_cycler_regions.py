"""Cycler exports and layer finding."""

import numpy as np
import pytest

from operando import InputError
from operando._regions import parse_region
from operando.neutron import (
    charge_at,
    coulombic_efficiency,
    find_layers,
    frame_boundaries,
    half_cycles,
    parse_cycler_text,
    read_cycler_csv,
)

BIOLOGIC = """mode;time/s;I/mA;Ewe/V
1;0;0;3,40
1;600;100;3,60
1;3600;100;4,10
2;3610;-90;4,00
2;7200;-90;3,20
3;7210;0;3,30
"""

ARBIN = """Data_Point,Test_Time(s),Current(A),Voltage(V)
1,0,0.5,3.5
2,1800,0.5,4.1
3,3600,-0.25,4.0
4,9000,-0.25,3.0
5,10800,0,3.1
"""


def test_biologic_semicolon_export_gives_capacities_and_ce():
    data = parse_cycler_text(BIOLOGIC)
    assert data.current_a[1] == pytest.approx(0.1) and data.voltage_v[0] == pytest.approx(3.4)
    segments = half_cycles(data)
    assert [s.kind for s in segments] == ["charge", "discharge"]
    rows = coulombic_efficiency(segments)
    assert rows[0]["charge_ah"] == pytest.approx(0.1 * 3010 / 3600, rel=1e-6)
    assert rows[0]["coulombic_efficiency"] == pytest.approx(0.09 * 3600 / (0.1 * 3010), rel=1e-6)


def test_arbin_csv_file_aligned_with_frames(tmp_path):
    path = tmp_path / "cycler.csv"
    path.write_text(ARBIN)
    data = read_cycler_csv(path)
    segments = half_cycles(data)
    assert [round(s.charge_ah, 4) for s in segments] == [0.5, 0.5]
    frames = np.arange(0, 11000, 600.0)
    assert frame_boundaries(frames, segments) == [0, 6, 18]
    assert charge_at(data, [3600.0, 10800.0]) == pytest.approx([0.5, 0.0], abs=1e-9)


def test_cycler_without_a_current_column_is_refused():
    with pytest.raises(InputError, match="no current column"):
        parse_cycler_text("time/s,Ewe/V\n0,3\n1,3\n2,3\n")


def test_layers_are_found_where_the_phantom_has_them(small_phantom):
    tr_static = small_phantom.sample.to_numpy()[:4].mean(axis=0) - 300
    ob = small_phantom.open_beam.to_numpy().mean(axis=0) - 300
    a = -np.log(np.clip(tr_static / ob, 1e-3, None))
    regions, found = find_layers(a)
    truth = small_phantom.regions["regions"]
    for name in ("anode", "separator", "cathode"):
        x0, x1 = regions.regions[name].boxes[0][2:]
        tx0, tx1 = parse_region(truth[name]["box"])[2:]
        assert abs(x0 - tx0) <= 1 and abs(x1 - tx1) <= 1, name
    assert len(found["boundaries_px"]) == 4 and regions.regions["anode"].kind == "electrode"
