"""read -> observe -> diff -> write, per machine. Returns results; prints nothing.

One read round trip per machine (`observe.read_script`), then at most one write round trip
per machine with changes (`render.commands`). Machines run in parallel under the cap;
a failure on one machine is its result, the others finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.network import SYSCTLS, Network
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ClusterError
from oar_p2p.observe.read_script import read_script, split_sections
from oar_p2p.observe.snapshot import snapshot
from oar_p2p.plan import MachinePlan, PairMode, Plan
from oar_p2p.record import build_record
from oar_p2p.remote.executors import SPOOLED_BASH, Executor
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.remote.transport import CommandResult, Transport
from oar_p2p.render.commands import write_script_chunks
from oar_p2p.state import MachineState

__all__ = [
    "ApplyResult",
    "Cluster",
    "MachineResult",
    "apply_plan",
    "observe_current",
    "observe_machines",
    "plan_destroy",
    "plan_network",
]

Progress = Callable[[str], None]


@dataclass
class Cluster:
    """Everything needed to talk to the job's machines."""

    transport: Transport
    executor: Executor
    machines: list[Machine]
    limit: int = 0
    progress: Progress = field(default=lambda _msg: None)
    reads: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    elements: dict[str, tuple[int, int]] = field(default_factory=dict)
    kernel_ns: dict[str, dict[str, int]] = field(default_factory=dict)
    # machines found unusable while connecting (hostname -> error), see `open_cluster`
    unreachable: dict[str, str] = field(default_factory=dict)

    def stats(self) -> dict[str, object]:
        """Counts for `OAR_P2P_STATS` (benchmarks and tests)."""
        per_host = getattr(self.transport, "hosts", {})
        return {
            "connections_opened": getattr(self.transport, "connections_opened", None),
            "machines": {
                h: {
                    "reads": self.reads.get(h, 0),
                    "writes": self.writes.get(h, 0),
                    "elements_added": self.elements.get(h, (0, 0))[0],
                    "elements_removed": self.elements.get(h, (0, 0))[1],
                    "round_trips": per_host[h].round_trips if h in per_host else 0,
                    "bytes_sent": per_host[h].bytes_sent if h in per_host else 0,
                    "kernel_ns": self.kernel_ns.get(h, {}),
                }
                for h in self.hosts
            },
        }

    @property
    def hosts(self) -> list[str]:
        return [m.hostname for m in self.machines]

    def run_privileged(self, host: str, script: str, timeout: float | None = None) -> CommandResult:
        command, stdin = self.executor.wrap(script)
        return self.transport.run(host, command, stdin=stdin, timeout=timeout)


def observe_machines(
    cluster: Cluster,
    desired: dict[str, MachineState],
    refresh: str = "auto",
    unreachable: dict[str, str] | None = None,
) -> dict[str, MachineState]:
    """One read script per machine, in parallel; raises naming every failed machine.

    With `unreachable` (a dict to fill), machines whose read failed are put there
    (hostname -> error) and left out of the result instead; it still raises when every
    machine failed.
    """
    by_host = {m.hostname: m for m in cluster.machines}

    def read(host: str) -> MachineState:
        m = by_host[host]
        want = desired[host].pairs

        def script(unprivileged: bool) -> str:
            return read_script(
                m.interface,
                sorted(SYSCTLS),
                refresh=refresh,
                desired_digest=want.digest if want else "",
                nft=cluster.executor.nft_argv() if unprivileged else ["nft"],
                unprivileged=unprivileged,
            )

        # as the SSH user (no helper container unless the nft table must be listed)
        result = cluster.transport.run(host, SPOOLED_BASH, stdin=script(True).encode(), timeout=900)
        cluster.reads[host] = cluster.reads.get(host, 0) + 1
        sections = split_sections(result.stdout.decode())
        if "need-privilege" in sections:
            result = cluster.run_privileged(host, script(False), timeout=900)
            cluster.reads[host] += 1
            sections = split_sections(result.stdout.decode())
        if "nft-error" in sections:
            error = sections["nft-error"].strip() or "no message"
            raise ClusterError(f"listing the nft table ip oar-p2p failed: {error}")
        return snapshot(host, m.interface, sections)

    usable = [h for h in cluster.hosts if h not in cluster.unreachable]
    cluster.progress(f"reading {len(usable)} machines")
    results: dict[str, MachineState | BaseException] = {
        h: ClusterError(cluster.unreachable[h]) for h in cluster.unreachable
    }
    results.update(for_each_machine(usable, read, cluster.limit))
    results = {h: results[h] for h in cluster.hosts}
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if unreachable is not None and failed and len(failed) < len(results):
        unreachable.update({h: str(r) for h, r in failed.items()})
        results = {h: r for h, r in results.items() if h not in failed}
    return _all_or_raise(results, "reading the machines")


def observe_current(cluster: Cluster) -> dict[str, MachineState]:
    """What every machine holds now (for `show`, `net show`): one read each."""
    empty = {m.hostname: MachineState.empty(m.hostname, m.interface) for m in cluster.machines}
    return observe_machines(cluster, empty)


def _all_or_raise(
    results: Mapping[str, MachineState | BaseException], action: str
) -> dict[str, MachineState]:
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if failed:
        lines = [f"{action} failed on {len(failed)} of {len(results)} machines:"]
        lines += [f"{h}: {r}" for h, r in failed.items()]
        raise ClusterError("\n".join(lines))
    return {h: r for h, r in results.items() if isinstance(r, MachineState)}


def plan_network(
    cluster: Cluster,
    network: Network,
    refresh: str = "auto",
    unreachable: dict[str, str] | None = None,
) -> Plan:
    """Observe every machine and diff it against the network's desired state.

    With `unreachable`, machines that could not be read are left out of the plan and
    named there (see `observe_machines`); without it, any failed read raises.
    """
    desired = {m.hostname: network.machine_state(m) for m in cluster.machines}
    observed = observe_machines(cluster, desired, refresh, unreachable)
    res = network.quantizer.resolution_us
    plans = [diff_machine(desired[h], observed[h], res) for h in cluster.hosts if h in observed]
    return Plan(machines=plans, refresh=refresh)


def plan_destroy(cluster: Cluster, refresh: str = "auto") -> Plan:
    """Diff every machine against an empty state: removes what the tool owns."""
    empty = {m.hostname: MachineState.empty(m.hostname, m.interface) for m in cluster.machines}
    observed = observe_machines(cluster, empty, refresh)
    plans = [diff_machine(empty[h], observed[h], 100) for h in cluster.hosts]
    return Plan(machines=plans, refresh=refresh)


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


def _record(plan: MachinePlan, network: Network | None) -> tuple[str, str] | None:
    if network is None or plan.pairs.mode is PairMode.NONE or plan.desired.pairs is None:
        return None
    if plan.desired.nft is None:
        return None
    local, steps = network.record_rows(plan.hostname)
    return build_record(
        digest=plan.desired.pairs.digest,
        size=plan.desired.pairs.size,
        chains=plan.desired.nft.chains,
        ips=list(network.ips),
        local=local,
        steps=steps,
        resolution_us=network.quantizer.resolution_us,
    )


def apply_plan(cluster: Cluster, plan: Plan, network: Network | None) -> ApplyResult:
    """Send one write script to every machine with changes (parallel, failures isolated)."""
    todo = [m for m in plan.machines if m.has_changes]
    by_host = {m.hostname: m for m in todo}

    def write(host: str) -> MachineResult:
        mp = by_host[host]
        script = "".join(write_script_chunks(mp, _record(mp, network)))
        start = time.monotonic()
        cluster.progress(f"{host}: applying {sum(mp.counts())} changes")
        result = cluster.run_privileged(host, script, timeout=1800)
        cluster.writes[host] = cluster.writes.get(host, 0) + 1
        added = mp.pairs.added + mp.pairs.changed
        cluster.elements[host] = (added, mp.pairs.removed + mp.pairs.changed)
        timings = _timings(result.stdout.decode())
        cluster.kernel_ns[host] = timings
        return MachineResult(host, True, time.monotonic() - start, timings, len(script))

    results = for_each_machine([m.hostname for m in todo], write, cluster.limit)
    out = []
    for host, r in results.items():
        if isinstance(r, BaseException):
            out.append(MachineResult(host, False, 0.0, {}, 0, error=str(r)))
        else:
            out.append(r)
    return ApplyResult(out)


def _timings(stdout: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "oar-p2p-timing" and parts[2].isdigit():
            out[parts[1]] = out.get(parts[1], 0) + int(parts[2])
    return out


def hosts_of(machines: Sequence[Machine]) -> list[str]:
    return [m.hostname for m in machines]
