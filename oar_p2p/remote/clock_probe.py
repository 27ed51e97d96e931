"""Measure every machine's clock offset against this machine, machines in parallel.

    offsets = measure_offsets(transport, ["gengar-1", "gengar-2"])   # or a ClusterError
    offsets["gengar-1"].offset_s, offsets["gengar-1"].uncertainty_s

Each sample is one `transport.run` of `READ_CLOCK` on the machine's persistent
connection, bracketed by two readings of our wall clock; `oar_p2p.clocks.estimate` keeps
the one with the smallest round trip. One command printing N readings would not do: our
times must bracket each reading. The uncertainty is half the round trip of one tiny
command over SSH (a channel opened, the command run by the login shell, its output and
exit status back): 0.7-1.2 ms on loopback with OpenSSH 9 (`tests/unit/remote/
test_clock_probe_sshd.py` prints it), far below the 50 ms threshold. A shell kept open on
one channel would halve it; the transport has no such channel, and the rule of the
threshold does not need it.

Our times come from the monotonic clock anchored once to the wall clock, so that a step of
the wall clock during the probe cannot make a round trip negative or wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from oar_p2p.clocks import ClockOffset, Sample, estimate, parse_reading
from oar_p2p.remote.pool import describe_failure, for_each_machine, raise_for_failures
from oar_p2p.remote.transport import Transport

__all__ = ["READ_CLOCK", "measure_offsets", "wall_clock"]

# bash (>= 5) reads its clock without a process; other shells run date
READ_CLOCK = "echo ${EPOCHREALTIME:-$(date +%s.%N)}"
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
    taken = []
    for _ in range(samples):
        sent = now()
        result = transport.run(host, READ_CLOCK, timeout=PROBE_TIMEOUT)
        received = now()
        taken.append(Sample(sent, parse_reading(result.text), received))
    return estimate(taken)
