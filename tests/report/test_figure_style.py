"""operando.report's ONE figure style: off pyplot, no backend chosen, house colour maps, atomic saves."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from operando import InputError
from operando.report import (
    DIVERGING_CMAP,
    NAN_COLOUR,
    SEQUENTIAL_CMAP,
    colour_map,
    colours,
    figure_format,
    figure_style,
    new_figure,
    save_figure,
    show_image,
    signed_limits,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "operando"
MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml", ".jpg": b"\xff\xd8"}


def test_no_module_chooses_a_backend_or_imports_pyplot():
    offenders = []
    for path in SRC.rglob("*.py"):
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        if re.search(r"matplotlib\.use\(|switch_backend\(|import matplotlib\.pyplot|from matplotlib import pyplot"
                     r"|from matplotlib\.pyplot import", code):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_drawing_and_saving_every_report_figure_leaves_pyplot_and_the_backend_alone(tmp_path):
    script = (
        "import sys, matplotlib, numpy as np\n"
        "before = matplotlib.rcParams._get('backend')\n"
        "from operando import report\n"
        "v = np.random.default_rng(0).random((3, 8, 8))\n"
        "report.plot_frames_side_by_side({'a': v, 'b': v}, 'f.png', frames=[0, 2])\n"
        "report.plot_psnr_per_frame({'a': [1.0, 2.0]}, 'p.svg')\n"
        "report.plot_bars({'a': 1.0, 'b': 2.0}, 'b.pdf', ylabel='x')\n"
        "fig, axes = report.pyplot().subplots(1, 2, squeeze=False, constrained_layout=True)\n"
        "report.save_figure(fig, 'old.png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.rcParams._get('backend') == before, 'backend changed'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr
    for name in ("f.png", "p.svg", "b.pdf", "old.png"):
        assert (tmp_path / name).read_bytes().startswith(MAGIC[Path(name).suffix])


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg", ".jpg"])
def test_save_figure_writes_the_format_its_ending_names(tmp_path, suffix):
    fig, ax = new_figure(size=(2, 2))
    show_image(ax, np.arange(16.0).reshape(4, 4))
    out = save_figure(fig, tmp_path / f"fig{suffix}")
    assert out.read_bytes().startswith(MAGIC[suffix])


def test_an_unknown_ending_or_a_failed_save_leaves_no_file(tmp_path, monkeypatch):
    fig, ax = new_figure()
    with pytest.raises(InputError, match="must end in one of"):
        save_figure(fig, tmp_path / "fig.xyz")
    assert figure_format("A.JPEG") == "jpg"

    def half_then_full(target, **_):
        Path(target).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fig, "savefig", half_then_full)
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "fig.png")
    assert list(tmp_path.iterdir()) == []


def test_signed_data_is_drawn_on_the_diverging_map_symmetric_about_zero():
    data = np.array([[-0.5, 0.0], [2.0, np.nan]])
    assert signed_limits(data) == (-2.0, 2.0)
    assert signed_limits(np.zeros(3), np.full(2, np.nan)) == (-1.0, 1.0)
    fig, (a, b) = new_figure(1, 2)
    signed = show_image(a, data, signed=True)
    plain = show_image(b, data)
    assert signed.get_cmap().name.startswith(DIVERGING_CMAP) and signed.get_clim() == (-2.0, 2.0)
    assert plain.get_cmap().name.startswith(SEQUENTIAL_CMAP)
    import matplotlib.colors as mcolors

    assert np.allclose(plain.get_cmap().get_bad(), mcolors.to_rgba(NAN_COLOUR))


def test_colour_maps_and_colours():
    tab = colours(12, "categorical")
    assert tab.shape == (12, 4) and np.allclose(tab[10], tab[0]) and not np.allclose(tab[1], tab[0])
    ramp = colours(3)
    assert np.allclose(ramp[0], colour_map()(0.0)) and np.allclose(ramp[-1], colour_map()(1.0))
    with pytest.raises(InputError, match="colour map kind"):
        colour_map("rainbow")
    with pytest.raises(InputError, match="at least one row"):
        new_figure(0, 1)


def test_figure_style_applies_the_house_rcparams_only_inside():
    import matplotlib

    outside = matplotlib.rcParams["image.interpolation"]
    with figure_style():
        assert matplotlib.rcParams["image.interpolation"] == "nearest"
        assert matplotlib.rcParams["image.cmap"] == SEQUENTIAL_CMAP
    assert matplotlib.rcParams["image.interpolation"] == outside


def test_new_figure_grid_shapes():
    fig, ax = new_figure()
    assert not isinstance(ax, np.ndarray)
    _, row = new_figure(1, 3)
    _, grid = new_figure(1, 1, squeeze=False)
    assert row.shape == (3,) and grid.shape == (1, 1)
    assert fig.canvas.__class__.__name__ == "FigureCanvasAgg"
