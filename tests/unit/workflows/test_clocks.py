"""The clock check before a run: refusal naming the machines, the flag, the manifest keys."""

from __future__ import annotations

import time

import pytest

from oar_p2p.cluster.machines import Machine
from oar_p2p.errors import ClusterError, ConnectError
from oar_p2p.remote.clock_probe import CLOCK_LOOP
from oar_p2p.remote.executors import RootExecutor
from oar_p2p.session import Session
from oar_p2p.settings import resolve_settings
from oar_p2p.workflows.clocks import REMEDY, check_clocks
from oar_p2p.workflows.events import NullEvents
from tests.fakes import Call, FakeTransport

HOSTS = ["gengar-1", "gengar-2", "gengar-3"]


class Recorder(NullEvents):
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.steps: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def progress(self, message: str) -> None:
        self.steps.append(message)


def session(skews_ms: dict[str, float], env: dict[str, str] | None = None) -> Session:
    def answer(call: Call, _line: str) -> str:
        return f"{time.time() + skews_ms[call.host] / 1000:.6f}"

    fake = FakeTransport().on_lines(CLOCK_LOOP, answer)
    machines = [
        Machine(hostname=h, index=i, cpus=1, interface="eth0") for i, h in enumerate(skews_ms)
    ]
    settings = resolve_settings({}, env or {})
    return Session(fake, RootExecutor(), machines, settings=settings)


def test_clocks_in_agreement_go_into_the_manifest() -> None:
    events = Recorder()
    check = check_clocks(session({"gengar-1": 0, "gengar-2": 12, "gengar-3": -5}), events)
    doc = check.manifest
    assert list(check.offsets) == HOSTS
    assert check.offsets["gengar-2"].offset_s == pytest.approx(0.012, abs=0.002)
    assert set(doc) == {"clocks", "clock_spread_ms", "clock_threshold_ms"}
    assert list(doc["clocks"]) == HOSTS
    for host, skew in (("gengar-1", 0), ("gengar-2", 12), ("gengar-3", -5)):
        c = doc["clocks"][host]
        assert set(c) == {"offset_ms", "uncertainty_ms", "rtt_ms"}
        assert abs(c["offset_ms"] - skew) <= c["uncertainty_ms"] + 0.002, (host, c)
    assert doc["clock_spread_ms"] == pytest.approx(17, abs=1)
    assert doc["clock_threshold_ms"] == 50.0
    assert events.notes == [] and events.steps == ["reading the machines' clocks"]


def test_a_spread_beyond_the_threshold_refuses_the_run_naming_the_machines() -> None:
    s = session({"gengar-1": 0, "gengar-2": 80, "gengar-3": -5})
    with pytest.raises(ClusterError) as err:
        check_clocks(s, Recorder())
    first, why, remedy = str(err.value).splitlines()
    assert first == "the run was refused:"
    assert why.startswith("the clocks of gengar-2 and gengar-3 differ by 85.")
    assert "more than the 50 ms allowed (gengar-2 +80.0 ms, gengar-3 -5.0 ms" in why
    assert remedy == REMEDY
    assert "--allow-clock-skew" in remedy and "OAR_P2P_CLOCK_THRESHOLD_MS" in remedy


def test_the_threshold_comes_from_the_settings() -> None:
    skews = {"gengar-1": 0.0, "gengar-2": 30.0}
    with pytest.raises(ClusterError, match="more than the 20 ms allowed"):
        check_clocks(session(skews, {"OAR_P2P_CLOCK_THRESHOLD_MS": "20"}), Recorder())
    assert check_clocks(session(skews), Recorder()).manifest["clock_threshold_ms"] == 50.0


def test_allow_skew_warns_and_records_the_warning() -> None:
    events = Recorder()
    s = session({"gengar-1": 0, "gengar-2": 80, "gengar-3": -5})
    doc = check_clocks(s, events, allow_skew=True).manifest
    assert len(events.notes) == 1
    assert events.notes[0].startswith("warning: the clocks of gengar-2 and gengar-3 differ by")
    assert events.notes[0].endswith("(--allow-clock-skew: running anyway)")
    assert doc["clock_warnings"] == [events.notes[0][len("warning: ") :].split(" (--allow")[0]]
    assert doc["clock_spread_ms"] == pytest.approx(85, abs=1)


def test_a_machine_whose_clock_cannot_be_read_refuses_unless_allowed() -> None:
    s = session({"gengar-1": 0, "gengar-2": 0, "gengar-3": 0})
    assert isinstance(s.transport, FakeTransport)
    s.transport.lines.clear()  # no line channel: the probe falls back to `run`
    s.transport.on("echo ${EPOCHREALTIME:-$(date +%s.%N)}", handler=lambda c: f"{time.time()}\n")
    s.transport.replies[("gengar-3", "echo ${EPOCHREALTIME:-$(date +%s.%N)}")] = ConnectError(
        "gengar-3: connection refused"
    )
    with pytest.raises(ClusterError) as err:
        check_clocks(s, Recorder())
    assert str(err.value).splitlines()[1] == (
        "could not read the clock of gengar-3: gengar-3: connection refused"
    )
    check = check_clocks(s, Recorder(), allow_skew=True)
    assert list(check.offsets) == ["gengar-1", "gengar-2"]
    doc = check.manifest
    assert list(doc["clocks"]) == ["gengar-1", "gengar-2"]
    assert doc["clock_failures"] == {"gengar-3": "gengar-3: connection refused"}
