"""`validate`'s report -> text for people, or one JSON document.

Text: one line per check (and its warnings, indented), how to run the skipped ones, then
the summary line:

    ok       spec: YAML, schema and value rules (experiment 'ping-demo')
    skipped  machines: the job decides them (none given): ...
    how to run the skipped checks: pass --machine HOST (repeatable) or ...
    spec.yaml: valid (matrix 5x5, 1 container groups, 1 signals, 4 addresses; 8 ok, 2 skipped)

JSON (`format_version` 1):

    {"format_version": 1, "spec": "spec.yaml", "valid": true, "error": null,
     "checks": [{"name": "spec", "status": "ok", "detail": "...", "how": null}, ...],
     (a check with warnings has "warnings": ["..."]; the others have no such key)
     "counts": {"ok": 8, "skipped": 2, "failed": 0},
     "facts": {"matrix_dimension": 5, "container_groups": 1, "signals": 1,
               "addresses": 4, "machines": null}}
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from oar_p2p.checks.report import Check, CheckStatus, ValidationReport

__all__ = ["FORMAT_VERSION", "render_validation", "render_validation_json", "summary"]

FORMAT_VERSION = 1
_WIDTH = max(len(s.value) for s in CheckStatus) + 2


def render_validation(report: ValidationReport) -> Iterator[str]:
    """Lines of the human view (no trailing newlines)."""
    for c in report.checks:
        yield f"{c.status.value:<{_WIDTH}}{c.name}: {c.detail}"
        for warning in c.warnings:
            yield f"{'':<{_WIDTH}}  warning: {warning}"
    hows = dict.fromkeys(c.how for c in report.checks if c.how)
    for how in hows:
        yield f"how to run the skipped checks: {how}"
    yield summary(report)


def summary(report: ValidationReport) -> str:
    """`SPEC: valid (matrix DxD, G container groups, S signals[, N addresses[ on M
    machines]]; K ok[, K skipped])`, or `SPEC: invalid (...)`."""
    f = report.facts
    parts = []
    if f.dimension is not None:
        parts.append(f"matrix {f.dimension}x{f.dimension}")
    if f.groups is not None:
        parts.append(f"{f.groups} container groups, {f.signals} signals")
    if f.addresses is not None:
        on = "" if f.machines is None else f" on {f.machines} machines"
        parts.append(f"{f.addresses} addresses{on}")
    counts = report.counts()
    tally = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    verdict = "valid" if report.valid else "invalid"
    inside = "; ".join(text for text in (", ".join(parts), tally) if text)
    return f"{report.spec}: {verdict} ({inside})"


def render_validation_json(report: ValidationReport) -> str:
    """The report as one JSON document (with a trailing newline)."""
    f = report.facts
    doc = {
        "format_version": FORMAT_VERSION,
        "spec": report.spec,
        "valid": report.valid,
        "error": None if report.error is None else str(report.error),
        "checks": [_check(c) for c in report.checks],
        "counts": report.counts(),
        "facts": {
            "matrix_dimension": f.dimension,
            "container_groups": f.groups,
            "signals": f.signals,
            "addresses": f.addresses,
            "machines": f.machines,
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def _check(c: Check) -> dict[str, object]:
    doc: dict[str, object] = {
        "name": c.name,
        "status": c.status.value,
        "detail": c.detail,
        "how": c.how,
    }
    if c.warnings:
        doc["warnings"] = list(c.warnings)
    return doc
