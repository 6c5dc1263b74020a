import re

import numpy as np

from operando.report import markdown_table


def _cells(line: str) -> list[str]:
    """Split a Markdown table row on its unescaped pipes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_every_row_has_as_many_cells_as_the_header_even_with_pipes_in_the_text():
    rows = [{"quantity": "bias", "target": "|.| < 0.01", "max |bias|": 0.0070681},
            {"quantity": "coverage", "target": "0.90-0.98", "max |bias|": float("nan")}]
    lines = markdown_table(rows).splitlines()
    assert all(len(_cells(line)) == 3 for line in lines if not line.startswith("|---"))
    assert _cells(lines[2]) == ["bias", "\\|.\\| < 0.01", "0.007068"]
    assert _cells(lines[3])[2] == "n/a"


def test_no_rows_give_an_empty_table():
    assert markdown_table([]) == ""
    assert "| a |" in markdown_table([{"a": np.float32(1.5)}])
