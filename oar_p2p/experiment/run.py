"""Run an experiment on the machines, observe its containers, destroy them.

`run_experiment` executes one run, one round trip per machine per phase, machines in
parallel:

    preflight  signal dir writable, images by pull policy (each image once per machine),
               no foreign container holding one of our names -> every problem of every
               machine in one `ClusterError`, before anything is changed
    create     old containers of this experiment removed (never others), its signal files
               cleared, every container created
    start      every container started, on all machines at once; t0 = the last return
    run        signals fired at t0 + delay on every machine while `docker wait` runs;
               after the run timeout the remaining containers are stopped
    collect    `docker inspect` (exit codes, start and end), logs to <out>/<name>.stdout|.stderr,
               <out>/manifest.json

Ctrl-C after preflight stops the run's containers, collects what logs exist, removes the
containers and returns a result with ``interrupted=True``; a second Ctrl-C propagates. Any
other exception after preflight stops, collects and removes them too, then propagates.
Nothing here prints: progress goes to a callback, the outcome is a `RunResult`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from oar_p2p.desired.containers import Experiment
from oar_p2p.errors import ClusterError, RemoteCommandError
from oar_p2p.experiment import scripts
from oar_p2p.experiment.hold import ImageCommand, held_commands
from oar_p2p.experiment.logs import container_outcome, extract_logs, manifest, write_manifest
from oar_p2p.experiment.model import (
    ContainerOutcome,
    Progress,
    ProgressCallback,
    RunHooks,
    RunOptions,
    RunResult,
)
from oar_p2p.experiment.owned import sh
from oar_p2p.experiment.preflight import preflight_problems
from oar_p2p.experiment.signals import Clock, SignalFiring, SystemClock, fire_signals
from oar_p2p.observe.docker import inspect_command, parse_docker_inspect, parse_docker_ps
from oar_p2p.remote.pool import describe_failure, for_each_machine, raise_for_failures
from oar_p2p.remote.transport import Transport

T = TypeVar("T")

__all__ = ["preflight_problems", "run_experiment"]


class _Run:
    """The state of one run while it executes (explicit, per call)."""

    def __init__(
        self,
        transport: Transport,
        experiment: Experiment,
        hosts: Sequence[str],
        output_dir: Path,
        options: RunOptions,
        clock: Clock,
        progress: ProgressCallback | None,
        hooks: RunHooks | None = None,
    ) -> None:
        self.transport = transport
        self.hooks = hooks
        self.hooks_report: dict[str, Any] | None = None
        self.experiment = experiment
        self.hosts = list(dict.fromkeys([*experiment.machines, *hosts]))
        self.busy = list(experiment.machines)
        self.output_dir = output_dir
        self.options = options
        self.clock = clock
        self.progress = progress
        self.firings: list[SignalFiring] = []
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.began = 0.0
        self.all_started: float | None = None
        self.timed_out = False
        self.interrupted = False
        self.phase = "create"
        self.waiter: threading.Thread | None = None  # the `docker wait` of every machine
        # per machine: the image commands of the containers a timeline starts ahead
        self.held_commands: dict[str, dict[str, ImageCommand]] = {}

    def report(self, phase: str, add: int, total: int, unit: str = "containers") -> None:
        """Progress of `phase`: `add` more units done (a negative `add` starts the phase)."""
        with self._lock:
            done = self._counts[phase] = self._counts.get(phase, 0) + add if add >= 0 else 0
        if self.progress is not None:
            self.progress(Progress(phase, done, total, unit))

    def names(self, host: str) -> list[str]:
        return [c.name for c in self.experiment.on(host)]

    def each(self, hosts: Sequence[str], fn: Callable[[str], T], action: str) -> dict[str, T]:
        return raise_for_failures(for_each_machine(hosts, fn, self.options.limit), action)

    # -- preflight -------------------------------------------------------------------
    def preflight(self) -> None:
        self.report("preflight", -1, len(self.hosts), "machines")
        found = self.each(self.hosts, self._preflight_host, "checking machines")
        problems = [p for host in self.hosts for p in found[host]]
        if problems:
            raise ClusterError("cannot start the run:\n  " + "\n  ".join(problems))

    def _preflight_host(self, host: str) -> list[str]:
        images = scripts.image_policies(self.experiment.on(host))
        held = self.hooks.held() if self.hooks is not None else frozenset()
        mine = [c for c in self.experiment.on(host) if c.name in held]
        script = scripts.preflight_script(images, [c.image for c in mine])
        result = sh(self.transport, host, script)
        head, tail = scripts.split_preflight(result.text)
        report = scripts.parse_image_report(head, list(images))
        stderr = result.stderr.decode("utf-8", errors="replace")
        self.report("preflight", 1, len(self.hosts), "machines")
        problems = preflight_problems(host, self.experiment, report, parse_docker_ps(tail), stderr)
        self.held_commands[host], unread = held_commands(mine, report.commands)
        if unread and not problems:  # (an absent image is one of the problems already)
            problems += [f"{host}: could not read the entrypoint of image {i}" for i in unread]
        return problems

    # -- create, start ---------------------------------------------------------------
    def create(self) -> None:
        self.report("create", -1, len(self.experiment.containers))
        self.each(self.hosts, self._create_host, "creating containers")

    def _create_host(self, host: str) -> None:
        mine = self.experiment.on(host)
        script = scripts.prepare_script(
            self.experiment,
            mine,
            parallelism=self.options.parallelism,
            held=self.held_commands.get(host),
        )
        result = sh(self.transport, host, script)
        created = scripts.parse_prepare_report(result.text, [c.name for c in mine])
        self.report("create", len(created.created), len(self.experiment.containers))
        if created.failed:
            stderr = result.stderr.decode("utf-8", errors="replace")
            raise RemoteCommandError(host, "docker create", 1, stderr or "no error output")

    def start(self) -> tuple[float, float]:
        total = len(self.experiment.containers)
        self.report("start", -1, total)

        def start_host(host: str) -> None:
            names = self.names(host)
            sh(
                self.transport,
                host,
                scripts.start_script(names, parallelism=self.options.parallelism),
            )
            self.report("start", len(names), total)

        self.each(self.busy, start_host, "starting containers")
        return self.clock.monotonic(), self.clock.time()

    # -- the run itself -------------------------------------------------------------------
    def drive(self) -> None:
        """Create, start, signal and wait; Ctrl-C stops (the caller collects and removes)."""
        self.began = self.clock.time()
        try:
            self.create()
            if self.hooks is not None:
                self.hooks.prepare()
            self.phase = "start"  # from here on a container may be running
            t0, self.all_started = self.start()
            if self.hooks is not None:
                self.hooks.go(self.all_started)
            self.timed_out = self.execute(t0, self.all_started)
        except KeyboardInterrupt:
            self.interrupted = True
            self.notes.append("interrupted (Ctrl-C): containers stopped, logs collected, removed")
            self.stop()
            self.settle()

    def settle(self) -> None:
        """After a stop: let every `docker wait` return before collecting (real time)."""
        if self.waiter is not None:
            self.waiter.join(self.options.stop_grace + 30.0)

    def abort(self) -> None:
        """After any failure: stop and collect what may have run, remove; never raises."""
        try:
            if self.phase != "create":
                self.stop()
                self.settle()
                self.collect()
        except Exception as exc:  # the original failure is the one re-raised
            self.notes.append(f"collecting after the failure failed: {describe_failure(exc)}")
        finally:
            try:
                self.finish_hooks()
            except Exception as exc:  # the hooks' own failure must not hide the first one
                self.notes.append(f"ending the timeline failed: {describe_failure(exc)}")
            self.remove()

    def finish_hooks(self) -> None:
        """The hooks' end (once); their report goes into the manifest."""
        if self.hooks is not None and self.hooks_report is None:
            self.hooks_report = self.hooks.finish()
            if self.hooks.fires_signals():
                self.firings = self.hooks.signal_firings()

    def result(self, outcomes: Sequence[ContainerOutcome]) -> RunResult:
        return RunResult(
            experiment=self.experiment.name,
            run_digest=self.experiment.run_digest,
            output_dir=self.output_dir,
            manifest_path=self.output_dir / "manifest.json",
            machines=tuple(self.hosts),
            started_at=self.began,
            all_started_at=self.all_started,
            finished_at=self.clock.time(),
            containers=tuple(outcomes),
            signals=tuple(self.firings),
            timed_out=self.timed_out,
            interrupted=self.interrupted,
            removed=self.interrupted,
            notes=tuple(self.notes),
        )

    # -- run: signals while waiting ----------------------------------------------------
    def execute(self, t0: float, t0_wall: float) -> bool:
        """Fire signals and wait for every container; True when the run timed out."""
        done = threading.Event()
        self.waiter = threading.Thread(target=self._wait_all, args=(done,), daemon=True)
        self.waiter.start()
        timeout = self.options.timeout
        deadline = None if timeout is None else t0 + timeout
        machine_local = self.hooks is not None and self.hooks.fires_signals()
        fire_signals(
            self.transport,
            self.hosts,
            () if machine_local else self.experiment.signals,
            t0=t0,
            t0_wall=t0_wall,
            clock=self.clock,
            done=done,
            until=deadline,
            limit=self.options.limit,
            on_fired=self.firings.append,
        )
        if deadline is None:
            while not self.clock.wait(done, 3600.0):
                pass
            return False
        if self.clock.wait(done, deadline - self.clock.monotonic()):
            return False
        self.notes.append(f"run timeout of {timeout:g} s reached: containers stopped")
        self.stop()
        self.settle()
        return True

    def _wait_all(self, done: threading.Event) -> None:
        total = len(self.experiment.containers)
        self.report("wait", -1, total)
        try:
            results = for_each_machine(self.busy, lambda h: self._wait_host(h, total))
            for host, r in results.items():
                if isinstance(r, BaseException):
                    self.notes.append(f"{host}: waiting failed: {describe_failure(r)}")
        finally:
            done.set()

    def _wait_host(self, host: str, total: int) -> None:
        names = self.names(host)
        script = self.hooks.wait_script(host, names) if self.hooks is not None else None
        for attempt in range(self.options.wait_retries + 1):
            try:
                sh(self.transport, host, script or scripts.wait_script(names), check=False)
                break
            except RemoteCommandError:
                raise
            except ClusterError:
                if attempt == self.options.wait_retries:
                    raise
                self.clock.wait(threading.Event(), 2.0)
        self.report("wait", len(names), total)

    # -- stop, remove, collect ----------------------------------------------------------
    def stop(self) -> None:
        grace = self.options.stop_grace
        results = for_each_machine(
            self.busy,
            lambda h: sh(self.transport, h, scripts.stop_script(self.names(h), grace)),
            self.options.limit,
        )
        self._note_failures(results, "stopping containers")

    def remove(self) -> None:
        results = for_each_machine(
            self.busy,
            lambda h: sh(self.transport, h, scripts.remove_script(self.names(h))),
            self.options.limit,
        )
        self._note_failures(results, "removing containers")

    def _note_failures(self, results: Mapping[str, object], action: str) -> None:
        for host, r in results.items():
            if isinstance(r, BaseException):
                self.notes.append(f"{host}: {action} failed: {describe_failure(r)}")

    def collect(self) -> list[ContainerOutcome]:
        states = for_each_machine(
            self.busy,
            lambda h: parse_docker_inspect(
                sh(self.transport, h, inspect_command(self.experiment.name)).text
            ),
            self.options.limit,
        )
        self._note_failures(states, "reading containers")
        self.report("logs", -1, len(self.busy), "machines")
        logs = for_each_machine(self.busy, self._fetch_logs, self.options.limit)
        self._note_failures(logs, "copying logs")
        stopped = self.hooks.stopped() if self.hooks is not None else frozenset()
        return [
            container_outcome(c, states, logs, c.name in stopped, self.options.tail_lines)
            for c in self.experiment.containers
        ]

    def _fetch_logs(self, host: str) -> dict[str, dict[str, Path]]:
        names = self.names(host)
        result = sh(self.transport, host, scripts.logs_script(names))
        paths = extract_logs(result.stdout, names, self.output_dir)
        self.report("logs", 1, len(self.busy), "machines")
        return paths


def run_experiment(
    transport: Transport,
    experiment: Experiment,
    output_dir: Path,
    *,
    hosts: Sequence[str] = (),
    options: RunOptions | None = None,
    clock: Clock | None = None,
    progress: ProgressCallback | None = None,
    extra: Mapping[str, Any] | None = None,
    hooks: RunHooks | None = None,
) -> RunResult:
    """Execute one run of `experiment`; logs and ``manifest.json`` go to `output_dir`.

    `hosts`: every machine of the job (old containers of this experiment are removed from
    all of them and signals fire on all of them); the machines of the containers are
    always included. `extra` adds keys to the manifest (spec path, plan summary); `hooks`
    run beside the containers (the timeline), their report under ``timeline``.
    Raises `ClusterError` before anything changes when a machine is not ready (missing
    image, name taken by a foreign container); on any other failure (remote or not) once
    containers exist, stops them, collects their logs, removes them and re-raises.
    """
    opts = options or RunOptions()
    run = _Run(
        transport, experiment, hosts, output_dir, opts, clock or SystemClock(), progress, hooks
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    run.preflight()
    try:
        run.drive()
        outcomes = run.collect()
    except Exception:  # a remote failure or a bug: nothing this run started is left behind
        run.abort()
        raise
    run.finish_hooks()
    if run.interrupted:
        run.remove()
    result = run.result(outcomes)
    more = {"network_digest": experiment.network_digest, **(extra or {})}
    if run.hooks_report is not None:
        more["timeline"] = run.hooks_report
    document = manifest(result, more)
    write_manifest(result.manifest_path, document)
    return result
