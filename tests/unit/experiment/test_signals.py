"""The signal timeline and its firing, with a fake clock and `tests.fakes.FakeTransport`."""

from __future__ import annotations

import threading

from oar_p2p.errors import ConnectError
from oar_p2p.experiment.signals import (
    SignalGroup,
    SystemClock,
    fire_group,
    fire_signals,
    timeline,
)
from oar_p2p.spec.models import SignalEntry
from tests.fakes import Call, FakeTransport, Reply

WALL = 1_795_000_000.0


class FakeClock:
    """Monotonic time that jumps when waited on; wall time = monotonic + WALL."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + WALL

    def wait(self, event: threading.Event, timeout: float) -> bool:
        self.waits.append(timeout)
        if event.is_set():
            return True
        self.now += max(timeout, 0.0)
        return event.is_set()


def sig(name: str, delay: float) -> SignalEntry:
    return SignalEntry(name=name, delay=delay)


def recorder(clock: FakeClock, fired: list[tuple[float, str, bytes]]):
    def handle(call: Call) -> Reply:
        fired.append((clock.now, call.host, call.stdin))
        return Reply()

    return handle


def test_timeline_groups_equal_delays_in_order() -> None:
    got = timeline([sig("end", 60), sig("start", 5), sig("go", 5), sig("now", 0)])
    assert got == [
        SignalGroup(0, ("now",)),
        SignalGroup(5, ("go", "start")),
        SignalGroup(60, ("end",)),
    ]


def test_signals_fire_at_their_delay_from_t0_on_every_host() -> None:
    clock = FakeClock()
    fired: list[tuple[float, str, bytes]] = []
    fake = FakeTransport(handler=recorder(clock, fired))
    clock.now = 100.0
    out = fire_signals(
        fake,
        ["h1", "h2"],
        [sig("start", 5), sig("end", 12.5)],
        t0=100.0,
        t0_wall=WALL + 100,
        clock=clock,
        done=threading.Event(),
    )
    assert sorted((t, h) for t, h, _ in fired) == [
        (105.0, "h1"),
        (105.0, "h2"),
        (112.5, "h1"),
        (112.5, "h2"),
    ]
    assert [(f.name, f.delay, f.timestamp) for f in out] == [
        ("start", 5, int(WALL + 105)),
        ("end", 12.5, int(WALL + 112.5)),
    ]
    assert out[0].scheduled_at == WALL + 105 and set(out[0].fired_at) == {"h1", "h2"}
    script = next(s for t, h, s in fired if t == 105.0 and h == "h2").decode()
    assert f"printf '%s' {int(WALL + 105)} > /tmp/oar-p2p-signal/start.tmp" in script
    assert all(c.command == "sh -s" for c in fake.calls)


def test_a_late_start_fires_due_signals_immediately() -> None:
    clock = FakeClock()
    fired: list[tuple[float, str, bytes]] = []
    clock.now = 50.0
    fire_signals(
        FakeTransport(handler=recorder(clock, fired)),
        ["h1"],
        [sig("start", 0), sig("late", 10)],
        t0=45.0,
        t0_wall=WALL + 45,
        clock=clock,
        done=threading.Event(),
    )
    assert [t for t, _, _ in fired] == [50.0, 55.0]


def test_signals_stop_when_the_run_is_done_or_past_its_deadline() -> None:
    clock = FakeClock()
    fired: list[tuple[float, str, bytes]] = []
    done = threading.Event()
    done.set()
    kw = dict(t0=0.0, t0_wall=WALL, clock=clock)
    fake = FakeTransport(handler=recorder(clock, fired))
    assert fire_signals(fake, ["h"], [sig("s", 1)], done=done, **kw) == []  # type: ignore[arg-type]
    out = fire_signals(
        fake,
        ["h"],
        [sig("a", 1), sig("b", 30)],
        done=threading.Event(),
        until=10.0,
        **kw,  # type: ignore[arg-type]
    )
    assert [f.name for f in out] == ["a"] and len(fired) == 1


def test_a_failing_host_is_recorded_and_the_others_still_fire() -> None:
    clock = FakeClock()

    def handle(call: Call) -> Reply | BaseException:
        return ConnectError("h2: connection refused") if call.host == "h2" else Reply()

    (firing,) = fire_group(
        FakeTransport(handler=handle),
        ["h1", "h2"],
        SignalGroup(1, ("start",)),
        scheduled_at=WALL,
        clock=clock,
    )
    assert set(firing.fired_at) == {"h1"}
    assert firing.errors == {"h2": "h2: connection refused"}


def test_system_clock_waits_on_the_event() -> None:
    clock = SystemClock()
    event = threading.Event()
    event.set()
    assert clock.wait(event, 10) is True
    assert clock.wait(threading.Event(), 0.01) is False
    assert clock.time() > WALL - 10**8 and clock.monotonic() > 0
