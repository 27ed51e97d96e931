"""Golden files of what the CLI sends: `tests/cli_tier/golden/<case>/<host>.<NN>.<what>.sh`.

One file per call: the host, the command line and the stdin, normalised
(`calls.normalise`). `NN` counts the calls each host received, in order (hosts are driven
in parallel, so the interleaving across hosts is not part of the contract; the order on
each host is).

    OAR_P2P_UPDATE_GOLDEN=1 python3 -m pytest tests/cli_tier   # rewrite them; review the diff

Without it, any difference fails with a unified diff of every changed file and the names
of the missing and unexpected ones.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.cli_tier.calls import normalise, what
from tests.fakes import Call

__all__ = ["GOLDEN", "check_golden", "render_calls"]

GOLDEN = Path(__file__).resolve().parent / "golden"


def render_calls(calls: Sequence[Call], tmp: Path | None = None) -> dict[str, str]:
    """file name -> content, one per call."""
    out: dict[str, str] = {}
    count: dict[str, int] = {}
    for call in calls:
        count[call.host] = count.get(call.host, 0) + 1
        name = f"{call.host}.{count[call.host]:02d}.{what(call.command, call.stdin)}.sh"
        stdin = normalise(call.stdin.decode("utf-8", errors="replace"), tmp)
        out[name] = (
            f"# host: {call.host}\n# command: {normalise(call.command, tmp)}\n# stdin:\n{stdin}"
        )
    return out


def check_golden(case: str, calls: Sequence[Call], tmp: Path | None = None) -> None:
    """Compare the calls with `golden/<case>/`, or rewrite it with OAR_P2P_UPDATE_GOLDEN=1."""
    actual = render_calls(calls, tmp)
    directory = GOLDEN / case
    if os.environ.get("OAR_P2P_UPDATE_GOLDEN") == "1":
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name, text in actual.items():
            (directory / name).write_text(text)
        return
    expected = {p.name: p.read_text() for p in sorted(directory.glob("*.sh"))}
    if expected == actual:
        return
    lines = [f"the scripts sent in case {case!r} differ from tests/cli_tier/golden/{case}/"]
    for name in sorted(expected.keys() - actual.keys()):
        lines.append(f"missing call (expected, not sent): {name}")
    for name in sorted(actual.keys() - expected.keys()):
        lines.append(f"unexpected call (sent, no golden): {name}")
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            lines += difflib.unified_diff(
                expected[name].splitlines(),
                actual[name].splitlines(),
                f"golden/{case}/{name}",
                f"sent/{name}",
                lineterm="",
            )
    lines.append("if the change is intended: OAR_P2P_UPDATE_GOLDEN=1, then review git diff")
    pytest.fail("\n".join(lines), pytrace=False)
