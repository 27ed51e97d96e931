"""`validate`'s timeline check: each rule failing (located at the step's key) and passing,
and skipped (not passed) what needs the address count."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.checks import CheckStatus, ValidationReport, validate_spec
from oar_p2p.checks.report import Check
from oar_p2p.errors import InputError

MATRIX = "0 1 2 3\n1 0 1 2\n2 1 0 1\n3 2 1 0\n"
CONTAINERS = "containers:\n  - {name: 'p-{index}', addresses: '0-2', image: alpine}\n"
SIGNALS = "signals: [{name: go, delay: 2}]\n"


def _validate(
    tmp_path: Path,
    timeline: str,
    *,
    addresses: str = '"4"',
    head: str = CONTAINERS + SIGNALS,
    network: str = "",
) -> ValidationReport:
    (tmp_path / "latency.txt").write_text(MATRIX)
    (tmp_path / "b.txt").write_text(MATRIX.replace("3", "7"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: t\nnetwork:\n"
        f"  addresses: {addresses}\n  latency_matrix: latency.txt\n{network}"
        + head
        + "timeline:\n"
        + timeline
    )
    return validate_spec(spec)


def _check(report: ValidationReport) -> Check:
    return next(c for c in report.checks if c.name == "timeline")


def _error(report: ValidationReport) -> tuple[int | None, int | None, str]:
    assert _check(report).status is CheckStatus.FAILED, _check(report)
    assert isinstance(report.error, InputError)
    return report.error.line, report.error.col, report.error.message


def test_no_timeline_is_ok(tmp_path: Path) -> None:
    report = _validate(tmp_path, "  []\n")
    assert report.valid and _check(report).detail == "none (no timeline)"


def test_a_full_timeline_passes_with_its_span(tmp_path: Path) -> None:
    timeline = (
        "  - {at: 1, network: {latency_matrix: b.txt, loss: 1}}\n"
        "  - {at: 2, partition: ['0-1', [2, 3]]}\n"
        "  - {at: 2, stop: '1-2', signal: mid}\n"  # same time, no network change: fine
        "  - {at: 3, heal: true, start: '1-2'}\n"
        "  - {at: 4, set: [{from: 0, to: 3, loss: 100}], repeat: {every: 2, times: 50}}\n"
        "  - {at: 0.5, after: started, restart: 0, signal: mid}\n"  # a name two steps share
    )
    report = _validate(tmp_path, timeline)
    assert report.valid, report.error
    check = _check(report)
    assert check.status is CheckStatus.OK
    assert check.detail == "6 steps (55 occurrences), 0.5 s to 104 s after all containers started"


def test_a_timeline_needs_containers(tmp_path: Path) -> None:
    report = _validate(tmp_path, "  - {at: 1, signal: x}\n", head=SIGNALS)
    line, col, message = _error(report)
    assert (line, col) == (8, 3)
    assert message.startswith("a timeline runs during the experiment run")


def test_an_anchor_must_be_a_signal_or_started(tmp_path: Path) -> None:
    line, col, message = _error(_validate(tmp_path, "  - {at: 1, after: og, signal: x}\n"))
    assert (line, col) == (10, 20)
    assert message == "anchor 'og' is no signal (allowed: go, started)"
    report = _validate(tmp_path, "  - {at: 1, after: started, signal: x}\n")
    assert report.valid, report.error


def test_a_signal_named_started_is_an_ambiguous_anchor(tmp_path: Path) -> None:
    head = CONTAINERS + "signals: [{name: started, delay: 2}]\n"
    line, col, message = _error(_validate(tmp_path, "  - {at: 1, signal: x}\n", head=head))
    assert (line, col) == (10, 5)  # the default anchor: at the step
    assert "anchor 'started' (the default anchor: the first signal) is ambiguous" in message
    head = CONTAINERS + "signals: [{name: go, delay: 1}, {name: started, delay: 2}]\n"
    assert _validate(tmp_path, "  - {at: 1, signal: x}\n", head=head).valid  # anchored at go


def test_a_step_signal_must_not_be_a_spec_signal(tmp_path: Path) -> None:
    line, col, message = _error(_validate(tmp_path, "  - {at: 1, signal: go}\n"))
    assert (line, col) == (10, 21)
    assert "signal 'go' is also in `signals:`: two writers of one signal file" in message


def test_selections_beyond_the_addresses_are_errors_at_their_key(tmp_path: Path) -> None:
    step = "  - {at: 1, set: [{from: '0-1', to: '2-5', latency: 5}]}\n"
    line, col, message = _error(_validate(tmp_path, step))
    assert (line, col) == (10, 37)
    assert message.startswith("timeline.0.set.0.to: address index 4 does not exist")
    line, col, _ = _error(_validate(tmp_path, "  - {at: 1, partition: ['0', 9]}\n"))
    assert (line, col) == (10, 30)


def test_selections_are_skipped_without_the_address_count(tmp_path: Path) -> None:
    step = "  - {at: 1, set: [{from: '0-1', to: '2-5', latency: 5}]}\n"
    head = "containers:\n  - {name: 'p-{index}', image: alpine}\n" + SIGNALS
    report = _validate(tmp_path, step, addresses='"2/machine"', head=head)
    check = _check(report)
    assert check.status is CheckStatus.SKIPPED
    assert check.detail.endswith("; not checked: the selections within the addresses")


def test_container_operations_need_a_container_at_each_address(tmp_path: Path) -> None:
    line, col, message = _error(_validate(tmp_path, "  - {at: 1, kill: '2-3'}\n"))
    assert (line, col) == (10, 19)
    assert message == (
        "timeline.0.kill: addresses 3 have no container (allowed: addresses with a container: 0-2)"
    )
    assert _validate(tmp_path, "  - {at: 1, kill: '1-2'}\n").valid


def test_partition_groups_must_not_overlap(tmp_path: Path) -> None:
    line, col, message = _error(_validate(tmp_path, "  - {at: 1, partition: ['0-2', '2-3']}\n"))
    assert (line, col) == (10, 32)
    assert message.startswith("address 2 is in partition groups 0 and 1 of timeline[0]")
    # explicit groups overlap without a count too
    head = "containers:\n  - {name: 'p-{index}', image: alpine}\n" + SIGNALS
    report = _validate(
        tmp_path, "  - {at: 1, partition: [0, '0-1']}\n", addresses='"1/machine"', head=head
    )
    assert _error(report)[2].startswith("address 0 is in partition groups 0 and 1")


@pytest.mark.parametrize(
    ("key", "at_col"), [("set: [{from: 0, to: 4, loss: 1}]", 18), ("partition: [0, 4]", 24)]
)
def test_pair_changes_with_matrix_wrap_need_a_row_per_address(
    tmp_path: Path, key: str, at_col: int
) -> None:
    head = "containers:\n  - {name: 'p-{index}', image: alpine}\n" + SIGNALS
    network = "  matrix_wrap: true\n"
    step = f"  - {{at: 1, {key}}}\n"
    report = _validate(tmp_path, step, addresses='"6"', head=head, network=network)
    line, col, message = _error(report)
    assert (line, col) == (11, at_col)
    assert "share their row, so a pair's value would change every pair sharing its rows" in (
        message
    )
    fits = _validate(tmp_path, step.replace("4", "3"), addresses='"4"', head=head, network=network)
    assert fits.valid, fits.error


def test_too_many_occurrences_are_an_error(tmp_path: Path) -> None:
    step = "  - {at: 1, signal: x, repeat: {every: 1, times: 60000}}\n"
    line, col, message = _error(_validate(tmp_path, step + step))
    assert (line, col) == (10, 3)
    assert message.startswith("the timeline expands to 120000 occurrences")


def test_two_network_changes_at_one_time_are_an_error_naming_both(tmp_path: Path) -> None:
    timeline = (
        "  - {at: 1, set: [{from: 0, to: 1, loss: 1}], repeat: {every: 2, times: 3}}\n"
        "  - {at: 5, heal: true}\n"
    )
    line, col, message = _error(_validate(tmp_path, timeline))
    assert (line, col) == (11, 5)
    assert message.startswith(
        "timeline[0] and timeline[1] both change the network at 7 s after all containers "
        "started (occurrences 3 and 1; allowed: one network change at one time: merge"
    )
    assert _validate(tmp_path, timeline.replace("at: 5", "at: 5.5")).valid


def test_a_step_cap_override_beyond_the_addresses_is_located(tmp_path: Path) -> None:
    step = (
        "  - at: 1\n    network:\n      bandwidth:\n        default: 1mbit\n"
        "        overrides: [{addresses: '3-4', rate: 2mbit}]\n"
    )
    line, col, message = _error(_validate(tmp_path, step))
    assert (line, col) == (14, 33)
    assert "address index 4 does not exist" in message


def test_a_bad_step_matrix_fails_the_timeline_check(tmp_path: Path) -> None:
    (tmp_path / "small.txt").write_text("0 1\n1 0\n")
    report = _validate(tmp_path, "  - {at: 1, network: {latency_matrix: small.txt}}\n")
    line, col, message = _error(report)
    assert (line, col) == (10, 39)
    assert "is 2x2 but the base latency matrix 'latency.txt' is 4x4" in message


def test_container_operations_pass_without_a_count_when_every_address_has_one(
    tmp_path: Path,
) -> None:
    head = "containers:\n  - {name: 'p-{index}', image: alpine}\n" + SIGNALS
    report = _validate(tmp_path, "  - {at: 1, stop: all}\n", addresses='"2/machine"', head=head)
    assert _check(report).status is CheckStatus.OK, _check(report)
    report = _validate(tmp_path, "  - {at: 1, stop: 1}\n", addresses='"2/machine"', head=head)
    assert _check(report).detail.endswith("not checked: the selections within the addresses")
