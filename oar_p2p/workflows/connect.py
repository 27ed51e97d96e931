"""Opening and closing a session: the one place connections, the helper containers and the
job lock are set up and torn down.

    with session_scope(settings, connector, Target(fixed=["gengar-1"]), lock="apply") as s:
        plan = plan_network(s, network)

`Connector` holds the I/O edges a session is made of (the SSH transport, where the tool
runs, the local shell that runs oarstat on the frontend); production uses `Connector()`,
tests inject a `FakeTransport` through `Connector(transport=lambda _opts: fake, ...)`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from oar_p2p.cluster import job_hosts
from oar_p2p.cluster.inventory import MachineOverride, resolve_machines
from oar_p2p.cluster.location import Location, detect_location
from oar_p2p.cluster.machines import Machine
from oar_p2p.errors import LockError, OarP2PError
from oar_p2p.lock import cluster_lock, release_lock, take_lock
from oar_p2p.matrix_file import cache_dir
from oar_p2p.remote.counting import CountingTransport
from oar_p2p.remote.executors import DockerExecutor, make_executor
from oar_p2p.remote.helper import HelperPool
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.trace import TracedTransport
from oar_p2p.remote.transport import LocalTransport, Transport, connect_ahead
from oar_p2p.session import Progress, Session
from oar_p2p.settings import Settings
from oar_p2p.spec.models import MachineOverrideSpec
from oar_p2p.vocab import HostKeyPolicy

__all__ = [
    "Connector",
    "SshOptions",
    "Target",
    "close_session",
    "describe_settings",
    "open_session",
    "release_helpers",
    "session_scope",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SshOptions:
    """What the SSH transport is built from (resolved settings plus where we run)."""

    frontend: str | None
    username: str | None
    ssh_config: Path | None
    host_key_policy: HostKeyPolicy
    jump: bool

    @classmethod
    def of(cls, settings: Settings, location: Location) -> SshOptions:
        ssh_config = settings.ssh_config.value
        return cls(
            frontend=settings.frontend.value,
            username=settings.username.value,
            ssh_config=Path(ssh_config).expanduser() if ssh_config else None,
            host_key_policy=settings.host_key_policy.value,
            jump=location.jump,
        )


def ssh_transport(options: SshOptions) -> Transport:
    return SshTransport(
        frontend=options.frontend,
        username=options.username,
        ssh_config=options.ssh_config,
        host_key_policy=options.host_key_policy,
        jump=options.jump,
    )


@dataclass(frozen=True)
class Connector:
    """The edges a session is opened with; every field has the production default."""

    transport: Callable[[SshOptions], Transport] = ssh_transport
    locate: Callable[[], Location] = detect_location
    local: Callable[[], Transport] = LocalTransport
    # where `close_session` writes the session's counts (OAR_P2P_STATS), if anywhere
    stats_path: str | None = None
    # the user's cache directory (None: off), where a job's machines are kept between
    # commands (`cluster.job_hosts`)
    cache: Callable[[], Path | None] = cache_dir

    def open_transport(self, options: SshOptions) -> Transport:
        """The transport to the machines, every command logged at debug level."""
        return TracedTransport(self.transport(options))

    def open_local(self) -> Transport:
        """The local shell (oarstat on the frontend), every command logged at debug level."""
        return TracedTransport(self.local())


@dataclass(frozen=True)
class Target:
    """Which machines: a fixed list (flags or `cluster.machines`) or the job's."""

    fixed: Sequence[str] = ()
    overrides: Mapping[str, MachineOverrideSpec] = field(default_factory=dict)


def describe_settings(settings: Settings) -> str:
    """`name=value (source)` for every setting, for the info log."""
    return ", ".join(
        f"{f.name}={getattr(settings, f.name).value} ({getattr(settings, f.name).source})"
        for f in fields(settings)
    )


def _check_reachable(settings: Settings, target: Target, location: Location) -> None:
    if not target.fixed and settings.job.value is None:
        raise OarP2PError(
            "no job given: pass --job-id, set OAR_JOB_ID (or OAR_P2P_INFER_JOB_ID=true), "
            "or set `cluster.job` in the spec"
        )
    if location.jump and not settings.frontend.value:
        raise OarP2PError(
            "no frontend given: pass --frontend-hostname, set FRONTEND_HOSTNAME, or set "
            "`cluster.frontend` in the spec"
        )


def _machines(
    settings: Settings,
    target: Target,
    transport: Transport,
    location: Location,
    local: Transport,
    on_job: Callable[[int], None],
) -> list[Machine]:
    job = settings.job.value
    return resolve_machines(
        job_id=job if isinstance(job, int) else None,
        infer=job == "infer",
        fixed=list(target.fixed) or None,
        transport=transport,
        frontend=settings.frontend.value,
        username=settings.username.value,
        overrides={k: MachineOverride(**v.model_dump()) for k, v in target.overrides.items()},
        location=location,
        concurrency=settings.concurrency_limit.value,
        local=local,
        on_job=on_job,
    )


class _JobMachines:
    """The machines of the job's last command (`cluster.job_hosts`), connecting while
    oarstat lists them again; called with the job id just before that oarstat (never for a
    fixed list or a job machine's nodefile), then `done` with oarstat's answer."""

    def __init__(
        self,
        settings: Settings,
        connector: Connector,
        transport: Transport,
        early: _EarlyLock | None = None,
    ) -> None:
        self.early = early
        self.frontend = settings.frontend.value
        self.limit = settings.concurrency_limit.value
        self.cache = connector.cache
        self.transport = transport
        self.job: int | None = None
        self.directory: Path | None = None
        self.guessed: tuple[str, ...] = ()

    def __call__(self, job: int) -> None:
        self.job, self.directory = job, self.cache()
        self.guessed = tuple(job_hosts.recall(self.directory, self.frontend, job))
        if self.guessed:
            _log.debug(
                "job %d's machines kept from the last command, connecting while oarstat runs: %s",
                job,
                " ".join(self.guessed),
            )
            connect_ahead(self.transport, self.guessed, self.limit)
            if self.early is not None:
                self.early.start(self.transport, min(self.guessed))

    def done(self, hosts: Sequence[str]) -> None:
        """Keep the job's machines for the next command; connect to those not guessed."""
        if self.job is not None:
            job_hosts.remember(self.directory, self.frontend, self.job, hosts)
        rest = [h for h in hosts if h not in self.guessed]
        if rest:
            connect_ahead(self.transport, rest, self.limit)


class _EarlyLock:
    """The job lock, taken while oarstat runs on the first of the machines kept from the
    job's last command (`Session.lock_host` if they are still the job's): its round trip
    overlaps oarstat's instead of following it. `claim` once oarstat answered: the token
    when the guess was the lock machine (or its `LockError`: another command holds the
    lock), else None, after releasing a lock taken on the wrong machine."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.host = ""
        self._transport: Transport | None = None
        self._future: Future[str] | None = None

    def start(self, transport: Transport, host: str) -> None:
        _log.debug("taking the job lock on %s while oarstat runs", host)
        self._transport, self.host = transport, host
        pool = ThreadPoolExecutor(1, thread_name_prefix="oar-p2p-lock")
        self._future = pool.submit(take_lock, transport, host, self.command)
        pool.shutdown(wait=False)

    def claim(self, host: str) -> str | None:
        token = self._result(raise_held=host == self.host)
        if token is not None and host != self.host:
            self._release(token)
            return None
        return token

    def abandon(self) -> None:
        """The command ends before `claim`: release a lock taken."""
        token = self._result(raise_held=False)
        if token is not None:
            self._release(token)

    def _result(self, raise_held: bool) -> str | None:
        """The early take's token (None: not taken); the take is forgotten once it ended
        (an interrupted wait keeps it, for `abandon`)."""
        future = self._future
        if future is None:
            return None
        try:
            token = future.result()
        except LockError:
            self._future = None
            if raise_held:
                raise
            return None
        except Exception as exc:  # e.g. the guess unreachable: the usual path says why
            self._future = None
            _log.debug("the early job lock on %s failed: %s", self.host, exc)
            return None
        self._future = None
        return token

    def _release(self, token: str) -> None:
        assert self._transport is not None
        with contextlib.suppress(Exception):
            release_lock(self._transport, self.host, token)


def _claim(early: _EarlyLock | None, host: str) -> str | None:
    try:
        return early.claim(host) if early is not None else None
    except BaseException:  # held (LockError), or interrupted while waiting for the take
        if early is not None:
            early.abandon()
        raise


def open_session(
    settings: Settings,
    connector: Connector,
    target: Target,
    *,
    progress: Progress = lambda _m: None,
    privileged: bool = True,
    partial: bool = False,
    early_lock: _EarlyLock | None = None,
) -> Session:
    """Connect, list the job's machines and prepare the executor.

    Nothing runs on the machines here. With `partial`, machines that fail the command's
    first round trip on them (the read, or the base-RTT probe) are recorded in
    `Session.unreachable` instead of failing the whole command, as long as one machine
    can be read; the command then works on the others and reports these. With the docker
    executor (and `privileged`), the session holds a `HelperPool`: the helper image is
    checked and the helper container started at the first privileged script on a machine.
    """
    location = connector.locate()
    _log.info("running on %s; settings: %s", location.place.value, describe_settings(settings))
    _check_reachable(settings, target, location)
    transport = CountingTransport(connector.open_transport(SshOptions.of(settings, location)))
    limit = settings.concurrency_limit.value
    try:
        job_machines = _JobMachines(settings, connector, transport, early_lock)
        progress("listing the job's machines")
        local = connector.open_local()
        machines = _machines(settings, target, transport, location, local, job_machines)
        _log.info("%d machines: %s", len(machines), " ".join(m.hostname for m in machines))
        executor = make_executor(settings.executor.value, settings.helper_image.value)
        session = Session(transport, executor, machines, limit, progress, settings=settings)
        session.partial = partial
        # connect to every machine while the command takes the job lock on one of them
        job_machines.done(session.hosts)
        if privileged and isinstance(executor, DockerExecutor):
            session.helpers = HelperPool(transport, executor)
    except BaseException:
        if early_lock is not None:
            early_lock.abandon()
        transport.close()
        raise
    return session


def close_session(session: Session, stats_path: str | None = None) -> None:
    """Remove the helper containers, write the counts (with a stats path, OAR_P2P_STATS),
    close connections: each step runs even if the one before failed or was interrupted."""
    try:
        release_helpers(session)
    finally:
        _write_stats_and_close(session, stats_path)


def release_helpers(session: Session) -> None:
    """Remove the session's helper containers (idempotent)."""
    if session.helpers is not None:
        session.helpers.close()


def _write_stats_and_close(session: Session, stats_path: str | None) -> None:
    try:
        if stats_path:
            stats = {**session.stats(), "peak_rss_mb": _peak_rss_mb()}
            Path(stats_path).write_text(json.dumps(stats, indent=1) + "\n")
    finally:
        session.transport.close()


def _peak_rss_mb() -> float | None:
    """This process's own peak RSS (VmHWM; a parent's rusage would count what the child
    inherited from its own parent's memory at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextmanager
def session_scope(
    settings: Settings,
    connector: Connector,
    target: Target,
    *,
    lock: str | None = None,
    progress: Progress = lambda _m: None,
    privileged: bool = True,
    partial: bool = False,
) -> Iterator[Session]:
    """An open session for the block; with `lock` (the command's name), the job lock too
    (taken while oarstat runs when the job's machines are known from its last command)."""
    early = _EarlyLock(lock) if lock is not None else None
    session = open_session(
        settings, connector, target, progress=progress, privileged=privileged, partial=partial,
        early_lock=early,
    )  # fmt: skip
    try:
        if lock is None:
            yield session
        else:
            token = _claim(early, session.lock_host)
            with cluster_lock(session.transport, session.lock_host, lock, token):
                if session.helpers is not None:
                    session.helpers.locked = True
                try:
                    yield session
                finally:  # the helpers go before the lock does
                    release_helpers(session)
    finally:
        close_session(session, connector.stats_path)
