"""`validate`'s checks (`oar_p2p.checks`): what runs without machines, what is skipped and
why, what fails and where, and the same spec with machines given."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.checks import CHECK_NAMES, CheckStatus, ValidationReport, validate_spec
from oar_p2p.checks.report import HOW_MACHINES, Check, Facts
from oar_p2p.errors import InputError
from oar_p2p.render.validation import render_validation, summary

MATRIX = "0 1 2 3 4\n1 0 1 2 3\n2 1 0 1 2\n3 2 1 0 1\n4 3 2 1 0\n"
HEAD = "version: 1\nname: t\n"


def _spec(tmp_path: Path, body: str, *, matrix: str = MATRIX, addresses: str = '"4"') -> Path:
    (tmp_path / "latency.txt").write_text(matrix)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        HEAD + f"network:\n  addresses: {addresses}\n  latency_matrix: latency.txt\n" + body
    )
    return spec


def _status(report: ValidationReport) -> dict[str, str]:
    return {c.name: c.status.value for c in report.checks}


def _check(report: ValidationReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def _error(report: ValidationReport) -> InputError:
    assert isinstance(report.error, InputError), report
    return report.error


def test_every_check_is_listed_once_in_order(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, ""))
    assert [c.name for c in report.checks] == list(CHECK_NAMES)
    assert report.valid


def test_a_total_count_is_checked_without_machines(tmp_path: Path) -> None:
    body = "containers:\n  - {name: 'p{index}', image: alpine, addresses: '0-3'}\n"
    report = validate_spec(_spec(tmp_path, body))
    assert report.valid
    assert _status(report) == {
        "spec": "ok",
        "matrix": "ok",
        "signals": "ok",
        "machines": "skipped",
        "addresses": "ok",
        "matrix-rows": "ok",
        "latencies": "ok",
        "jitter": "ok",
        "loss": "ok",
        "bandwidth": "ok",
        "container-addresses": "ok",
        "container-names": "ok",
        "timeline": "ok",
        "overrides": "ok",
    }
    assert _check(report, "machines").how == HOW_MACHINES
    assert _check(report, "container-names").detail == "4 names, valid and unique"
    assert report.facts == Facts(dimension=5, groups=1, signals=0, addresses=4, machines=None)


def test_container_addresses_beyond_a_total_count_fail_at_the_selection(tmp_path: Path) -> None:
    body = "containers:\n  - name: 'p{index}'\n    image: alpine\n    addresses: '0-9'\n"
    report = validate_spec(_spec(tmp_path, body))
    err = _error(report)
    assert (err.line, err.col) == (9, 16)  # the group's `addresses` value
    assert "address index 4 does not exist (allowed: 0..3" in err.message
    assert _status(report)["container-addresses"] == "failed"
    rest = [c for c in report.checks if c.name in ("container-names", "timeline", "overrides")]
    assert all(c.status is CheckStatus.SKIPPED and "not run" in c.detail for c in rest)
    assert all(c.how is None for c in rest)


def test_duplicate_signal_names_fail_without_machines(tmp_path: Path) -> None:
    body = "signals:\n  - {name: go, delay: 1}\n  - {name: go, delay: 2}\n"
    report = validate_spec(_spec(tmp_path, body, addresses="4/cpu"))
    err = _error(report)
    assert (err.line, err.col) == (8, 12)
    assert err.message == "signal 'go' is listed twice (allowed: unique signal names)"


def test_a_per_cpu_count_skips_what_needs_the_machines(tmp_path: Path) -> None:
    body = "containers:\n  - {name: 'p{index}', image: alpine}\n"
    report = validate_spec(_spec(tmp_path, body, addresses="4/cpu"))
    assert report.valid
    skips = {c.name: c.detail for c in report.checks if c.status is CheckStatus.SKIPPED}
    assert skips == {
        "machines": "none given: the job decides them",
        "addresses": "4/cpu: the count depends on the job's machines (their number and cpus)",
        "matrix-rows": "the address count is not known; the matrix has 5 rows",
        "container-names": "not checked: containers[0] (its addresses need the address count)",
    }
    assert all(c.how == HOW_MACHINES for c in report.checks if c.status is CheckStatus.SKIPPED)
    # `all` is within any count; every entry of the matrix is within range
    assert _check(report, "container-addresses").detail == "every group selects all addresses"
    assert _check(report, "latencies").status is CheckStatus.OK
    assert report.facts.addresses is None


def test_the_same_spec_with_machines_checks_everything(tmp_path: Path) -> None:
    body = "containers:\n  - {name: 'p{index}', image: alpine}\n"
    spec = _spec(tmp_path, body, addresses="1/machine")
    report = validate_spec(spec, ["gengar-1", "gengar-2"])
    assert set(_status(report).values()) == {"ok"}
    assert report.facts == Facts(dimension=5, groups=1, signals=0, addresses=2, machines=2)
    assert _check(report, "machines").detail.startswith("2 from --machine (gengar-1, gengar-2)")
    # too many for the matrix once the machines are known: located at the matrix's key
    spec.write_text(spec.read_text().replace("1/machine", "3/machine"))
    report = validate_spec(spec, ["gengar-1", "gengar-2"])
    err = _error(report)
    assert err.message.startswith("6 addresses but the latency matrix has only 5 rows")
    assert (err.line, err.col) == (5, 19)


def test_machine_flags_win_over_cluster_machines(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "cluster: {machines: [gengar-1, gengar-2]}\n")
    assert _check(validate_spec(spec), "machines").detail.startswith("2 from cluster.machines")
    report = validate_spec(spec, ["gengar-3"])
    assert _check(report, "machines").detail.startswith("1 from --machine (gengar-3)")
    assert report.facts.machines == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["gengar-1", "gengar-1"], "--machine 'gengar-1' is given twice"),
        (["nova-99"], "machine 'nova-99' is not in the machine table"),
        (["-oProxyCommand=x"], "--machine"),
    ],
)
def test_bad_machine_flags_fail_the_machines_check(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    report = validate_spec(_spec(tmp_path, ""), flags)
    assert _status(report)["machines"] == "failed"
    assert message in str(report.error)


def test_names_with_explicit_indices_are_checked_without_a_count(tmp_path: Path) -> None:
    body = (
        "containers:\n  - {name: server, image: alpine, addresses: [0]}\n"
        "  - {name: server, image: alpine, addresses: '1'}\n"
    )
    report = validate_spec(_spec(tmp_path, body, addresses="2/machine"))
    err = _error(report)
    assert (err.line, err.col) == (8, 12)  # the second group's name
    assert "container name 'server' is rendered more than once (by containers[0] and " in (
        err.message
    )
    assert _status(report)["container-addresses"] == "skipped"


def test_names_using_machine_facts_are_skipped_and_say_why(tmp_path: Path) -> None:
    body = (
        "containers:\n  - {name: 'a-{index}', image: alpine, addresses: [0, 1]}\n"
        "  - {name: 'b-{machine}-{address}', image: alpine, addresses: [2]}\n"
    )
    check = _check(validate_spec(_spec(tmp_path, body)), "container-names")
    assert check.status is CheckStatus.SKIPPED
    assert check.detail == (
        "2 names checked (valid, unique); not checked: containers[1] (its name uses "
        "{address}, {machine})"
    )
    assert check.how == HOW_MACHINES


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ('"20000000"', "20000000 addresses fit in no job (allowed: at most 65024 per machine"),
        ("70000/machine", "every machine would get at least 70000 addresses (allowed: at most"),
        ("70000/cpu", "every machine would get at least 70000 addresses"),
    ],
)
def test_counts_no_job_can_hold_fail_without_machines(
    tmp_path: Path, addresses: str, message: str
) -> None:
    report = validate_spec(_spec(tmp_path, "  matrix_wrap: true\n", addresses=addresses))
    err = _error(report)
    assert (err.line, err.col) == (4, 14)
    assert err.message.startswith(message), err.message


def test_a_total_count_beyond_one_machine_says_how_many_machines(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "  matrix_wrap: true\n", addresses='"70000"'))
    assert report.valid
    detail = _check(report, "addresses").detail
    assert detail.endswith("needs at least 2 machines (65024 per machine)")
    assert _check(report, "matrix-rows").detail == "70000 addresses over 5 rows (matrix_wrap)"


def test_zero_per_machine_is_a_known_count(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "", addresses="0/cpu"))
    assert report.facts.addresses == 0
    assert _status(report)["matrix-rows"] == "ok"


def test_wrapped_rows_fit_any_count(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "  matrix_wrap: true\n", addresses="4/machine"))
    rows = _check(report, "matrix-rows")
    assert rows.status is CheckStatus.OK and rows.detail.startswith("matrix_wrap")


BIG = "0 1 1 1\n1 0 1 1\n1 1 0 7000\n1 1 1 0\n"


def test_a_latency_out_of_range_is_skipped_when_its_use_is_unknown(tmp_path: Path) -> None:
    report = validate_spec(_spec(tmp_path, "", matrix=BIG, addresses="1/machine"))
    check = _check(report, "latencies")
    assert check.status is CheckStatus.SKIPPED
    assert check.detail.startswith("latency 7000.0 ms (row 2, column 3) is too large")
    assert report.valid


@pytest.mark.parametrize(("count", "valid"), [('"3"', True), ('"4"', False)])
def test_a_latency_out_of_range_fails_when_in_use(tmp_path: Path, count: str, valid: bool) -> None:
    report = validate_spec(_spec(tmp_path, "", matrix=BIG, addresses=count))
    assert report.valid is valid
    if not valid:
        err = _error(report)
        assert (err.line, err.col) == (5, 19)
        assert "latency 7000.0 ms (row 2, column 3) is too large" in err.message


def test_overrides_are_matched_against_the_machines(tmp_path: Path) -> None:
    body = "cluster:\n  overrides: {gengar-1: {cpus: 2}, gengar-l: {cpus: 2}}\n"
    spec = _spec(tmp_path, body)
    check = _check(validate_spec(spec), "overrides")
    assert check.status is CheckStatus.SKIPPED
    assert check.detail == "2 given; which of them apply depends on the job's machines"
    check = _check(validate_spec(spec, ["gengar-1", "gengar-2"]), "overrides")
    assert check.status is CheckStatus.OK
    assert check.detail == "1 of 2 apply to the machines; unused (not among them): gengar-l"


def test_a_missing_spec_fails_the_first_check(tmp_path: Path) -> None:
    report = validate_spec(tmp_path / "nope.yaml")
    assert _status(report)["spec"] == "failed"
    assert report.counts() == {"ok": 0, "skipped": len(CHECK_NAMES) - 1, "failed": 1}
    assert report.facts == Facts()
    assert summary(report) == f"{tmp_path / 'nope.yaml'}: invalid (13 skipped, 1 failed)"


def test_human_lines_name_each_check_then_how_then_the_summary(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "", addresses="2/machine")
    lines = list(render_validation(validate_spec(spec)))
    assert len(lines) == len(CHECK_NAMES) + 2
    assert lines[3] == "skipped  machines: none given: the job decides them"
    assert lines[0].startswith("ok       spec: ")
    assert lines[-2] == f"how to run the skipped checks: {HOW_MACHINES}"
    assert lines[-1] == (
        f"{spec}: valid (matrix 5x5, 0 container groups, 0 signals; 11 ok, 3 skipped)"
    )
