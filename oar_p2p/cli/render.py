"""Terminal output: the `Events` a workflow emits, rendered as lines on stdout/stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import typer

from oar_p2p.apply import ApplyResult
from oar_p2p.experiment import Progress, RunResult
from oar_p2p.plan import Plan
from oar_p2p.render.human import render_plan
from oar_p2p.render.verify import render_report
from oar_p2p.verify import VerifyReport

__all__ = ["CompatEvents", "TerminalEvents", "echo_lines", "progress_line", "write"]


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    for line in lines:
        typer.echo(line, err=err)


def write(chunks: Iterable[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def progress_line(message: str) -> None:
    typer.secho(f"... {message}", err=True, fg=typer.colors.BRIGHT_BLACK)


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
    """The reconciler's output: the plan, apply results, run progress and outcome."""

    def __init__(self, *, verbose: bool = False, progress: bool = True) -> None:
        self.verbose = verbose
        self.show_progress = progress

    def progress(self, message: str) -> None:
        if self.show_progress:
            progress_line(message)

    def plan(self, plan: Plan) -> None:
        echo_lines(render_plan(plan, verbose=self.verbose))

    def applied(self, result: ApplyResult) -> None:
        report_apply(result)

    def note(self, message: str) -> None:
        typer.echo(message)

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        typer.echo(f"Running experiment {name}: {containers} containers, logs in {run_dir}")

    def run_progress(self, p: Progress) -> None:
        detail = f" ({p.detail})" if p.detail else ""
        progress_line(f"{p.phase}: {p.done}/{p.total} {p.unit}{detail}")

    def run_finished(self, result: RunResult, run_dir: Path) -> None:
        report_run(result, run_dir)

    def verified(self, report: VerifyReport) -> None:
        echo_lines(render_report(report, False)[-3:])


class CompatEvents(TerminalEvents):
    """The original's commands: no plan, no run progress, the original's run headline."""

    def plan(self, plan: Plan) -> None:
        pass

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        typer.echo(f"Running {containers} containers, logs in {run_dir}")

    def run_progress(self, p: Progress) -> None:
        pass
