"""Long steps: plain `...` lines with `done (N s)` off a terminal, a transient spinner and a
dim finished line on one, counts at each tenth, a failed step left without `done`."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from oar_p2p.cli.progress import Steps
from oar_p2p.cli.render import TerminalEvents, _spinner_fits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_start_and_end_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    steps = Steps(clock=clock)
    steps.begin("listing the job's machines")
    clock.now += 0.42
    steps.begin("reading 2 machines")
    clock.now += 1.26
    steps.end()
    steps.end()  # nothing runs any more: nothing printed
    assert capsys.readouterr().err == (
        "... listing the job's machines\n... done (0.4 s)\n"
        "... reading 2 machines\n... done (1.3 s)\n"
    )


def test_a_failed_step_is_not_done(capsys: pytest.CaptureFixture[str]) -> None:
    steps = Steps(clock=Clock())
    steps.begin("reading 2 machines")
    steps.stop()
    steps.end()
    assert capsys.readouterr().err == "... reading 2 machines\n"


def test_plain_counts_are_printed_at_each_tenth(capsys: pytest.CaptureFixture[str]) -> None:
    steps = Steps(clock=Clock())
    steps.begin("wait: 0/100 containers", 0, 100)
    for done in range(1, 101):
        steps.update(f"wait: {done}/100 containers", done, 100)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"... wait: {n}/100 containers" for n in range(0, 101, 10)]


def test_on_a_terminal_a_spinner_then_a_line_with_the_time() -> None:
    out = io.StringIO()
    clock = Clock()
    steps = Steps(console=Console(file=out, force_terminal=True, width=80), live=True, clock=clock)
    steps.begin("listing the job's machines")
    clock.now += 0.4
    steps.begin("reading 2 machines")
    clock.now += 2.0
    steps.update("reading 2 machines (1 left)", 1, 2)
    steps.stop()  # failed: its spinner goes, no line stays
    text = out.getvalue()
    assert "listing the job's machines (0 s)" in text  # the spinner's text, while it ran
    assert "... listing the job's machines (0.4 s)" in text  # what stays
    assert "reading 2 machines (1 left) (2 s)" in text  # the update, with the step's time
    assert "... reading 2 machines" not in text  # never a finished line
    assert "done (" not in text


def test_terminal_events_are_plain_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with TerminalEvents() as events:
        assert not events.steps.live
        events.progress("reading 2 machines")
        events.note("Apply complete: 2 machine(s) changed.")
    out, err = capsys.readouterr()
    assert out == "Apply complete: 2 machine(s) changed.\n"
    assert err.startswith("... reading 2 machines\n... done (")


def test_terminal_events_without_progress_print_no_step(capsys: pytest.CaptureFixture[str]) -> None:
    with TerminalEvents(progress=False) as events:
        events.progress("reading 2 machines")
    assert capsys.readouterr().err == ""


def test_a_step_that_raises_leaves_no_done(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), TerminalEvents() as events:
        events.progress("reading 2 machines")
        raise RuntimeError("boom")
    assert capsys.readouterr().err == "... reading 2 machines\n"


def test_the_spinner_needs_a_terminal_and_no_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert _spinner_fits(terminal)
    assert not _spinner_fits(Console(file=io.StringIO(), force_terminal=False))
    monkeypatch.setenv("TERM", "dumb")
    assert not _spinner_fits(Console(file=io.StringIO(), force_terminal=True))
    monkeypatch.setenv("TERM", "xterm-256color")
    logger = logging.getLogger("oar_p2p")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert not _spinner_fits(terminal)
    finally:
        logger.setLevel(level)
