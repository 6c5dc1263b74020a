"""Markdown and HTML reports: tables and figures in a folder, written atomically."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._files import atomic_path


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> str:
    """Format rows of dicts as a Markdown table (floats to 4 significant digits; ``|`` in a cell escaped).

    Parameters
    ----------
    rows : sequence of dict
        The rows; missing keys print empty, None as ``-`` and NaN as ``n/a``.
    columns : sequence of str, optional
        Columns in order (default: the first row's keys).

    Returns
    -------
    str
        The table ("" for no rows).
    """
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(str(c)) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(_fmt(r.get(c, ""))) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


@dataclass
class Report:
    """A report built section by section, then written as Markdown and HTML side by side."""

    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        """Add a section heading."""
        self.blocks.append(("heading", text))

    def text(self, text: str) -> None:
        """Add a paragraph."""
        self.blocks.append(("text", text))

    def table(self, rows: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> None:
        """Add a table of rows."""
        self.blocks.append(("table", (list(rows), list(columns or (rows[0].keys() if rows else [])))))

    def figure(self, path: str | os.PathLike, caption: str) -> None:
        """Add a figure (a path relative to the report folder)."""
        self.blocks.append(("figure", (os.fspath(path), caption)))

    def to_markdown(self) -> str:
        """Render as Markdown."""
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += [f"## {value}", ""]
            elif kind == "text":
                out += [str(value), ""]
            elif kind == "table":
                rows, cols = value
                out += [markdown_table(rows, cols), ""]
            else:
                path, caption = value
                out += [f"![{caption}]({path})", "", f"*{caption}*", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        """Render as a standalone HTML page."""
        out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>",
               "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
               "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}</style></head><body>",
               f"<h1>{html.escape(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h2>{html.escape(str(value))}</h2>")
            elif kind == "text":
                out.append(f"<p>{html.escape(str(value))}</p>")
            elif kind == "table":
                rows, cols = value
                out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>")
                for r in rows:
                    out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>")
                out.append("</table>")
            else:
                path, caption = value
                out.append(f"<figure><img src='{html.escape(path)}' style='max-width:100%'>"
                           f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, folder: str | os.PathLike) -> Path:
        """Write ``report.md`` and ``report.html`` into ``folder``; return the Markdown path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (("report.md", self.to_markdown()), ("report.html", self.to_html())):
            with atomic_path(folder / name) as tmp:
                tmp.write_text(text, encoding="utf-8")
        return folder / "report.md"
