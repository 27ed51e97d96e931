"""A replaying cluster: `FakeTransport` answering every call from real machines' answers.

The answers were captured on the testbed by scripts/capture-cli-tier.py, step by step
(`tests/fixtures/cli_tier/<step>/<host>.<what>[-N].json`, see that script's STEPS). Each
fake machine has a state, and moves between states as the real one did:

    network      the step whose `read` answers it: empty, applied, destroyed, net-applied,
                 cleaned; a write script moves it to NETWORK_AFTER[<step of the write>]
    containers   None (no owned container) or (step, experiment): whose `docker inspect`
                 answers it; the run's prepare script sets it, removing containers unsets it

A case names the step it replays (`step`): answers to the calls that change things or
belong to a run (write, preflight, prepare, start, signal, wait, logs) come from that
step's capture; lock, unlock and oarstat from that step if it has them, else from any
(they do not depend on the machines' state).
A call with no captured answer fails the test, naming it. `stale` lists the calls whose
stdin differs from the captured one (the tool changed that script since the capture).

    cluster = ReplayCluster(step="apply", network="empty")
    app = build_app(Connector(transport=lambda _o: cluster.fake, locate=..., local=...))
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oar_p2p.remote.clock_probe import CLOCK_LOOP
from tests.cli_tier.calls import digest, what
from tests.fakes import Call, FakeTransport, Reply

__all__ = ["CAPTURES", "META", "NETWORK_AFTER", "ReplayCluster"]

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures/cli_tier"
META = json.loads((CAPTURES / "meta.json").read_text())

# the network state a machine is in after the write script of a step
NETWORK_AFTER = {
    "apply": "applied",
    "destroy": "destroyed",
    "net-up": "net-applied",
    "net-down": "net-downed",
    "net-up-2": "net-applied",
    "clean": "cleaned",
}
# the steps whose captured run scripts belong to an experiment
RUN_STEP = {"cli-tier": "apply", "oar-p2p": "run"}
_FILTER = re.compile(r"label=oar-p2p\.experiment(?:=([\w.-]+))?")
_SCHEDULE = re.compile(r"/schedule <<'OARP2P_FILE_\w+'\n(.*?)OARP2P_FILE_", re.S)
_SIGNALLED_WAIT = 10.0  # how long a `docker wait` waits for the run's signal (see _wait)


def _bytes(doc: dict[str, str]) -> bytes:
    return base64.b64decode(doc["base64"]) if "base64" in doc else doc["text"].encode()


def captured(step: str, host: str, kind: str, last: bool = False) -> dict[str, Any]:
    """One captured call (the first of its kind in the step, or the last with `last`)."""
    name = re.compile(rf"{re.escape(host)}\.{re.escape(kind)}(?:-(\d+))?")
    found = {}
    for path in (CAPTURES / step).glob(f"{host}.{kind}*.json"):
        match = name.fullmatch(path.stem)
        if match:
            found[int(match.group(1) or 1)] = path
    if not found:
        raise AssertionError(
            f"no captured answer for {kind} on {host} in step {step!r} "
            f"(tests/fixtures/cli_tier/{step}/): re-run scripts/capture-cli-tier.py"
        )
    doc: dict[str, Any] = json.loads(found[max(found) if last else min(found)].read_text())
    return doc


@dataclass
class Machine:
    network: str
    containers: tuple[str, str] | None = None  # (step, experiment)


@dataclass
class ReplayCluster:
    """The job's machines, replayed; `fake` is the transport to inject."""

    step: str
    network: str = "empty"
    containers: tuple[str, str] | None = None
    hosts: tuple[str, ...] = ("gengar-1", "gengar-2")
    machines: dict[str, Machine] = field(init=False)
    stale: list[str] = field(default_factory=list)
    fake: FakeTransport = field(init=False)

    def __post_init__(self) -> None:
        self.machines = {h: Machine(self.network, self.containers) for h in self.hosts}
        self.fake = FakeTransport(handler=self._answer)
        # not captured: the clock of a replayed machine is ours
        self.fake.on_lines(CLOCK_LOOP, lambda _call, _line: f"{time.time():.6f}")
        self._lock = threading.Lock()
        self._signalled = {h: threading.Event() for h in self.hosts}
        self._schedules: dict[str, list[str]] = {}

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, call: Call) -> Reply:
        kind = what(call.command, call.stdin)
        with self._lock:
            if kind in ("lock", "unlock", "oarstat", "helper-image"):
                return self._constant(call, kind)
            machine = self.machines[call.host]
            if kind == "read":
                return _reply(captured(machine.network, call.host, "read"))
            if kind == "containers":
                return self._containers(call, machine)
            if kind == "destroy-containers":
                return self._destroy_containers(call, machine)
            if kind == "write":
                reply = self._from_step(call, kind)
                machine.network = NETWORK_AFTER[self.step]
                return reply
            if kind == "prepare":
                experiment = self._experiment(call)
                machine.containers = (RUN_STEP[experiment], experiment)
            if kind == "signal":
                self._signalled[call.host].set()
        if kind in ("schedule", "go", "schedule-stop"):
            return self._scheduler(call, kind)
        if kind == "wait":
            return self._wait(call)
        if kind in ("preflight", "prepare", "start", "signal", "logs", "stop", "remove"):
            return self._from_step(call, kind)
        raise AssertionError(f"ReplayCluster: a call of unknown kind on {call.host}: {call}")

    def _constant(self, call: Call, kind: str) -> Reply:
        """Answers that do not depend on the machine's state (the case's own step first:
        `locked` has a held lock); oarstat and the helper-image check only for the command
        captured (the job id, the image are in it)."""
        for step in (self.step, "apply", "empty", "run", "plan-docker"):
            try:
                doc = captured(step, call.host, kind)
            except AssertionError:
                continue
            if kind in ("oarstat", "helper-image") and doc["command"] != call.command:
                raise AssertionError(f"captured {doc['command']!r}, got {call.command!r}")
            return _reply(doc)
        raise AssertionError(f"no captured answer for {kind} on {call.host}")

    def _from_step(self, call: Call, kind: str) -> Reply:
        doc = captured(self.step, call.host, kind)
        if digest(_bytes(doc["stdin"])) != digest(call.stdin):
            self.stale.append(f"{self.step}/{call.host}.{kind}")
        return _reply(doc)

    def _scheduler(self, call: Call, kind: str) -> Reply:
        """The machine-local scheduler, simulated (the e2e tier runs the real one): its
        schedule kept from the upload, `go` fires its signals (what the captured
        containers wait for), the stop prints a status where every step ran at once."""
        text = call.stdin.decode()
        if kind == "schedule":
            found = _SCHEDULE.search(text)
            self._schedules[call.host] = found.group(1).split() if found else []
            return Reply(b"", b"", 0)
        if kind == "go":
            self._signalled[call.host].set()
            return Reply(b"", b"", 0)
        now = int(time.time() * 1e6)
        names = self._schedules.get(call.host, [])[0::3]
        status = "".join(f"{n} {now} {now} {now} 0\n" for n in names) + "end\n"
        return Reply(status.encode(), b"", 0)

    def _wait(self, call: Call) -> Reply:
        """`docker wait` returns once the run's signal was fired on the machine, as the
        captured containers (which wait for /oar-p2p/start) did: the order of the calls,
        and so the goldens, do not depend on thread scheduling."""
        self._signalled[call.host].wait(_SIGNALLED_WAIT)
        return self._from_step(call, "wait")

    def _experiment(self, call: Call) -> str:
        match = _FILTER.search(call.stdin.decode())
        assert match and match.group(1) in RUN_STEP, f"unexpected experiment in {call}"
        return match.group(1)

    def _owned(self, call: Call, machine: Machine) -> bool:
        match = _FILTER.search(call.stdin.decode())
        assert match, f"no owner filter in {call}"
        wanted = match.group(1)
        return machine.containers is not None and wanted in (None, machine.containers[1])

    def _containers(self, call: Call, machine: Machine) -> Reply:
        if not self._owned(call, machine):
            return _reply(captured("empty", call.host, "containers"))
        assert machine.containers is not None
        return _reply(captured(machine.containers[0], call.host, "containers", last=True))

    def _destroy_containers(self, call: Call, machine: Machine) -> Reply:
        if not self._owned(call, machine):
            return _reply(captured("cleaned", call.host, "destroy-containers"))
        assert machine.containers is not None
        step = {"cli-tier": "destroy", "oar-p2p": "clean"}[machine.containers[1]]
        machine.containers = None
        return _reply(captured(step, call.host, "destroy-containers"))


def _reply(doc: dict[str, Any]) -> Reply:
    return Reply(_bytes(doc["stdout"]), _bytes(doc["stderr"]), doc["status"])
