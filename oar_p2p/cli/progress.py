"""Long steps on stderr: a spinner with the elapsed time on a terminal, plain lines otherwise.

A step starts with `begin(text)` and lasts until the next step begins or `end()` (the CLI
ends the current step before it prints anything else). On a terminal, the running step is
a transient rich spinner (`⠋ reading 2 machines (3 s)`) and a finished step stays as one
dim line with its time; elsewhere (a pipe, a file, CI) each step is a plain line when it
starts and a `... done (1.2 s)` line when it ends:

    ... listing the job's machines
    ... done (0.4 s)

A step that fails is not ended: the error line follows its start line. Counts within a step
(`update`) redraw the spinner; in plain mode they are printed at each tenth of the total.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import typer
from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

__all__ = ["Steps", "stderr_console"]

Clock = Callable[[], float]


def stderr_console() -> Console:
    """A rich console on the current stderr (it decides whether that is a terminal)."""
    return Console(stderr=True, highlight=False)


class _Elapsed:
    """The spinner's text: the step and the seconds it has run, computed at each redraw."""

    def __init__(self, text: str, started: float, clock: Clock) -> None:
        self.text, self.started, self.clock = text, started, clock

    def __rich__(self) -> RenderableType:
        return Text(f"{self.text} ({self.clock() - self.started:.0f} s)")


class Steps:
    """The current step; thread-safe (a run reports counts from one thread per machine)."""

    def __init__(
        self, *, console: Console | None = None, live: bool = False, clock: Clock = time.monotonic
    ) -> None:
        self.console = console
        self.live = live and console is not None
        self.clock = clock
        self._lock = threading.Lock()
        self._text: str | None = None
        self._started = 0.0
        self._tenth = -1
        self._display: Live | None = None

    def begin(self, text: str, done: int = 0, total: int = 0) -> None:
        """End the current step (if any) and start `text`."""
        with self._lock:
            self._end()
            self._text, self._started = text, self.clock()
            self._tenth = self._tenths(done, total)
            if self.live:
                self._start_display()
            else:
                _plain(f"... {text}")

    def update(self, text: str, done: int, total: int) -> None:
        """New counts for the current step."""
        with self._lock:
            if self._text is None:
                return
            self._text = text
            if self._display is not None:
                self._display.update(self._spinner())
                return
            tenth = self._tenths(done, total)
            if tenth != self._tenth:
                self._tenth = tenth
                _plain(f"... {text}")

    @property
    def current(self) -> str | None:
        """The text of the running step, if one runs."""
        return self._text

    def end(self) -> None:
        """The current step finished: its time is printed."""
        with self._lock:
            self._end()

    def stop(self) -> None:
        """Stop showing the current step without calling it done (it failed)."""
        with self._lock:
            self._stop_display()
            self._text = None

    def _end(self) -> None:
        if self._text is None:
            return
        took = self.clock() - self._started
        self._stop_display()
        if self.live and self.console is not None:
            self.console.print(Text(f"... {self._text} ({took:.1f} s)", style="dim"))
        else:
            _plain(f"... done ({took:.1f} s)")
        self._text = None

    def _spinner(self) -> Spinner:
        return Spinner("dots", _Elapsed(self._text or "", self._started, self.clock))

    def _start_display(self) -> None:
        self._display = Live(
            self._spinner(),
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._display.start()

    def _stop_display(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    @staticmethod
    def _tenths(done: int, total: int) -> int:
        return done * 10 // total if total > 0 else 0


def _plain(line: str) -> None:
    typer.secho(line, err=True, fg=typer.colors.BRIGHT_BLACK)
