"""measure_offsets with a fake cluster whose clocks are skewed on purpose."""

from __future__ import annotations

import itertools
import threading

import pytest

from oar_p2p.errors import ClusterError, ConnectError
from oar_p2p.remote.clock_probe import CLOCK_LOOP, READ_CLOCK, measure_offsets, wall_clock
from tests.fakes import Call, FakeLineChannel, FakeTransport, Reply

EPOCH = 1_765_000_000.0


class SkewedCluster:
    """One simulated time line: our clock, and each machine's ahead of it by its skew. A
    command's trip out and back take different times, and the first is slow (connecting)."""

    def __init__(self, skews: dict[str, float]) -> None:
        self.skews = skews
        self.t = EPOCH
        self.lock = threading.Lock()
        self.trips = {h: itertools.chain([(0.030, 0.002)], itertools.cycle(TRIPS)) for h in skews}
        self.fake = FakeTransport(handler=self.answer)

    def now(self) -> float:
        with self.lock:
            return self.t

    def answer(self, call: Call) -> Reply | None:
        if call.command != READ_CLOCK:
            return None
        with self.lock:
            out, back = next(self.trips[call.host])
            self.t += out
            reading = self.t + self.skews[call.host]
            self.t += back
        return Reply(f"{reading:.6f}\n")


# (out, back) seconds: asymmetric, so the midpoint is never exactly the reading
TRIPS = [(0.0009, 0.0002), (0.0004, 0.0011), (0.0003, 0.0001), (0.0020, 0.0005)]


def test_the_estimate_recovers_each_skew_within_its_uncertainty() -> None:
    skews = {"gengar-1": 0.0, "gengar-2": 0.0732, "gengar-3": -0.0415}
    cluster = SkewedCluster(skews)
    offsets = measure_offsets(cluster.fake, list(skews), samples=8, now=cluster.now)
    assert list(offsets) == list(skews)
    for host, skew in skews.items():
        got = offsets[host]
        assert abs(got.offset_s - skew) <= got.uncertainty_s + 1e-6, (host, got)
        assert got.samples == 8
        assert got.uncertainty_s < 0.001  # the fastest trip (0.4 ms) is found, not the first
    assert cluster.fake.commands("gengar-2") == [READ_CLOCK] * 8


def test_one_sample_takes_the_slow_first_trip_and_says_so() -> None:
    cluster = SkewedCluster({"m": 0.5})
    got = measure_offsets(cluster.fake, ["m"], samples=1, now=cluster.now)["m"]
    assert got.rtt_s == pytest.approx(0.032, abs=1e-6)
    assert abs(got.offset_s - 0.5) <= got.uncertainty_s + 1e-6


def _broken_cluster() -> SkewedCluster:
    cluster = SkewedCluster({"gengar-1": 0.0, "gengar-2": 0.01, "gengar-3": 0.0})
    cluster.fake.on(READ_CLOCK, ConnectError("gengar-2: connection refused"), host="gengar-2")
    cluster.fake.on(READ_CLOCK, Reply("sh: date: not found\n"), host="gengar-3")
    return cluster


def test_a_machine_that_cannot_be_read_is_named_and_the_others_measured() -> None:
    cluster = _broken_cluster()
    failed: dict[str, str] = {}
    offsets = measure_offsets(
        cluster.fake, ["gengar-1", "gengar-2", "gengar-3"], now=cluster.now, failed=failed
    )
    assert list(offsets) == ["gengar-1"]
    assert failed["gengar-2"] == "gengar-2: connection refused"
    assert failed["gengar-3"].startswith("ValueError: unexpected clock reading 'sh: date: not")


def test_without_a_failed_dict_one_error_names_every_failed_machine() -> None:
    cluster = _broken_cluster()
    with pytest.raises(ClusterError) as err:
        measure_offsets(cluster.fake, ["gengar-1", "gengar-2", "gengar-3"], now=cluster.now)
    lines = str(err.value).splitlines()
    assert lines[0] == "reading the machines' clocks failed on 2 of 3 machines:"
    assert lines[1] == "gengar-2: connection refused"
    assert lines[2].startswith("gengar-3: ValueError: unexpected clock reading")


def test_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match="samples must be >= 1"):
        measure_offsets(FakeTransport(), ["m"], samples=0)


def test_the_wall_clock_follows_the_monotonic_clock() -> None:
    import time

    now = wall_clock()
    first, wall = now(), time.time()
    assert abs(first - wall) < 0.01
    assert now() >= first


def test_the_probe_reads_the_clock_with_bash_or_date() -> None:
    import subprocess

    for shell in ("bash", "sh"):
        out = subprocess.run([shell, "-c", READ_CLOCK], capture_output=True, text=True).stdout
        assert out.strip().replace(",", ".").replace(".", "", 1).isdigit(), (shell, out)


def test_on_a_line_channel_one_channel_per_machine_gives_every_sample() -> None:
    skews = {"gengar-1": 0.0, "gengar-2": 0.0732}
    cluster = SkewedCluster(skews)

    def line(call: Call, _line: str) -> str:
        reply = cluster.answer(Call(call.host, READ_CLOCK, b"", None, True))
        assert reply is not None and isinstance(reply.stdout, str)
        return reply.stdout.strip()

    cluster.fake.on_lines(CLOCK_LOOP, line)
    opened: list[FakeLineChannel] = []
    open_lines = cluster.fake.open_lines

    def spy(host: str, command: str, *, timeout: float | None = None) -> FakeLineChannel | None:
        channel = open_lines(host, command, timeout=timeout)
        assert channel is not None
        opened.append(channel)
        return channel

    cluster.fake.open_lines = spy  # type: ignore[method-assign]
    offsets = measure_offsets(cluster.fake, list(skews), samples=8, now=cluster.now)
    for host, skew in skews.items():
        assert abs(offsets[host].offset_s - skew) <= offsets[host].uncertainty_s + 1e-6
    assert cluster.fake.commands() == [CLOCK_LOOP, CLOCK_LOOP]  # no `run` at all
    assert [len(c.asked) for c in opened] == [8, 8] and all(c.closed for c in opened)


def test_the_line_channel_is_closed_when_a_reading_fails() -> None:
    fake = FakeTransport().on_lines(CLOCK_LOOP, lambda _call, _line: "garbage")
    failed: dict[str, str] = {}
    assert measure_offsets(fake, ["m"], failed=failed) == {}
    assert failed["m"].startswith("ValueError: unexpected clock reading 'garbage'")
