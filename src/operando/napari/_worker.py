"""The job panel every operando widget shares: Run and Stop buttons, a progress bar, a status line and the runner.

A widget builds its form, adds a :class:`JobPanel` and, when Run is clicked, calls
``panel.start(job, on_done)``. ``job(progress)`` runs in a worker thread (napari's ``create_worker``) so the
viewer never freezes; ``progress`` is an operando progress callback whose :class:`operando.ProgressEvent`
reports cross to the GUI thread through a Qt signal (the bar, the status line and :attr:`JobPanel.progressed`,
which a widget connects to draw a loss plot) and which raises :class:`operando.Cancelled` once Stop was
clicked. ``on_done(result)`` runs in the GUI thread (it adds the layers; a string it returns becomes the
status). An error in the job or in ``on_done`` becomes one line in the status, no dialog; Stop ends the job at
its next report with "stopped" and no ``on_done``. Run is enabled again at the end and
:attr:`JobPanel.finished` is emitted with the outcome (``"done"``, ``"stopped"`` or ``"error"``): tests wait on
it with ``qtbot.waitSignal(panel.finished)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from operando import Cancelled, InputError, ProgressEvent

__all__ = ["JobPanel", "error_line"]

#: Reports without losses reach the GUI at most this often (seconds); losses and the final report always do.
_MIN_INTERVAL_S = 0.05


def error_line(exc: BaseException) -> str:
    """Return the one line a user sees for ``exc``: the message of an InputError, else ``Type: message``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, InputError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Relay(QObject):
    """Carries progress events from the worker thread to the GUI thread (a queued signal)."""

    event = Signal(object)


class JobPanel(QWidget):
    """Run / Stop buttons, a progress bar and a status line, and the runner that drives them.

    Signals
    -------
    progressed(ProgressEvent)
        Every forwarded progress report, in the GUI thread.
    finished(str)
        ``"done"``, ``"stopped"`` or ``"error"``, after ``on_done`` ran and Run was enabled again.
    """

    progressed = Signal(object)
    finished = Signal(str)

    def __init__(self, run_text: str = "Run", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_button = QPushButton(run_text)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.status = QLabel("ready")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        self.worker: Any = None
        #: The largest fraction the running (or last) job reported, in [0, 1].
        self.max_fraction = 0.0
        #: The last outcome: None before any run, then "done", "stopped" or "error".
        self.outcome: str | None = None
        self._stop = threading.Event()
        self._relay = _Relay()
        self._relay.event.connect(self._on_event)
        self.stop_button.clicked.connect(self.stop)

    # ---- running -------------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        """Whether a job is running now."""
        return self.worker is not None

    def start(self, job: Callable[[Callable[[ProgressEvent], None]], Any],
              on_done: Callable[[Any], Any] | None = None, *, message: str = "running") -> Any:
        """Run ``job(progress)`` in a worker thread, then ``on_done(result)`` in the GUI thread; return the worker.

        ``on_done`` may return the status line to show (default ``"done"``).

        Refused (returns None, status says so) while another job of this panel runs.
        """
        from napari.qt.threading import create_worker

        if self.is_running():
            self.status.setText("a job is already running: stop it first")
            return None
        self._stop = threading.Event()
        stop, relay, last = self._stop, self._relay, [0.0]
        self.destroyed.connect(lambda *_: stop.set())  # the widget closed (the viewer quit): end the job too

        def progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            loss = event.train_loss is not None or event.val_loss is not None
            if loss or event.fraction >= 1.0 or now - last[0] >= _MIN_INTERVAL_S:
                last[0] = now
                relay.event.emit(event)
            if stop.is_set():
                raise Cancelled("stopped from the widget")

        def call() -> tuple[str, Any]:
            try:
                return "done", job(progress)
            except Cancelled:
                return "stopped", None
            except Exception as exc:  # noqa: BLE001 - every error becomes the status line
                return "error", exc

        self.max_fraction = 0.0
        self.outcome = None
        self.progress_bar.setValue(0)
        self.status.setText(message)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        worker = create_worker(call, _start_thread=False)
        worker.returned.connect(lambda result: self._on_returned(result, on_done))
        self.worker = worker
        worker.start()
        return worker

    def fail(self, exc: BaseException) -> None:
        """Show ``exc`` as the status line of a run refused before it started; emits ``finished("error")``."""
        self.outcome = "error"
        self.status.setText(error_line(exc))
        self.finished.emit("error")

    def stop(self) -> None:
        """Ask the running job to stop at its next progress report."""
        if self.is_running():
            self._stop.set()
            self.stop_button.setEnabled(False)
            self.status.setText("stopping...")

    # ---- GUI-thread slots ----------------------------------------------------------------------------------
    def _on_event(self, event: ProgressEvent) -> None:
        if event.fraction == event.fraction:  # NaN: a cancel check, nothing new to show
            self.max_fraction = max(self.max_fraction, event.fraction)
            self.progress_bar.setValue(int(round(100 * event.fraction)))
            if event.message and not self._stop.is_set():
                self.status.setText(event.message)
        self.progressed.emit(event)

    def _on_returned(self, result: tuple[str, Any], on_done: Callable[[Any], Any] | None) -> None:
        outcome, value = result
        if outcome == "done":
            try:
                line = on_done(value) if on_done is not None else None
            except Exception as exc:  # noqa: BLE001 - shown as one line
                outcome, value = "error", exc
            else:
                self.progress_bar.setValue(100)
                self.status.setText(line if isinstance(line, str) and line else "done")
        if outcome == "stopped":
            self.status.setText("stopped")
        elif outcome == "error":
            self.status.setText(error_line(value))
        self.worker = None
        self.outcome = outcome
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.finished.emit(outcome)
