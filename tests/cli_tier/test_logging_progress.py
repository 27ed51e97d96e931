"""Logging and progress through the CLI, against the replayed machines: a debug run logs every
remote command with its host, status, bytes and time on stderr, stdout stays clean JSON,
and long steps fall back to plain `...` lines when stderr is not a terminal."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from tests.cli_tier.replay import ReplayCluster
from tests.cli_tier.test_cli_tier import cli, work  # noqa: F401  (`work` is a fixture)

pytestmark = pytest.mark.timeout(60)

TRACE = re.compile(
    r"^ *\d+\.\d{3} debug oar_p2p\.remote\.trace: (?P<host>\S+) \$ (?P<cmd>.+?)"
    r"(?: \(script (?P<script>[\d,]+) B\))?: exit (?P<status>-?\d+)(?: \(\w+\))?, "
    r"sent (?P<sent>[\d,]+) B, received (?P<received>[\d,]+) B, (?P<secs>\d+\.\d{3}) s$"
)


def _applied() -> ReplayCluster:
    return ReplayCluster(step="applied", network="applied", containers=("applied", "cli-tier"))


def _traces(stderr: str) -> list[re.Match[str]]:
    found = [TRACE.match(line) for line in stderr.splitlines()]
    return [m for m in found if m is not None]


def _num(text: str | None) -> int:
    return int((text or "0").replace(",", ""))


@pytest.mark.parametrize("how", [["-vv"], ["--log-level", "debug"], ["--log-level", "DEBUG"]])
def test_debug_logs_every_remote_command_and_stdout_stays_json(work: Path, how: list[str]) -> None:  # noqa: F811
    cluster = _applied()
    result = cli(cluster, work, *how, "show", "spec.yaml", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # nothing but the document on stdout
    assert [m["hostname"] for m in doc["machines"]] == ["gengar-1", "gengar-2"]
    traces = _traces(result.stderr)
    calls = cluster.fake.calls
    assert len(calls) == 5  # oarstat, then per machine: its read and its containers
    assert len(traces) == len(calls), result.stderr
    # every call once: its host, its command's first line, what went each way
    logged = sorted(
        (m["host"], m["cmd"].split()[0], _num(m["script"]), _num(m["sent"]), m["status"])
        for m in traces
    )
    sent = sorted(
        (c.host, c.command.split()[0], len(c.stdin), len(c.command.encode()) + len(c.stdin), "0")
        for c in calls
    )
    assert logged == sent
    assert all(_num(m["received"]) > 0 for m in traces if m["cmd"].startswith("oarstat"))
    assert all(float(m["secs"]) >= 0 for m in traces)


def test_the_environment_sets_the_level_and_the_flag_wins(
    work: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OAR_P2P_LOG", "debug")
    result = cli(_applied(), work, "show", "spec.yaml", "--json")
    assert result.exit_code == 0, result.output
    assert len(_traces(result.stderr)) == 5
    quiet = cli(_applied(), work, "--log-level", "warning", "show", "spec.yaml", "--json")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    json.loads(quiet.stdout)


def test_info_names_the_settings_and_their_sources_and_no_command(work: Path) -> None:  # noqa: F811
    result = cli(_applied(), work, "-v", "show", "spec.yaml", "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    err = result.stderr
    assert " info oar_p2p.workflows.connect: running on elsewhere; settings: job=4242 " in err
    assert "(env OAR_JOB_ID), frontend=testbed-frontend (env FRONTEND_HOSTNAME)" in err
    assert "host_key_policy=strict (default)" in err
    assert " info oar_p2p.workflows.connect: 2 machines: gengar-1 gengar-2\n" in err
    assert " debug " not in err and _traces(err) == []


def test_a_bad_level_is_one_error_line(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    cluster = _applied()
    monkeypatch.setenv("OAR_P2P_LOG", "loud")
    result = cli(cluster, work, "show", "spec.yaml")
    assert result.exit_code == 1
    assert (
        result.stderr == "error: invalid OAR_P2P_LOG 'loud': allowed: debug, info, warning, error\n"
    )
    both = cli(cluster, work, "-v", "--log-level", "info", "show", "spec.yaml")
    assert both.exit_code == 1
    assert both.stderr == "error: -v and --log-level both set the log level: give one of them\n"
    assert cluster.fake.calls == []  # refused before anything was sent


def test_logging_is_undone_after_the_command(work: Path) -> None:  # noqa: F811
    logger = logging.getLogger("oar_p2p")
    before = (list(logger.handlers), logger.level, logger.propagate)
    result = cli(_applied(), work, "-vv", "show", "spec.yaml", "--json")
    assert result.exit_code == 0, result.output
    assert (list(logger.handlers), logger.level, logger.propagate) == before


# --- progress: plain lines when stderr is not a terminal --------------------------------

STEPS = [
    "listing the job's machines",
    "reading 2 machines",
    "applying 58 changes on 2 machine(s)",
    "reading the machines' clocks",
    "preflight: 0/2 machines",
    "create: 0/2 containers",
    "start: 0/2 containers",
    "wait: 0/2 containers",
    "logs: 0/2 machines",
]


def test_apply_shows_each_step_and_its_time_as_plain_lines(work: Path) -> None:  # noqa: F811
    cluster = ReplayCluster(step="apply", network="empty")
    result = cli(cluster, work, "apply", "spec.yaml", "--output-dir", "runs")
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "\x1b" not in err and "\r" not in err  # no terminal control on a pipe
    lines = err.splitlines()
    assert all(line.startswith("... ") for line in lines), err
    starts = [line[4:] for line in lines if not line.startswith("... done (")]
    assert [s for s in starts if not re.search(r": [12]/2 ", s)] == STEPS
    # each step is closed by its time, right before the next one starts (or at the end)
    dones = [i for i, line in enumerate(lines) if re.fullmatch(r"\.\.\. done \(\d+\.\d s\)", line)]
    assert len(dones) == len(STEPS)
    assert dones[-1] == len(lines) - 1
    # and nothing of it on stdout, where the plan and the outcome are
    assert "..." not in result.stdout
    assert "Run finished: 2 of 2 containers exited 0" in result.stdout


def test_json_output_shows_no_step(work: Path) -> None:  # noqa: F811
    cluster = ReplayCluster(step="empty", network="empty")
    result = cli(cluster, work, "plan", "spec.yaml", "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert not [line for line in result.stderr.splitlines() if line.startswith("...")]
