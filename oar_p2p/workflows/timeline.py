"""The timeline during a run: schedulers sent ahead, started at t0, stopped, reported.

`TimelineRun` is the run's `RunHooks`:

    prepare   per machine, in parallel: the network step scripts (each the minimal write
              script from the previous step's state, `timeline.plans`) and the
              container/signal scripts uploaded with their schedules; both schedulers
              started, waiting for t0 (two round trips per machine; the docker executor
              runs the network scheduler in a long-lived privileged helper container)
    go        t0 (the wall time at which all containers started) sent to every machine in
              its own clock (the measured offset added): one round trip per machine; from
              here on every step runs at its deadline with no SSH at event time
    finish    the schedulers stopped (a running step completes), their status read (start,
              end, exit code of each step on each machine), their directories removed;
              then the network is brought back to the base state (read + write, as `apply`
              does) unless `keep_last`

Nothing here prints; the report is the manifest's ``timeline`` section.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from oar_p2p.apply import apply_plan, plan_network
from oar_p2p.desired.containers import Experiment
from oar_p2p.desired.network import Network
from oar_p2p.errors import ClusterError
from oar_p2p.experiment.scripts import wait_script
from oar_p2p.experiment.signals import SignalFiring
from oar_p2p.experiment.signals import timeline as signal_groups
from oar_p2p.plan import Plan
from oar_p2p.project import Project
from oar_p2p.remote.executors import DockerExecutor
from oar_p2p.remote.pool import describe_failure, for_each_machine
from oar_p2p.remote.transport import LineChannel, open_lines
from oar_p2p.render.step import one_line, step_scripts
from oar_p2p.session import Session
from oar_p2p.timeline import scripts as ts
from oar_p2p.timeline.compile import Event
from oar_p2p.timeline.control import (
    ACK_DIR,
    ACKS,
    PENDING,
    container_name,
    docker_launch,
    launch,
    parse_acks,
    signal_step,
    stop_script,
)
from oar_p2p.timeline.plans import StepPlan, TimelinePlans
from oar_p2p.timeline.report import HostStatus, timeline_report
from oar_p2p.timeline.scripts import StatusLine, parse_status
from oar_p2p.timeline.user_files import user_files
from oar_p2p.workflows.events import Events
from oar_p2p.workflows.timeline_build import Built, build_timeline

__all__ = ["TimelineRun"]

_q = shlex.quote


@dataclass
class TimelineRun:
    session: Session
    experiment: Experiment
    events: Sequence[Event]
    plans: TimelinePlans
    base: Network
    offsets: Mapping[str, float] = field(default_factory=dict)  # machine clock - ours, s
    keep_last: bool = False
    t0_wall: float | None = None
    statuses: dict[str, HostStatus] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    launched: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    channels: dict[str, LineChannel] = field(default_factory=dict)
    acks: list[tuple[str, str, str, float]] = field(default_factory=list)

    # -- what each machine runs -------------------------------------------------------
    def _net_files(self, host: str) -> dict[str, str]:
        files: dict[str, str] = {}
        schedule: list[tuple[str, int, str]] = []
        for step in self.plans.steps:
            plan = step.machines.get(host)
            if plan is None or step.event is None:
                continue
            name = f"{step.event.number:05d}"
            parts = step_scripts(plan)
            offset = round(step.event.offset * 1e6)
            if parts.nft is None:
                files[f"{name}.sh"] = parts.at
                schedule.append((name, offset, "whole"))
            else:
                files |= {f"{name}.pre": parts.pre, f"{name}.nft": one_line(parts.nft)}
                files[f"{name}.post"] = parts.post
                schedule.append((name, offset, "split"))
        if schedule:
            files["schedule"] = ts.schedule_text(schedule)
        return files

    def _user_files(self, host: str) -> dict[str, str]:
        by_index = {c.index: c.name for c in self.experiment.on(host)}
        return user_files(self.events, self.experiment.signals, by_index)

    def fires_signals(self) -> bool:
        return bool(self.experiment.signals)

    def signal_firings(self) -> list[SignalFiring]:
        """The spec's signals as the schedulers wrote them: when each file appeared on
        each machine (our clock), and the containers' acknowledgements."""
        out = []
        for k, group in enumerate(signal_groups(self.experiment.signals)):
            fired, errors = {}, {}
            for host in self.hosts():
                line = self._status_line(host, signal_step(k))
                if line is None:
                    errors[host] = self.errors.get(host, "not written (the run ended before)")
                elif line.rc != 0:
                    errors[host] = f"writing the file failed (exit code {line.rc})"
                else:
                    fired[host] = line.applied - self.offsets.get(host, 0.0)
            t0 = self.t0_wall or 0.0
            for name in group.names:
                acks = {f"{h}/{c}": t for h, c, sig, t in self.acks if sig == name}
                stamp = int(t0 + group.delay)
                firing = SignalFiring(name, group.delay, stamp, t0 + group.delay, fired, errors)
                out.append(replace(firing, acks=acks))
        return out

    def _status_line(self, host: str, name: str) -> StatusLine | None:
        status = self.statuses.get(host)
        if status is None:
            return None
        lines, _ = parse_status(status.user.partition("\n== ")[0])
        return next((s for s in lines if s.name == name), None)

    def hosts(self) -> list[str]:
        return list(self.session.hosts)

    # -- RunHooks -------------------------------------------------------------------------
    def use_clock_offsets(self, offsets: Mapping[str, float]) -> None:
        self.offsets = dict(offsets)

    def prepare(self) -> None:
        results = for_each_machine(self.hosts(), self._prepare_host, self.session.limit)
        failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
        if failed:
            lines = [f"{h}: {describe_failure(r)}" for h, r in failed.items()]
            raise ClusterError(
                "starting the timeline's schedulers failed:\n  " + "\n  ".join(lines)
            )

    def _prepare_host(self, host: str) -> None:
        name = self.experiment.name
        net, user = self._net_files(host), self._user_files(host)
        if net:
            d = ts.net_dir(name)
            # no apply record during the run (its rows would be rendered per step): marked
            # pending now, written again by the restore after the run
            script = PENDING + ts.upload_script(d, net, open_go=True)
            executor = self.session.executor
            if isinstance(executor, DockerExecutor):
                self.session.run_privileged(host, script, timeout=1800)
                self.session.transport.run(host, docker_launch(executor.image, name, d))
            else:
                self.session.run_privileged(host, script + launch(d), timeout=1800)
            self.launched.append(f"{host}:net")
        if user:
            d = ts.user_dir(name)
            script = f"rm -rf {ACK_DIR}\n" + ts.upload_script(d, user, open_go=False) + launch(d)
            self.session.transport.run(host, "sh -s", stdin=script.encode())
            self.launched.append(f"{host}:user")
        self._open_go(host)

    def go(self, t0_wall: float) -> None:
        self.t0_wall = t0_wall

        def send(host: str) -> None:
            t0_us = round((t0_wall + self.offsets.get(host, 0.0)) * 1e6)
            channel = self.channels.pop(host, None)
            if channel is not None:  # one line on a channel opened ahead: no process
                try:
                    channel.ask(str(t0_us))
                    return
                finally:
                    channel.close()
            script = "".join(f"printf '%s\\n' {t0_us} > {_q(d)}/go\n" for d in self._dirs(host))
            if script:
                self.session.transport.run(host, "sh -s", stdin=script.encode())

        for host, r in for_each_machine(self.hosts(), send, self.session.limit).items():
            if isinstance(r, BaseException):
                self.errors[host] = f"sending t0 failed: {describe_failure(r)}"

    def _dirs(self, host: str) -> list[str]:
        """The scheduler directories on `host`."""
        name = self.experiment.name
        kinds = (("net", ts.net_dir(name)), ("user", ts.user_dir(name)))
        return [d for kind, d in kinds if f"{host}:{kind}" in self.launched]

    def _open_go(self, host: str) -> None:
        """A shell kept waiting for t0 on the machine (a line channel of the persistent
        connection, when the transport has them): at t0, one line to send, nothing to
        start (an SSH command through the jump host took 0.5-2 s in the loaded guest)."""
        dirs = " ".join(_q(d) for d in self._dirs(host))
        if not dirs:
            return
        loop = (
            f'while read -r t; do for d in {dirs}; do printf "%s\\n" "$t" > "$d/go"; done; '
            "echo sent; done"
        )
        channel = open_lines(self.session.transport, host, f"sh -c {_q(loop)}", timeout=60)
        if channel is not None:
            self.channels[host] = channel

    def wait_script(self, host: str, names: Sequence[str]) -> str | None:
        mine = {c.index for c in self.experiment.on(host)}
        revives = any(
            op in ("start", "restart") and mine.intersection(idx)
            for e in self.events
            for op, idx in e.ops
        )
        if f"{host}:user" not in self.launched or not names or not revives:
            return None
        # a container stopped by the timeline may be started again: wait for the schedule
        return wait_script(names, until=f"{ts.user_dir(self.experiment.name)}/status")

    def held(self) -> frozenset[str]:
        ahead = {i for e in self.events if e.ahead > 0 for op, idx in e.ops if op == "start"
                 for i in idx}  # fmt: skip
        return frozenset(c.name for c in self.experiment.containers if c.index in ahead)

    def stopped(self) -> frozenset[str]:
        last: dict[int, str] = {}
        for e in self.events:
            for op, idx in e.ops:
                for i in idx:
                    last[i] = op
        gone = {i for i, op in last.items() if op in ("stop", "kill")}
        return frozenset(c.name for c in self.experiment.containers if c.index in gone)

    def finish(self) -> dict[str, Any]:
        for channel in self.channels.values():  # a run that failed before t0
            channel.close()
        self.channels.clear()
        results = for_each_machine(self.hosts(), self._finish_host, self.session.limit)
        for host, r in results.items():
            if isinstance(r, BaseException):
                self.errors.setdefault(
                    host, f"reading the schedulers failed: {describe_failure(r)}"
                )
            else:
                self.statuses[host] = r
        restore = self._restore()
        self.report = timeline_report(
            self.events, self.plans, self.statuses, self.errors, self.offsets,
            self.t0_wall, restore,
        )  # fmt: skip
        return self.report

    def _finish_host(self, host: str) -> HostStatus:
        name, out = self.experiment.name, HostStatus()
        if f"{host}:net" in self.launched:
            d = ts.net_dir(name)
            executor = self.session.executor
            if isinstance(executor, DockerExecutor):
                self.session.transport.run(
                    host, f"docker kill -s TERM {container_name(name)} >/dev/null 2>&1 || true"
                )
                text = self.session.transport.run(
                    host, "sh -s", stdin=stop_script(d, kill=False).encode()
                )
                self.session.transport.run(
                    host, f"docker rm -f {container_name(name)} >/dev/null 2>&1 || true"
                )
                self.session.run_privileged(host, f"rm -rf {_q(d)}\n")
            else:
                text = self.session.run_privileged(
                    host, stop_script(d, kill=True) + f"rm -rf {_q(d)}\n"
                )
            out.net = text.text
        if f"{host}:user" in self.launched:
            d = ts.user_dir(name)
            script = ACKS + stop_script(d, kill=True) + f"rm -rf {_q(d)}\n"
            out.user = self.session.transport.run(host, "sh -s", stdin=script.encode()).text
            self.acks += [(host, *ack) for ack in parse_acks(out.user)]
        return out

    def _restore(self) -> dict[str, Any]:
        if self.keep_last:
            return {"skipped": "keep_last: the last step's network stays"}
        if not self.plans.steps:
            return {"machines_changed": 0}
        try:
            plan = plan_network(self.session, self.base)
            result = apply_plan(self.session, plan, self.base)
        except Exception as exc:  # reported; the run's own outcome stays
            return {"error": describe_failure(exc)}
        failed = {m.hostname: m.error for m in result.failed}
        return {"machines_changed": len(result.machines), "failed": failed}


def timeline_hooks(
    session: Session,
    project: Project,
    network: Network,
    experiment: Experiment,
    plan: Plan,
    keep_last: bool,
    *,
    built: Built | None = None,
) -> TimelineRun | None:
    """The run's timeline (None without one): compiled, planned from each machine's state
    after this apply (`built`: as `plan_machines` already did for `plan`)."""
    if built is None:
        built = build_timeline(project, network, {m.hostname: m for m in plan.machines})
    if built is None:
        if not experiment.signals:
            return None
        built = [], TimelinePlans([], StepPlan(None, network))  # the signals alone
    events, plans = built
    return TimelineRun(session, experiment, events, plans, network, keep_last=keep_last)


def check_timeline(run: TimelineRun, run_dir: Path, events: Events) -> None:
    """Raise when a step failed or a machine's scheduler could not be reached."""
    report = run.report or {}
    failed, lost = report.get("failed", []), report.get("unreachable", {})
    lines = [
        f"step {f['event']} ({f['label']}) failed on {f['machine']} at {f['at']} "
        f"({f['part']}, exit code {f['exit_code']})"
        for f in failed
    ]
    lines += [f"{host}: {why}" for host, why in lost.items()]
    restore = report.get("restore", {})
    if restore.get("error") or restore.get("failed"):
        lines.append(f"restoring the base network failed: {restore}")
    if lines:
        raise ClusterError(
            "the timeline did not run as planned:\n  "
            + "\n  ".join(lines)
            + f"\nlogs and manifest in {run_dir}"
        )
    late = report.get("lateness", {})
    if late.get("count"):
        events.note(
            f"Timeline: {late['count']} step runs, start lateness median "
            f"{late['median_ms']:.1f} ms, max {late['max_ms']:.1f} ms."
        )
