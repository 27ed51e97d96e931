"""Machines in parallel, once: a thread pool (paramiko blocks) with a concurrency cap.

    results = for_each_machine(["gengar-1", "gengar-2"], read_state, limit=0)
    states = raise_for_failures(results, "reading the machines")   # or a ClusterError

`for_each_machine` never raises for a failing machine: its exception is its result, so a
caller can report every failure at once (`raise_for_failures`). Ctrl-C cancels the work
not yet started and propagates; work already running finishes or fails when the caller
closes the transport (the CLI does so in its `finally`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from oar_p2p.errors import ClusterError, OarP2PError

__all__ = ["describe_failure", "for_each_machine", "raise_for_failures"]

T = TypeVar("T")


def for_each_machine(
    hosts: Sequence[str], fn: Callable[[str], T], limit: int = 0
) -> dict[str, T | BaseException]:
    """Call ``fn(host)`` for every host, at most ``limit`` at once (0: no cap).

    Returns ``{host: result or the exception it raised}`` in the order of ``hosts``.
    """
    if len(set(hosts)) != len(hosts):
        raise ValueError(f"duplicate hosts in {list(hosts)}")
    if not hosts:
        return {}
    workers = len(hosts) if limit <= 0 else min(limit, len(hosts))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oar-p2p")
    try:
        futures = [(host, pool.submit(_outcome, fn, host)) for host in hosts]
        results = {host: future.result() for host, future in futures}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def _outcome(fn: Callable[[str], T], host: str) -> T | BaseException:
    try:
        return fn(host)
    except Exception as exc:  # the machine's failure is its result
        return exc


def describe_failure(exc: BaseException) -> str:
    """One line for a failed machine: our errors by message, others with their type."""
    if isinstance(exc, OarP2PError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def raise_for_failures(results: Mapping[str, T | BaseException], action: str) -> dict[str, T]:
    """The successful results, or one `ClusterError` naming every failed machine.

    ``action`` completes "<action> failed on 2 of 3 machines:".
    """
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if not failed:
        return {h: r for h, r in results.items() if not isinstance(r, BaseException)}
    lines = [f"{action} failed on {len(failed)} of {len(results)} machines:"]
    for host, exc in failed.items():
        text = describe_failure(exc).replace("\n", "\n    ")
        prefix = "" if text.startswith(f"{host}:") else f"{host}: "
        lines.append(f"{prefix}{text}")
    raise ClusterError("\n".join(lines)) from next(iter(failed.values()))
