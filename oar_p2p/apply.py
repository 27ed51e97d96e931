"""read -> observe -> diff -> write, per machine. Returns results; prints nothing.

One read round trip per machine (`observe.read_script`), then at most one write round trip
per machine with changes (`render.commands`). Machines run in parallel under the cap;
a failure on one machine is its result, the others finish. A write script is streamed to
its machine while it is generated (`Session.run_privileged` takes byte chunks): at 1.25 M
pairs it is about 50 MB, never held whole, so 20 machines written at once stay within a few
hundred MB.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from oar_p2p import wire
from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.network import SYSCTLS, Network
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ClusterError
from oar_p2p.observe.read_script import read_script, split_sections
from oar_p2p.observe.snapshot import snapshot
from oar_p2p.plan import MachinePlan, PairMode, Plan
from oar_p2p.record import RecordWrite, build_patch, build_record, patch_max, record_layout
from oar_p2p.remote.executors import READ_BASH, DockerExecutor
from oar_p2p.remote.helper import HelperPool
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.remote.transport import StdinCounter
from oar_p2p.render.commands import write_script_chunks
from oar_p2p.session import Session
from oar_p2p.state import ContainerState, MachineState

__all__ = [
    "ApplyResult",
    "MachineResult",
    "apply_plan",
    "observe_current",
    "observe_machines",
    "plan_record",
    "desired_states",
    "diff_states",
    "plan_destroy",
    "with_containers",
    "plan_network",
]

STREAM_CHUNK = 1 << 18  # bytes handed to the transport at once


def read_machine(
    session: Session, machine: Machine, desired: MachineState, refresh: str
) -> MachineState:
    """One machine's observed state: the read script as the SSH user, privileged only when
    the script says it must be (a user without ip/tc, or an nft listing to make).

    The script goes to `bash -s` (`READ_BASH`): it is a few KB, and the spooling that
    privileged scripts get (a temp file, a second bash) costs four process starts on
    every machine of every command. With the docker executor, a command that writes (it
    holds the job lock) lists nft in its helper container, started by the listing when it
    runs (`HelperPool.listing_argv`), so the write that follows finds it running; when the
    listing is skipped (a trusted map) but the map differs from the desired one, the read
    starts that helper in the background for the write (`read_script`'s `prestart`)."""
    want = desired.pairs
    host = machine.hostname

    def script(nft: Sequence[str], unprivileged: bool, prestart: bool = False) -> str:
        return read_script(
            machine.interface,
            sorted(SYSCTLS),
            refresh=refresh,
            desired_digest=want.digest if want else "",
            nft=nft,
            unprivileged=unprivileged,
            prestart=prestart,
        )

    pool = _listing_pool(session)
    nft, reserved = pool.listing_argv(host) if pool else (session.executor.nft_argv(), None)
    listed = started = True  # a read cut short may have started the helper: `close` removes it
    try:
        text = script(nft, True, prestart=reserved is not None)
        result = session.transport.run(host, READ_BASH, stdin=text.encode(), timeout=900)
        sections = split_sections(result.stdout.decode())
        listed, started = _listed(sections), "helper" in sections
    finally:
        if pool is not None:
            pool.listing_done(host, reserved, listed, started=started)
    session.reads[host] = session.reads.get(host, 0) + 1
    if "need-privilege" in sections:
        result = session.run_privileged(host, script(["nft"], False), timeout=900)
        session.reads[host] += 1
        sections = split_sections(result.stdout.decode())
    elif pool is None and isinstance(session.executor, DockerExecutor) and listed:
        session.count_docker_run(host)  # the listing ran in a throw-away helper container
    if "nft-error" in sections:
        error = sections["nft-error"].strip() or "no message"
        raise ClusterError(f"listing the nft table ip oar-p2p failed: {error}")
    return snapshot(host, machine.interface, sections)


def _listing_pool(session: Session) -> HelperPool | None:
    """The helpers the read's nft listing runs in: those of a command that writes (it
    holds the job lock); a read-only one (plan, show) lists in a throw-away container, as
    nothing would use a helper after it."""
    pool = session.helpers
    return pool if pool is not None and pool.locked else None


def _listed(sections: Mapping[str, str]) -> bool:
    """The read listed the nft table (its record was not trusted)."""
    return "nft" in sections and sections["nft"].strip() != "skipped"


def observe_machines(
    session: Session,
    desired: dict[str, MachineState],
    refresh: str = "auto",
    unreachable: dict[str, str] | None = None,
) -> dict[str, MachineState]:
    """One read script per machine, in parallel; raises naming every failed machine.

    With `unreachable` (a dict to fill), machines whose read failed are put there
    (hostname -> error) and left out of the result instead; it still raises when every
    machine failed.
    """
    by_host = {m.hostname: m for m in session.machines}
    usable = [h for h in session.hosts if h not in session.unreachable]
    session.progress(f"reading {len(usable)} machines")
    results: dict[str, MachineState | BaseException] = {
        h: ClusterError(session.unreachable[h]) for h in session.unreachable
    }
    results.update(
        for_each_machine(
            usable, lambda h: read_machine(session, by_host[h], desired[h], refresh), session.limit
        )
    )
    results = {h: results[h] for h in session.hosts}
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if unreachable is not None and failed and len(failed) < len(results):
        unreachable.update({h: str(r) for h, r in failed.items()})
        results = {h: r for h, r in results.items() if h not in failed}
    return _all_or_raise(results, "reading the machines")


def observe_current(session: Session) -> dict[str, MachineState]:
    """What every machine holds now (for `show`, `net show`): one read each."""
    empty = {m.hostname: MachineState.empty(m.hostname, m.interface) for m in session.machines}
    return observe_machines(session, empty)


def _all_or_raise(
    results: Mapping[str, MachineState | BaseException], action: str
) -> dict[str, MachineState]:
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if failed:
        lines = [f"{action} failed on {len(failed)} of {len(results)} machines:"]
        lines += [f"{h}: {r}" for h, r in failed.items()]
        raise ClusterError("\n".join(lines))
    return {h: r for h, r in results.items() if isinstance(r, MachineState)}


def desired_states(session: Session, network: Network) -> dict[str, MachineState]:
    """What the network asks of every machine of the session."""
    return {m.hostname: network.machine_state(m) for m in session.machines}


def with_containers(
    states: Mapping[str, MachineState], containers: Mapping[str, Sequence[ContainerState]]
) -> dict[str, MachineState]:
    """The states with each machine's containers (none where `containers` has no entry):
    the experiment then goes through the same diff as the network."""
    return {h: replace(s, containers=tuple(containers.get(h, ()))) for h, s in states.items()}


def diff_states(
    session: Session,
    desired: Mapping[str, MachineState],
    observed: Mapping[str, MachineState],
    resolution_us: int,
    refresh: str,
) -> Plan:
    """The plan of every observed machine, in the session's order."""
    hosts = [h for h in session.hosts if h in observed]
    plans = [diff_machine(desired[h], observed[h], resolution_us) for h in hosts]
    return Plan(machines=plans, refresh=refresh)


def plan_network(
    session: Session,
    network: Network,
    refresh: str = "auto",
    unreachable: dict[str, str] | None = None,
) -> Plan:
    """Observe every machine and diff it against the network's desired state.

    With `unreachable`, machines that could not be read are left out of the plan and
    named there (see `observe_machines`); without it, any failed read raises.
    """
    desired = desired_states(session, network)
    observed = observe_machines(session, desired, refresh, unreachable)
    return diff_states(session, desired, observed, network.quantizer.resolution_us, refresh)


def plan_destroy(
    session: Session,
    refresh: str = "auto",
    containers: Mapping[str, Sequence[ContainerState]] | None = None,
) -> Plan:
    """Diff every machine against an empty state: removes what the tool owns; with the
    owned `containers` of each machine, their removal is part of the plan."""
    empty = {m.hostname: MachineState.empty(m.hostname, m.interface) for m in session.machines}
    observed = observe_machines(session, empty, refresh)
    if containers is not None:
        empty, observed = with_containers(empty, {}), with_containers(observed, containers)
    return diff_states(session, empty, observed, 100, refresh)


@dataclass(frozen=True)
class MachineResult:
    hostname: str
    ok: bool
    seconds: float
    kernel_ns: dict[str, int]
    bytes_sent: int
    error: str = ""


@dataclass
class ApplyResult:
    machines: list[MachineResult]

    @property
    def failed(self) -> list[MachineResult]:
        return [m for m in self.machines if not m.ok]


def plan_record(plan: MachinePlan, network: Network | None) -> RecordWrite | None:
    """The record the write script stores: a patch of the rows there when the change is
    small and their layout is the desired one (`oar_p2p.record`), else the rows whole."""
    if network is None or plan.pairs.mode is PairMode.NONE or plan.desired.pairs is None:
        return None
    if plan.desired.nft is None:
        return None
    local, steps = network.record_rows(plan.hostname)
    version = 1 if steps.typecode == "H" else 2
    resolution = network.quantizer.resolution_us
    layout = record_layout(version, resolution, list(network.ips), local)
    bases = None if network.base is None else network.base.peers(plan.hostname)
    patch = _patch_elements(plan, layout)
    if patch is not None:
        observed = plan.observed.pairs
        assert observed is not None
        return build_patch(
            version=version,
            digest=plan.desired.pairs.digest,
            size=plan.desired.pairs.size,
            chains=plan.desired.nft.chains,
            layout=layout,
            patched=observed.patched,
            elements=patch,
            base_rtt_us=bases,
        )
    return build_record(
        digest=plan.desired.pairs.digest,
        size=plan.desired.pairs.size,
        chains=plan.desired.nft.chains,
        ips=list(network.ips),
        local=local,
        steps=steps,
        resolution_us=resolution,
        base_rtt_us=bases,
    )


def _patch_elements(plan: MachinePlan, layout: str) -> list[tuple[str, str, int]] | None:
    """The elements a patch of the recorded rows would hold: an incremental change of
    marks only (every removed pair added again), onto rows of `layout` read with their
    patch, while the patch stays within `patch_max`; None: rewrite the rows."""
    observed, delta = plan.observed.pairs, plan.pairs
    if delta.mode is not PairMode.INCREMENTAL or observed is None or not observed.enumerable:
        return None
    if observed.layout != layout or observed.patched + len(delta.adds) > patch_max(observed.size):
        return None
    if not {(s, d) for s, d in delta.removes} <= {(s, d) for s, d, _ in delta.adds}:
        return None  # a pair leaves the map: not a change of marks
    return delta.adds


def apply_plan(session: Session, plan: Plan, network: Network | None) -> ApplyResult:
    """Send one write script to every machine with changes (parallel, failures isolated)."""
    todo = [m for m in plan.machines if m.has_network_changes]
    by_host = {m.hostname: m for m in todo}

    def write(host: str) -> MachineResult:
        mp = by_host[host]
        start = time.monotonic()
        sent = StdinCounter()
        script = write_script_chunks(mp, plan_record(mp, network))
        result = session.run_privileged(host, sent.counted(_encoded(script)), timeout=1800)
        session.writes[host] = session.writes.get(host, 0) + 1
        added = mp.pairs.added + mp.pairs.changed
        session.elements[host] = (added, mp.pairs.removed + mp.pairs.changed)
        timings = wire.timings(result.stdout.decode())
        session.kernel_ns[host] = timings
        return MachineResult(host, True, time.monotonic() - start, timings, sent.bytes)

    if todo:  # one step for all machines (they are written in parallel)
        changes = sum(sum(m.counts()) for m in todo)
        session.progress(f"applying {changes} changes on {len(todo)} machine(s)")
    results = for_each_machine([m.hostname for m in todo], write, session.limit)
    out = []
    for host, r in results.items():
        if isinstance(r, BaseException):
            out.append(MachineResult(host, False, 0.0, {}, 0, error=str(r)))
        else:
            out.append(r)
    return ApplyResult(out)


def _encoded(chunks: Iterable[str], size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """The script's text chunks as bytes, gathered to about `size` bytes each."""
    batch: list[str] = []
    held = 0
    for chunk in chunks:
        batch.append(chunk)
        held += len(chunk)
        if held >= size:
            yield "".join(batch).encode()
            batch, held = [], 0
    if batch:
        yield "".join(batch).encode()
