from __future__ import annotations

import threading
import time

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError
from oar_p2p.remote.pool import describe_failure, for_each_machine, raise_for_failures


def test_results_in_input_order_with_failures_as_values() -> None:
    def fn(host: str) -> int:
        if host == "b":
            raise RemoteCommandError("b", "x", 1, "bad")
        time.sleep(0.05 if host == "a" else 0)
        return len(host)

    results = for_each_machine(["a", "b", "ccc"], fn)
    assert list(results) == ["a", "b", "ccc"]
    assert results["a"] == 1 and results["ccc"] == 3
    assert isinstance(results["b"], RemoteCommandError)


def test_no_cap_runs_everything_at_once() -> None:
    barrier = threading.Barrier(6, timeout=5)
    results = for_each_machine([f"m{i}" for i in range(6)], lambda h: barrier.wait(), limit=0)
    assert not any(isinstance(r, BaseException) for r in results.values())


def test_limit_caps_concurrency() -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def fn(host: str) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    for_each_machine([f"m{i}" for i in range(8)], fn, limit=2)
    assert peak == 2


def test_empty_and_duplicates() -> None:
    assert for_each_machine([], len) == {}
    with pytest.raises(ValueError, match="duplicate hosts"):
        for_each_machine(["a", "a"], len)


def test_ctrl_c_cancels_pending_work_and_propagates() -> None:
    started: list[str] = []

    def fn(host: str) -> None:
        started.append(host)
        if host == "m0":  # re-raised by future.result() in the waiting main thread, as Ctrl-C
            raise KeyboardInterrupt
        time.sleep(0.1)

    hosts = [f"m{i}" for i in range(10)]
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for_each_machine(hosts, fn, limit=1)
    assert time.monotonic() - t0 < 0.5  # did not wait for the queued machines
    time.sleep(0.3)
    assert started[0] == "m0" and len(started) <= 2  # the rest were cancelled


def test_raise_for_failures_names_every_failed_machine() -> None:
    results: dict[str, object] = {
        "gengar-1": 1,
        "gengar-2": RemoteCommandError("gengar-2", "bash -s", 2, "nft: oops\nline two"),
        "gengar-3": KeyError("x"),
    }
    with pytest.raises(ClusterError) as err:
        raise_for_failures(results, "applying")
    assert str(err.value) == (
        "applying failed on 2 of 3 machines:\n"
        "gengar-2: `bash -s` exited with status 2: nft: oops\n    line two\n"
        "gengar-3: KeyError: 'x'"
    )
    assert isinstance(err.value.__cause__, RemoteCommandError)


def test_raise_for_failures_returns_successes() -> None:
    assert raise_for_failures({"a": 1, "b": 2}, "x") == {"a": 1, "b": 2}


def test_describe_failure() -> None:
    assert describe_failure(ValueError("v")) == "ValueError: v"
    assert describe_failure(ClusterError("c")) == "c"
