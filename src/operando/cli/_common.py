"""What every command shares: the consoles, one-line errors, the progress bar, tables, and option aliases."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._errors import AxesAssumedWarning, InputError

console = Console()
err_console = Console(stderr=True)

# Options that several commands take: one definition each, so that flags and help read the same everywhere.
AxesOption = Annotated[Optional[str], typer.Option(
    "--axes", help="Axis letters when the file does not record them, e.g. TYX (video) or EYX (energy stack).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random step (recorded in the output).")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
OutputFileOption = Annotated[Path, typer.Option("--output", "-o", help="Output file (.tif, .zarr, .h5, .npy).")]
OutputDirOption = Annotated[Path, typer.Option("--output", "-o", help="Output folder.")]
TimeBudgetOption = Annotated[float, typer.Option("--time-budget", help="Training budget in seconds.")]
KeepFloatOption = Annotated[bool, typer.Option("--keep-float", help="Write float32 instead of the input's dtype.")]
JsonOption = Annotated[Optional[Path], typer.Option("--json", help="Also write the result as JSON.")]


def _notice(message: warnings.WarningMessage) -> None:
    err_console.print(f"[yellow]note:[/yellow] {message.message}", soft_wrap=True, highlight=False)


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InputError, missing files and missing optional extras into one red line and exit code 2; print notices."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AxesAssumedWarning)
                try:
                    return fn(*args, **kwargs)
                except (InputError, FileNotFoundError, ImportError) as exc:
                    err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False,
                                      markup=True)  # escaped: "[bm3d]" in a message is text, not a style
                    raise typer.Exit(2) from None
        finally:  # outside the recording block: re-shown warnings must not be recorded again (an endless loop)
            for message in caught:
                if issubclass(message.category, AxesAssumedWarning):
                    _notice(message)
                else:
                    warnings.showwarning(message.message, message.category, message.filename, message.lineno)

    return wrapper


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[float, str], None]]:
    """Show a rich progress bar with ETA, fed by the library's ``progress(fraction, message)`` callbacks."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=min(max(fraction, 0.0), 1.0), description=message)

        yield update


def print_rows(rows: list[dict[str, Any]], title: str) -> None:
    """Print rows of dicts as a table (floats to 4 significant digits, None as '-')."""
    table = Table(title=title)
    cols = list(rows[0]) if rows else []
    for c in cols:
        table.add_column(c, justify="right" if c != "name" else "left")
    for r in rows:
        table.add_row(*["-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()])
    console.print(table)
