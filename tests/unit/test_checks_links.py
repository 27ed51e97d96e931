"""`validate`'s jitter, loss and bandwidth checks: ok, skipped (count unknown), failed with
the located error, and the jitter-above-delay warning (text and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from oar_p2p.checks import CheckStatus, ValidationReport, validate_spec
from oar_p2p.checks.report import Check
from oar_p2p.errors import InputError
from oar_p2p.render.validation import render_validation, render_validation_json

MATRIX = "0 1 2 3\n1 0 1 2\n2 1 0 1\n3 2 1 0\n"


def _spec(tmp_path: Path, body: str, *, addresses: str = '"4"', **files: str) -> Path:
    (tmp_path / "latency.txt").write_text(MATRIX)
    for name, text in files.items():
        (tmp_path / f"{name}.txt").write_text(text)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: t\nnetwork:\n"
        f"  addresses: {addresses}\n  latency_matrix: latency.txt\n" + body
    )
    return spec


def _check(report: ValidationReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def test_without_the_keys_the_three_checks_say_none(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, ""))
    assert report.valid
    got = {n: (_check(report, n).status, _check(report, n).detail) for n in ("jitter", "loss")}
    assert got == {
        "jitter": (CheckStatus.OK, "none (no jitter)"),
        "loss": (CheckStatus.OK, "none (no loss)"),
    }
    assert _check(report, "bandwidth").detail == "none (no caps)"
    assert all(not c.warnings for c in report.checks)


def test_matrices_numbers_and_caps_pass(tmp_path: Path) -> None:
    body = (
        "  jitter: jitter.txt\n  loss: 0.5\n  bandwidth:\n    default: 100mbit\n"
        "    overrides: [{addresses: '0-1', rate: 10mbit}, {addresses: [3], rate: 1gbit}]\n"
    )
    report = validate_spec(_spec(tmp_path, body, jitter=MATRIX.replace("1", "0.5")))
    assert report.valid, report.error
    assert _check(report, "jitter").detail == (
        "matrix 4x4 like the latency matrix, every value at most 6553.2 ms"
    )
    assert _check(report, "loss").detail == "0.5% for every pair"
    assert _check(report, "bandwidth").detail == (
        "egress caps: 100mbit default, 2 overrides (no ingress caps); the 4 addresses get 3 "
        "distinct caps (10mbit, 100mbit, 1gbit)"
    )
    assert not _check(report, "jitter").warnings


def test_override_selections_are_skipped_without_a_count(tmp_path: Path) -> None:
    body = "  bandwidth:\n    default: 100mbit\n    overrides: [{addresses: '0-1', rate: 10mbit}]\n"
    report = validate_spec(_spec(tmp_path, body, addresses='"2/machine"'))
    check = _check(report, "bandwidth")
    assert check.status is CheckStatus.SKIPPED
    assert check.detail.endswith("the overrides' addresses exist depends on the address count")
    every = body.replace("'0-1'", "all")
    report = validate_spec(_spec(tmp_path, every, addresses='"2/machine"'))
    assert _check(report, "bandwidth").status is CheckStatus.OK


def test_an_override_beyond_the_addresses_fails_at_its_key(tmp_path: Path) -> None:
    body = "  bandwidth:\n    default: 100mbit\n    overrides: [{addresses: '2-5', rate: 10mbit}]\n"
    report = validate_spec(_spec(tmp_path, body))
    assert _check(report, "bandwidth").status is CheckStatus.FAILED
    assert isinstance(report.error, InputError)
    assert (report.error.line, report.error.col) == (8, 29)
    assert "address index 4 does not exist (allowed: 0..3" in report.error.message
    assert _check(report, "container-addresses").detail == "not run: the bandwidth check failed"


def test_a_bad_rate_fails_the_bandwidth_check_at_its_key(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "  bandwidth: {default: 100mbps}\n"))
    assert _check(report, "spec").status is CheckStatus.OK
    assert _check(report, "bandwidth").status is CheckStatus.FAILED
    assert isinstance(report.error, InputError)
    assert (report.error.line, report.error.col) == (6, 24)


def test_a_bad_loss_matrix_fails_the_loss_check_at_the_value(tmp_path: Path) -> None:
    report = validate_spec(
        _spec(tmp_path, "  loss: loss.txt\n", loss="0 1 1 1\n1 0 1 1\n1 1 0 1\n1 1 101 0\n")
    )
    assert _check(report, "jitter").status is CheckStatus.OK
    assert _check(report, "loss").status is CheckStatus.FAILED
    assert isinstance(report.error, InputError)
    assert (report.error.file, report.error.line, report.error.col) == (
        str(tmp_path / "loss.txt"),
        4,
        5,
    )


def test_a_jitter_matrix_of_another_dimension_fails_naming_both(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "  jitter: jitter.txt\n", jitter="0 1\n1 0\n"))
    assert _check(report, "jitter").status is CheckStatus.FAILED
    assert isinstance(report.error, InputError)
    assert "is 2x2 but the latency matrix 'latency.txt' is 4x4" in report.error.message


def test_jitter_above_the_delay_passes_with_a_warning(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "  jitter: 1.5\n"))
    assert report.valid
    check = _check(report, "jitter")
    assert check.status is CheckStatus.OK
    assert check.detail == "1.5 ms for every pair (normal distribution)"
    assert len(check.warnings) == 1
    assert check.warnings[0].startswith(
        "jitter exceeds the delay on 10 of the 16 matrix entries in use (first: row 0, "
        "column 0: jitter 1.5 ms > delay 0 ms); not clipped"
    )
    lines = list(render_validation(report))
    at = lines.index("ok       jitter: 1.5 ms for every pair (normal distribution)")
    assert lines[at + 1] == f"           warning: {check.warnings[0]}"
    doc = json.loads(render_validation_json(report))
    jitter = next(c for c in doc["checks"] if c["name"] == "jitter")
    assert jitter["warnings"] == list(check.warnings)
    assert all("warnings" not in c for c in doc["checks"] if c["name"] != "jitter")
