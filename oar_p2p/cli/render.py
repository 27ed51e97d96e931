"""Terminal output: the `Events` a workflow emits, rendered as lines on stdout/stderr
(long steps through `progress.Steps`)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import typer
from rich.console import Console

from oar_p2p.apply import ApplyResult
from oar_p2p.cli.progress import Steps, stderr_console
from oar_p2p.experiment import Progress, RunResult
from oar_p2p.plan import Plan
from oar_p2p.render.human import render_plan
from oar_p2p.render.verify import render_report
from oar_p2p.verify import VerifyReport

__all__ = ["CompatEvents", "TerminalEvents", "echo_lines", "write"]


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    for line in lines:
        typer.echo(line, err=err)


def write(chunks: Iterable[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def report_apply(result: ApplyResult) -> None:
    for m in result.machines:
        if m.ok:
            kernel = sum(m.kernel_ns.values()) / 1e9
            typer.echo(
                f"{m.hostname}: applied in {m.seconds:.2f} s (kernel {kernel:.2f} s, "
                f"{m.bytes_sent} bytes)"
            )
        else:
            typer.secho(f"{m.hostname}: FAILED: {m.error}", fg=typer.colors.RED, err=True)


def report_run(result: RunResult, run_dir: Path) -> None:
    for note in result.notes:
        typer.echo(f"note: {note}")
    for f in result.failed:
        typer.secho(
            f"{f.name} on {f.machine} exited with {f.exit_code}", fg=typer.colors.RED, err=True
        )
        for label, tail in (("stdout", f.stdout_tail), ("stderr", f.stderr_tail)):
            for line in tail.splitlines()[-20:]:
                typer.echo(f"  {label}| {line}", err=True)
    ok = sum(1 for c in result.containers if c.exit_code == 0)
    typer.echo(
        f"Run finished: {ok} of {len(result.containers)} containers exited 0; "
        f"manifest {result.manifest_path or run_dir / 'manifest.json'}"
    )


class TerminalEvents:
    """The reconciler's output: the plan, apply results, run progress and outcome.

    Long steps (`progress`, `run_progress`) go to stderr through `Steps`: used as a context
    manager (`with TerminalEvents() as events, spec_session(...)`), a spinner when stderr
    is a terminal and nothing else logs there, plain lines otherwise; the step that runs is
    ended (its time printed) before any other output, and at the end of the block unless
    it raised. `progress=False` (`--json`) shows no step at all.
    """

    def __init__(self, *, verbose: bool = False, progress: bool = True) -> None:
        self.verbose = verbose
        self.show_progress = progress
        self.steps = Steps()
        self._phase: str | None = None
        self._lock = threading.Lock()  # a run reports from one thread per machine

    def __enter__(self) -> TerminalEvents:
        console = stderr_console()
        if self.show_progress and _spinner_fits(console):
            self.steps = Steps(console=console, live=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.steps.end()
        else:
            self.steps.stop()

    def _output(self) -> None:
        """Whatever is printed next ends the running step first."""
        self.steps.end()
        self._phase = None

    def progress(self, message: str) -> None:
        if self.show_progress:
            self._phase = None
            self.steps.begin(message)

    def plan(self, plan: Plan) -> None:
        self._output()
        echo_lines(render_plan(plan, verbose=self.verbose))

    def applied(self, result: ApplyResult) -> None:
        self._output()
        report_apply(result)

    def note(self, message: str) -> None:
        self._output()
        typer.echo(message)

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        self._output()
        typer.echo(f"Running experiment {name}: {containers} containers, logs in {run_dir}")

    def run_progress(self, p: Progress) -> None:
        if not self.show_progress:
            return
        detail = f" ({p.detail})" if p.detail else ""
        text = f"{p.phase}: {p.done}/{p.total} {p.unit}{detail}"
        with self._lock:
            if p.phase == self._phase:
                self.steps.update(text, p.done, p.total)
            else:
                self._phase = p.phase
                self.steps.begin(text, p.done, p.total)

    def run_finished(self, result: RunResult, run_dir: Path) -> None:
        self._output()
        report_run(result, run_dir)

    def verified(self, report: VerifyReport) -> None:
        self._output()
        echo_lines(render_report(report, False)[-3:])


def _spinner_fits(console: Console) -> bool:
    """A spinner needs a real terminal on stderr, and no log lines written there."""
    quiet = logging.getLogger("oar_p2p").getEffectiveLevel() >= logging.WARNING
    return console.is_terminal and not console.is_dumb_terminal and quiet


class CompatEvents(TerminalEvents):
    """The original's commands: no plan, no run progress, the original's run headline."""

    def plan(self, plan: Plan) -> None:
        pass

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        self._output()
        typer.echo(f"Running {containers} containers, logs in {run_dir}")

    def run_progress(self, p: Progress) -> None:
        pass
