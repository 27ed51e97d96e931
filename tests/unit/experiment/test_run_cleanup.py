"""Any failure once containers exist stops them, collects their logs, removes them, re-raises.

Issue 14: only `OarP2PError` and Ctrl-C were handled; a bug (or any foreign exception)
after `start` left the run's containers running on the machines.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError
from tests.fakes import Reply

from .test_run import FakeCluster, make_exp, run
from .test_signals import FakeClock


class Boom(Exception):
    """Stands for any bug: not an OarP2PError, not a KeyboardInterrupt."""


def _releasing(cluster: FakeCluster) -> None:
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "stop":
            cluster.release.set()
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]


def test_a_foreign_exception_while_running_stops_collects_removes_and_reraises(
    tmp_path: Path,
) -> None:
    cluster = FakeCluster(make_exp())
    cluster.release.clear()
    _releasing(cluster)

    class BrokenClock(FakeClock):
        def wait(self, event: threading.Event, timeout: float) -> bool:
            raise Boom("clock broke")

    with pytest.raises(Boom, match="clock broke"):
        run(cluster, tmp_path, clock=BrokenClock())
    for host in ("gengar-1", "gengar-2"):
        order = cluster.order(host)
        assert order[:3] == ["preflight", "create", "start"], order
        assert [p for p in order if p in ("stop", "inspect", "logs", "remove")] == [
            "stop",
            "inspect",
            "logs",
            "remove",
        ], order
        assert order[-1] == "remove"
    # the logs were collected before the removal
    assert (tmp_path / "out" / "peer-0.stdout").read_text().startswith("peer-0 line 0")


def test_a_failed_start_stops_and_removes_what_may_have_started(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "start" and host == "gengar-2":
            return phase, Reply(stderr="docker: cannot start", status=1)
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]
    with pytest.raises(ClusterError, match="starting containers failed on 1 of 2 machines"):
        run(cluster, tmp_path)
    for host in ("gengar-1", "gengar-2"):
        order = cluster.order(host)
        assert order == ["preflight", "create", "start", "stop", "inspect", "logs", "remove"]


def test_a_failed_create_only_removes(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.fail_create = {"peer-1"}
    with pytest.raises(ClusterError, match="creating containers"):
        run(cluster, tmp_path)
    for host in ("gengar-1", "gengar-2"):
        assert cluster.order(host) == ["preflight", "create", "remove"]


def test_a_failing_cleanup_does_not_hide_the_original_error(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.release.clear()
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "stop":
            cluster.release.set()
            return phase, RemoteCommandError(host, "docker stop", 1, "daemon gone")
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]

    class BrokenClock(FakeClock):
        def wait(self, event: threading.Event, timeout: float) -> bool:
            raise Boom("original")

    with pytest.raises(Boom, match="original"):
        run(cluster, tmp_path, clock=BrokenClock())
    assert cluster.order("gengar-1")[-1] == "remove"
