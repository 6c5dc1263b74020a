"""Structured progress and cooperative cancel.

A long job takes ``progress``, a callable of one argument, and reports :class:`ProgressEvent` objects to it
with :func:`emit`. The caller draws a bar, plots the losses or stops the job: raising :class:`Cancelled` from the
callback stops the job at its next report, and the job leaves no partial output behind (streamed output keeps
its finished chunks). Jobs that have no natural report point call :func:`check_cancel` in their loops, so that
a stop is honoured within a few seconds.

>>> events = []
>>> emit(events.append, 0.5, "half way", step=10, train_loss=0.01)
>>> events[0].fraction, events[0].step
(0.5, 10)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cancelled", "Progress", "ProgressEvent", "check_cancel", "emit", "stop_after", "sub_progress"]


class Cancelled(BaseException):
    """A job was stopped by its caller (raised from the progress callback).

    It derives from ``BaseException``, like ``asyncio.CancelledError`` and ``KeyboardInterrupt``, so that a job's
    ``except Exception`` fallbacks do not swallow it.
    """


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report.

    Attributes
    ----------
    fraction : float
        Fraction of the job done, in [0, 1].
    message : str
        What the job is doing, one short line.
    step : int or None
        Training or iteration step, where there is one.
    train_loss, val_loss : float or None
        The latest training and validation losses, while a network trains.
    fields : mapping
        Anything else a job reports (for example ``{"frames_per_s": 12.5}``).
    """

    fraction: float
    message: str
    step: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the event as plain data (``fields`` merged in)."""
        out: dict[str, Any] = {"fraction": self.fraction, "message": self.message}
        out.update({k: v for k, v in (("step", self.step), ("train_loss", self.train_loss),
                                      ("val_loss", self.val_loss)) if v is not None})
        out.update(self.fields)
        return out


#: A progress callback: called with one :class:`ProgressEvent`; raise :class:`Cancelled` in it to stop the job.
Progress = Callable[[ProgressEvent], Any]

_KNOWN = ("step", "train_loss", "val_loss")


def emit(progress: Progress | None, fraction: float, message: str, **fields: Any) -> None:
    """Report progress to ``progress`` (nothing when it is None).

    Keyword arguments ``step``, ``train_loss`` and ``val_loss`` fill the event's attributes; any other keyword
    goes into ``fields``. A :class:`Cancelled` raised by the callback propagates to the job's caller.
    """
    if progress is None:
        return
    known = {k: fields.pop(k) for k in _KNOWN if k in fields}
    progress(ProgressEvent(float(min(max(fraction, 0.0), 1.0)), message, fields=fields, **known))


def check_cancel(progress: Progress | None, fraction: float | None = None, message: str = "") -> None:
    """Give the caller a chance to stop the job where there is nothing new to report.

    Calls the callback with the last fraction (or ``fraction``) and ``message``; cheap for callbacks that only
    check a flag. Jobs call it inside loops that would otherwise run for more than a few seconds unheard.
    """
    if progress is None:
        return
    progress(ProgressEvent(float(fraction) if fraction is not None else float("nan"), message))


def sub_progress(progress: Progress | None, start: float, stop: float, prefix: str = "") -> Progress | None:
    """Return a callback for a sub-task that maps its fraction [0, 1] onto [start, stop] of ``progress``.

    ``prefix`` is put before each message (``"variant 2: "``). Returns None when ``progress`` is None, so that
    sub-tasks skip their reports too.
    """
    if progress is None:
        return None
    span = stop - start

    def forward(event: ProgressEvent) -> Any:
        fraction = event.fraction if event.fraction != event.fraction else start + span * event.fraction
        return progress(ProgressEvent(fraction, prefix + event.message, event.step, event.train_loss,
                                      event.val_loss, event.fields))

    return forward


def stop_after(seconds: float, progress: Progress | None = None) -> Progress:
    """Return a callback that forwards to ``progress`` and raises :class:`Cancelled` once ``seconds`` have passed.

    For a time-limited service or a test: ``denoise(video, progress=stop_after(60))``.
    """
    deadline = time.monotonic() + seconds

    def callback(event: ProgressEvent) -> None:
        if progress is not None:
            progress(event)
        if time.monotonic() > deadline:
            raise Cancelled(f"stopped after {seconds:g} s")

    return callback
