"""What a workflow tells its caller while it works: the one seam between use cases and output.

Workflows print nothing. They call an `Events` object at each step (a plan is ready, the
network was applied, a run started); the CLI passes one that renders to the terminal,
tests pass a recorder, `NullEvents` ignores everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from oar_p2p.apply import ApplyResult
from oar_p2p.experiment import Progress, RunResult
from oar_p2p.plan import Plan
from oar_p2p.verify import VerifyReport

__all__ = ["Events", "NullEvents"]


class Events(Protocol):
    def progress(self, message: str) -> None:
        """A long step begins (reading machines, checking images)."""

    def plan(self, plan: Plan) -> None:
        """The plan is computed (before anything is written)."""

    def applied(self, result: ApplyResult) -> None:
        """Write scripts ran on the machines with changes."""

    def note(self, message: str) -> None:
        """A line for the user (decisions: "Experiment x: no changes (...)")."""

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        """A run of experiment `name` begins; logs go to `run_dir`."""

    def run_progress(self, progress: Progress) -> None:
        """A live count during a run."""

    def run_finished(self, result: RunResult, run_dir: Path) -> None:
        """A run ended (successfully or not)."""

    def verified(self, report: VerifyReport) -> None:
        """Sampled RTTs were measured (`apply --verify`)."""


class NullEvents:
    """Ignores every event."""

    def progress(self, message: str) -> None:
        pass

    def plan(self, plan: Plan) -> None:
        pass

    def applied(self, result: ApplyResult) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def run_started(self, name: str, containers: int, run_dir: Path) -> None:
        pass

    def run_progress(self, progress: Progress) -> None:
        pass

    def run_finished(self, result: RunResult, run_dir: Path) -> None:
        pass

    def verified(self, report: VerifyReport) -> None:
        pass
