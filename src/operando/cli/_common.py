"""What every command shares: the consoles, one-line errors, the progress bar, tables, and option aliases."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

try:  # typer >= 0.22 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from .._errors import AxesAssumedWarning, InputError, validation_reason
from .._progress import Cancelled, Progress, ProgressEvent

console = Console()
err_console = Console(stderr=True)

def above_zero(value: float | None) -> float | None:
    """Typer callback: a number that must be finite and > 0 (typer's ``min=0`` lets 0 and nan through)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number > 0, got {value:g}")
    return value



# Options that several commands take: one definition each, so that flags and help read the same everywhere.
AxesOption = Annotated[Optional[str], typer.Option(
    "--axes", help="Axis letters when the file does not record them, e.g. TYX (video) or EYX (energy stack).")]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of every random step (recorded in the output).")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
OutputFileOption = Annotated[Path, typer.Option("--output", "-o", help="Output file (.tif, .zarr, .h5, .npy).")]
OutputDirOption = Annotated[Path, typer.Option("--output", "-o", help="Output folder.")]
TimeBudgetOption = Annotated[float, typer.Option("--time-budget", help="Training budget in seconds (> 0).",
                                                 callback=above_zero)]
KeepFloatOption = Annotated[bool, typer.Option("--keep-float", help="Write float32 instead of the input's dtype.")]
JsonOption = Annotated[Optional[Path], typer.Option("--json", help="Also write the result as JSON.")]


#: Set by the main callback from ``-v``: at 1 or more, an unexpected error also prints its traceback.
VERBOSITY = {"level": 0}


class OneLineGroup(TyperGroup):
    """The top-level command group: a usage error (unknown option, bad value, value out of range) is one line.

    typer draws a box with the usage; a script reading stderr, and a person, want the reason and where to look.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.UsageError as exc:
            message = exc.format_message()
            if message and type(exc).__name__ != "NoArgsIsHelpError":  # the help was shown: nothing to add
                where = exc.ctx.command_path if exc.ctx is not None else (prog_name or "operando")
                error_line(f"{message} (see '{where} --help')")
            code = 2
        except (typer.Abort, KeyboardInterrupt):
            err_console.print("interrupted", highlight=False)
            code = 130
        except click_exceptions.ClickException as exc:
            error_line(exc.format_message())
            code = exc.exit_code
        else:
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            raise SystemExit(code)
        return code


def error_line(message: str) -> None:
    """Print one red ``error:`` line on stderr (markup in the message is escaped: "[bm3d]" is text)."""
    text = " ".join(str(message).split())  # one line, whatever the library wrote
    err_console.print(f"[red]error:[/red] {escape(text)}", soft_wrap=True, highlight=False, markup=True)


def note_line(message: str) -> None:
    """Print one yellow ``note:`` line on stderr."""
    text = " ".join(str(message).split())
    err_console.print(f"[yellow]note:[/yellow] {escape(text)}", soft_wrap=True, highlight=False, markup=True)


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Turn recorded warnings into notes: each distinct message once; numerical ones summed into one line."""
    numeric: dict[str, int] = {}
    shown: set[str] = set()
    for message in caught:
        category = message.category
        text = " ".join(str(message.message).split())
        if issubclass(category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            if VERBOSITY["level"] > 0:
                note_line(f"{category.__name__}: {text}")
            continue
        if issubclass(category, RuntimeWarning) and not issubclass(category, AxesAssumedWarning):
            numeric[text] = numeric.get(text, 0) + 1
            continue
        if text not in shown:
            shown.add(text)
            note_line(text)
    if numeric:
        summary = ", ".join(f"{text}{f' (x{n})' if n > 1 else ''}" for text, n in list(numeric.items())[:3])
        more = f" and {len(numeric) - 3} more" if len(numeric) > 3 else ""
        note_line(f"numerical warnings during the run: {summary}{more}; the results may hold NaN or inf where the "
                  "data was empty or constant")


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command in the error boundary: one line and an exit code, never a traceback.

    - the library's :class:`InputError`, missing files or optional extras, operating-system errors (permission,
      is-a-folder, disk full), and pydantic validation errors: one ``error:`` line, exit code 2;
    - Ctrl-C: ``interrupted``, exit code 130;
    - anything unexpected: one line pointing to ``-v`` for the traceback, exit code 1;
    - warnings: shown afterwards as ``note:`` lines, numerical ones summed into one.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    return fn(*args, **kwargs)
                except (typer.Exit, typer.Abort):
                    raise
                except (InputError, ImportError) as exc:
                    error_line(str(exc))
                    raise typer.Exit(2) from None
                except ValidationError as exc:
                    error_line(validation_reason(exc, option_names=True))
                    raise typer.Exit(2) from None
                except OSError as exc:
                    from .._files import describe_os_error

                    if VERBOSITY["level"] > 0:
                        err_console.print_exception()
                    error_line(describe_os_error(exc))
                    raise typer.Exit(2) from None
                except KeyboardInterrupt:
                    err_console.print("interrupted", highlight=False)
                    raise typer.Exit(130) from None
                except Cancelled as exc:
                    err_console.print(f"stopped: {exc}" if str(exc) else "stopped", highlight=False)
                    raise typer.Exit(130) from None
                except MemoryError:
                    error_line("out of memory; try a smaller input, --memory-limit or a .zarr output (streamed)")
                    raise typer.Exit(2) from None
                except Exception as exc:  # noqa: BLE001 - the boundary: one line, the traceback with -v
                    if VERBOSITY["level"] > 0:
                        err_console.print_exception()
                    error_line(f"unexpected {type(exc).__name__}: {exc} (this is a bug in operando; run with -v for "
                               "the traceback and report it)")
                    raise typer.Exit(1) from None
        finally:  # outside the recording block: re-shown warnings must not be recorded again
            _show_warnings(caught)

    return wrapper


def data_target(path: Path | None, option: str = "-o") -> Any:
    """Describe a data file written by :func:`operando.io.write` for the output guard (None: not given).

    The ending must name a writable format; a ``.zarr`` is a store (streamed runs resume into it); an STXM
    ``.hdr`` writes ``.xim`` images beside it and never replaces another scan's files.
    """
    if path is None:
        return None
    from .._files import Target
    from ..io import FORMATS, format_of

    try:
        fmt, file, _ = format_of(path)
    except InputError:
        fmt, file = None, Path(path)
    if fmt is None or not fmt.writable or fmt.name == "frames":
        endings = " ".join(s for f in FORMATS if f.writable for s in f.suffixes)
        raise InputError(f"{path}: {option} needs a file ending in one of {endings}")
    if fmt.name == "zarr":
        return Target(file, option, kind="store")
    if fmt.name == "stxm":
        import glob

        stem = file.name[: -len(".hdr")]
        pattern = glob.escape(str(file.parent)) + "/" + glob.escape(stem) + "_a*.xim"
        single = file.with_name(stem + "_a.xim")  # a one-energy scan's image, which the glob may find too
        companions = tuple(dict.fromkeys([*(Path(p) for p in glob.glob(pattern)), single]))
        return Target(file, option, companions=companions, replace=False)
    return Target(file, option)


def file_target(path: Path | None, option: str, suffixes: tuple[str, ...] = ()) -> Any:
    """Describe a plain file (JSON, CSV, figure) written by an option for the output guard (None: not given)."""
    if path is None:
        return None
    from .._files import Target

    return Target(Path(path), option, suffixes=suffixes)


FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def guard(*targets: Any, inputs: tuple[Any, ...] | list[Any] = ()) -> None:
    """Check every output against every input before any work (:func:`operando._files.check_outputs`)."""
    from .._files import check_outputs

    check_outputs(targets, inputs)


@contextmanager
def output_folder(folder: Path, *, inputs: tuple[Any, ...] | list[Any] = (), option: str = "-o",
                  extra: tuple[Any, ...] = ()) -> Iterator[Path]:
    """Guard an output folder, empty it of an earlier operando run's files (with a note) and record this run's."""
    from .._files import Target, check_outputs, clear_output_folder
    from .._files import output_folder as claim

    check_outputs((Target(Path(folder), option, kind="folder"), *extra), inputs)
    for note in clear_output_folder(folder):
        note_line(note)
    import sys

    from .._files import FOLDER_RECORD

    existed = Path(folder).exists()
    try:
        with claim(folder, command=" ".join(["operando", *sys.argv[1:]])) as path:
            yield path
    except BaseException:
        entries = list(Path(folder).iterdir()) if Path(folder).is_dir() else []
        if not existed and all(p.name == FOLDER_RECORD for p in entries):  # a new folder the run left empty
            for p in entries:
                p.unlink(missing_ok=True)
            Path(folder).rmdir()
        raise


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """Show a rich progress bar with ETA, fed by the library's progress events.

    The bar is drawn from the first update on, so a run refused while it reads its input prints one line; a
    run that fails half-way draws it no further (without a terminal rich prints the bar once when it stops,
    which would put a half-full bar above the one ``error:`` line).
    """
    from contextlib import ExitStack

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    quiet = err_console.quiet
    with ExitStack() as stack:
        stack.callback(setattr, err_console, "quiet", quiet)
        drawn: list[tuple[Any, Any]] = []

        def update(event: ProgressEvent) -> None:
            if event.fraction != event.fraction:  # a cancel check without news
                return
            if not drawn:
                bar = stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False))
                drawn.append((bar, bar.add_task(description, total=1.0)))
            bar, task = drawn[0]
            text = event.message
            if event.val_loss is not None:
                text += f" (val loss {event.val_loss:.3g})"
            bar.update(task, completed=min(max(event.fraction, 0.0), 1.0), description=text)

        try:
            yield update
        except BaseException:
            err_console.quiet = True  # restored by the callback after the bar has stopped
            raise


def print_rows(rows: list[dict[str, Any]], title: str) -> None:
    """Print rows of dicts as a table (floats to 4 significant digits, None as '-')."""
    table = Table(title=title)
    cols = list(rows[0]) if rows else []
    for c in cols:
        table.add_column(c, justify="right" if c != "name" else "left")
    for r in rows:
        table.add_row(*["-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()])
    console.print(table)
