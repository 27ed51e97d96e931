"""What `validate` found: named checks, each ok, skipped (and how to run it) or failed.

A check that needs facts the spec alone does not give (the job's machines) is *skipped*,
never silently passed: its `how` says what would let it run. Checks run in order; the
first failure stops the others, which are listed as skipped ("not run").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from oar_p2p.errors import OarP2PError

__all__ = [
    "HOW_MACHINES",
    "Check",
    "CheckStatus",
    "Facts",
    "Outcome",
    "ValidationReport",
    "ok",
    "run_checks",
    "skipped",
]

HOW_MACHINES = (
    "pass --machine HOST (repeatable) or set cluster.machines in the spec, "
    "or run `oar-p2p plan SPEC` against the job"
)

C = TypeVar("C")


class CheckStatus(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What one check returned: ok with what it saw, or skipped with why and how."""

    status: CheckStatus
    detail: str
    how: str | None = None
    warnings: tuple[str, ...] = ()  # what passes but will not be shaped exactly as asked


def ok(detail: str, warnings: tuple[str, ...] = ()) -> Outcome:
    return Outcome(CheckStatus.OK, detail, warnings=warnings)


def skipped(reason: str, how: str | None = HOW_MACHINES) -> Outcome:
    return Outcome(CheckStatus.SKIPPED, reason, how)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: CheckStatus
    detail: str
    how: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    """What the checks learned about the spec (None: not known without machines)."""

    dimension: int | None = None
    groups: int | None = None
    signals: int | None = None
    addresses: int | None = None
    machines: int | None = None


@dataclass(frozen=True)
class ValidationReport:
    """Every check of one spec, the error of the failed one, and the facts learned."""

    spec: str
    checks: tuple[Check, ...]
    facts: Facts
    error: OarP2PError | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    def counts(self) -> dict[str, int]:
        """``{"ok": N, "skipped": N, "failed": N}``, every status present."""
        return {s.value: sum(1 for c in self.checks if c.status is s) for s in CheckStatus}


def run_checks(
    steps: Sequence[tuple[str, Callable[[C], Outcome]]], context: C
) -> tuple[list[Check], OarP2PError | None]:
    """Run `steps` in order on `context`; a step raising an `OarP2PError` fails, and the
    steps after it are listed as skipped (not run), with no `how`."""
    checks: list[Check] = []
    error: OarP2PError | None = None
    failed = ""
    for name, step in steps:
        if error is not None:
            checks.append(Check(name, CheckStatus.SKIPPED, f"not run: the {failed} check failed"))
            continue
        try:
            out = step(context)
        except OarP2PError as exc:
            # kept in the report, re-raised by the CLI: without the frames of this run
            error, failed = exc.with_traceback(None), name
            checks.append(Check(name, CheckStatus.FAILED, str(exc)))
            continue
        checks.append(Check(name, out.status, out.detail, out.how, out.warnings))
    return checks, error
