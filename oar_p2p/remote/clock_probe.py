"""Measure every machine's clock offset against this machine, machines in parallel.

    offsets = measure_offsets(transport, ["gengar-1", "gengar-2"])   # or a ClusterError
    offsets["gengar-1"].offset_s, offsets["gengar-1"].uncertainty_s

Each sample is one reading of the machine's clock bracketed by two readings of ours;
`oar_p2p.clocks.estimate` keeps the one with the smallest round trip, whose half is the
uncertainty. One command printing N readings would not do: our times must bracket each
reading. So the probe keeps one command running per machine on a line channel of its
persistent connection (`CLOCK_LOOP`: one reading per line we send; see
`transport.open_lines`), and falls back to one `transport.run` of `READ_CLOCK` per sample
on a transport without line channels.

The round trip kept, measured on loopback (OpenSSH 9, paramiko, through a jump connection
as on the cluster, 2 cores at load 4, 15 estimates of 8 samples): on a line channel 0.67 ms
median (0.35-2.2; 0.28 ms direct), so an uncertainty of 0.35 ms; with one `run` per sample
18 ms median (7.6-32: a channel opened, a shell started, exit status and close back).

Our times come from the monotonic clock anchored once to the wall clock, so that a step of
the wall clock during the probe cannot make a round trip negative or wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from oar_p2p.clocks import ClockOffset, Sample, estimate, parse_reading
from oar_p2p.remote.pool import describe_failure, for_each_machine, raise_for_failures
from oar_p2p.remote.transport import Transport, open_lines

__all__ = ["CLOCK_LOOP", "READ_CLOCK", "measure_offsets", "wall_clock"]

# bash (>= 5) reads its clock without a process; other shells run date
READ_CLOCK = "echo ${EPOCHREALTIME:-$(date +%s.%N)}"
# the same, once per line read, on a line channel
CLOCK_LOOP = f"while read -r _; do {READ_CLOCK}; done"
PROBE_TIMEOUT = 10.0

Now = Callable[[], float]


def wall_clock() -> Now:
    """Wall time (s since the epoch) advancing with the monotonic clock from now on."""
    wall0, mono0 = time.time(), time.monotonic()
    return lambda: wall0 + (time.monotonic() - mono0)


def measure_offsets(
    transport: Transport,
    hosts: Sequence[str],
    *,
    samples: int = 8,
    limit: int = 0,
    now: Now | None = None,
    failed: dict[str, str] | None = None,
) -> dict[str, ClockOffset]:
    """Every host's `ClockOffset` from `samples` readings, at most `limit` hosts at once.

    A machine that cannot be read does not stop the others: with `failed`, it is left out
    of the result and named there with its error; without, one `ClusterError` names every
    such machine once all are done.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    clock = now or wall_clock()
    results = for_each_machine(
        list(hosts), lambda host: _probe(transport, host, samples, clock), limit
    )
    if failed is None:
        return raise_for_failures(results, "reading the machines' clocks")
    offsets: dict[str, ClockOffset] = {}
    for host, result in results.items():
        if isinstance(result, BaseException):
            failed[host] = describe_failure(result)
        else:
            offsets[host] = result
    return offsets


def _probe(transport: Transport, host: str, samples: int, now: Now) -> ClockOffset:
    channel = open_lines(transport, host, CLOCK_LOOP, timeout=PROBE_TIMEOUT)
    if channel is None:
        return estimate(_sample(now, lambda: _run(transport, host)) for _ in range(samples))
    try:
        return estimate([_sample(now, lambda: channel.ask("")) for _ in range(samples)])
    finally:
        channel.close()


def _run(transport: Transport, host: str) -> str:
    return transport.run(host, READ_CLOCK, timeout=PROBE_TIMEOUT).text


def _sample(now: Now, read: Callable[[], str]) -> Sample:
    sent = now()
    text = read()
    received = now()
    return Sample(sent, parse_reading(text), received)
