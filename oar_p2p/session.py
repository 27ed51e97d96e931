"""An open session on a job's machines: the transport, the executor, the machines, counters.

A `Session` is data plus two small helpers; it is opened and closed in exactly one place,
`workflows.connect`, and every operation below the workflows (`apply`, `experiment`,
`verify`) takes it as its first argument. Tests build one around a `FakeTransport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain

from oar_p2p.cluster.machines import Machine
from oar_p2p.remote.executors import DockerExecutor, Executor
from oar_p2p.remote.helper import HelperPool
from oar_p2p.remote.transport import CommandResult, Transport
from oar_p2p.settings import Settings

__all__ = ["Progress", "Session"]

Progress = Callable[[str], None]


@dataclass
class Session:
    """Everything needed to talk to the job's machines, and what was done through it."""

    transport: Transport
    executor: Executor
    machines: list[Machine]
    limit: int = 0
    progress: Progress = field(default=lambda _msg: None)
    reads: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    elements: dict[str, tuple[int, int]] = field(default_factory=dict)
    kernel_ns: dict[str, dict[str, int]] = field(default_factory=dict)
    # machines found unusable while connecting (hostname -> error), see `workflows.connect`
    unreachable: dict[str, str] = field(default_factory=dict)
    # the resolved cluster settings the session was opened with (for run manifests)
    settings: Settings | None = None
    # docker executor: the command's long-lived helper containers (`remote.helper`)
    helpers: HelperPool | None = None
    # a machine that fails the command's first round trip joins `unreachable` (apply)
    partial: bool = False
    # throw-away `docker run`s per machine outside the helpers (the read's nft listing)
    docker_runs: dict[str, int] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        return [m.hostname for m in self.machines]

    @property
    def lock_host(self) -> str:
        """The machine holding the job lock: the first in name order, so that the same
        machines listed in another order share one lock."""
        return min(self.hosts)

    def run_privileged(
        self, host: str, script: str | Iterable[bytes], timeout: float | None = None
    ) -> CommandResult:
        """`script` with privileges: in the machine's helper container with the docker
        executor (started by the first such script), else through the executor's wrap.
        `script` may be byte chunks, sent while they are produced (`apply`'s writes)."""
        if self.helpers is not None:
            return self.helpers.run(host, script, timeout)
        if isinstance(self.executor, DockerExecutor):
            self.count_docker_run(host)
        command, stdin = self.executor.wrap(script if isinstance(script, str) else "")
        chunks = stdin if isinstance(script, str) else chain([stdin], script)
        return self.transport.run(host, command, stdin=chunks, timeout=timeout)

    def count_docker_run(self, host: str) -> None:
        self.docker_runs[host] = self.docker_runs.get(host, 0) + 1

    def stats(self) -> dict[str, object]:
        """Counts for `OAR_P2P_STATS` (benchmarks and tests)."""
        per_host = getattr(self.transport, "hosts", {})
        return {
            "connections_opened": getattr(self.transport, "connections_opened", None),
            "machines": {h: self._host_stats(h, per_host.get(h)) for h in self.hosts},
        }

    def _host_stats(self, host: str, counted: object) -> dict[str, object]:
        added, removed = self.elements.get(host, (0, 0))
        return {
            "reads": self.reads.get(host, 0),
            "writes": self.writes.get(host, 0),
            "elements_added": added,
            "elements_removed": removed,
            "round_trips": getattr(counted, "round_trips", 0),
            "bytes_sent": getattr(counted, "bytes_sent", 0),
            "kernel_ns": self.kernel_ns.get(host, {}),
            "docker_runs": self.docker_runs.get(host, 0) + self._helper_count("starts", host),
            "docker_execs": self._helper_count("execs", host),
        }

    def _helper_count(self, what: str, host: str) -> int:
        counts: dict[str, int] = getattr(self.helpers, what, {})
        return counts.get(host, 0)
