"""One long-lived helper container per machine for the duration of a command (docker executor).

A `docker run` per privileged script cost 2-4 s in the testbed's guest; `HelperPool` starts
one privileged, host-network container per machine at the first privileged script there
(`docker run -d ... --entrypoint bash IMAGE -c RUNNER`, in the same round trip as that
script; the image is checked only if that start fails), runs every script in it through
its job mailbox (`oar_p2p.remote.mailbox`: the script dropped in a directory the helper
shares, no `docker exec`), and removes it when the command ends (`close`, from the
session's `finally`: success, failure and Ctrl-C; `docker rm -f` put in the background
on the machine, so the command does not wait for it). A command that runs no privileged
script (a no-op apply whose record is trusted) starts none.

    pool = HelperPool(transport, DockerExecutor("local/oar-p2p-networking:abc"))
    pool.run("gengar-1", "tc qdisc show\\n")   # first: start (image check if that fails) + job
    pool.run("gengar-1", "ip -br addr\\n")     # then: the job alone
    pool.close()                               # docker rm -f on every machine started

Every helper carries labels (`LABEL`: who started it, `LABEL_LOCKED`: whether under the
job lock, `LABEL_SINCE`: when). A process killed with SIGKILL cannot remove its helpers; the
removal at the end of every later command that started a helper, `destroy` and `clean`
sweep them (`sweep_shell`): a helper started under the job lock is stale for any later
holder of the lock, any helper is stale after `MAX_AGE_S`. Containers without the label
are never touched.

Script builders here are pure (text in, text out); `HelperPool` is the edge.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace

from oar_p2p.errors import ClusterError
from oar_p2p.remote.executors import DockerExecutor, image_check_shell
from oar_p2p.remote.mailbox import RUNNER_COMMAND, client_shell, job_dir, prepare_shell
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.remote.transport import CommandResult, Stdin, Transport, check_result

__all__ = [
    "LABEL",
    "LABEL_LOCKED",
    "LABEL_SINCE",
    "MAX_AGE_S",
    "START_FAILED",
    "HelperPool",
    "helper_name",
    "remove_command",
    "start_shell",
    "sweep_shell",
]

LABEL = "oar-p2p.helper"
LABEL_LOCKED = "oar-p2p.helper.locked"
LABEL_SINCE = "oar-p2p.helper.since"
# a helper older than this is stale whoever started it (no command holds one that long)
MAX_AGE_S = 24 * 3600
# the exit status of a first round trip whose helper could not be started
START_FAILED = 97


def helper_name() -> str:
    """A fresh container name: ``oar-p2p-helper-<12 hex>``."""
    return f"oar-p2p-helper-{uuid.uuid4().hex[:12]}"


def owner_text() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


def sweep_shell(own: str, *, locked: bool, now: int, max_age: int = MAX_AGE_S) -> str:
    """Shell that removes stale helpers (see the module's doc), never `own` nor a container
    without our label; prints nothing."""
    fmt = f'{{{{.Names}}}} {{{{.Label "{LABEL_LOCKED}"}}}} {{{{.Label "{LABEL_SINCE}"}}}}'
    stale, fields = f"[ $(({now} - t)) -gt {max_age} ]", "n _ t"
    if locked:  # we hold the job lock: a lock holder's helper is a dead command's
        stale, fields = f'[ "$l" = 1 ] || {stale}', "n l t"
    return (
        f"docker ps -a --filter label={LABEL} --format {shlex.quote(fmt)} 2>/dev/null "
        f'| while read -r {fields}; do [ "$n" = {shlex.quote(own)} ] && continue; '
        f'case "$t" in ""|*[!0-9]*) t=0;; esac; '
        f'if {stale}; then docker rm -f "$n" >/dev/null 2>&1; '
        f'case "$n" in oar-p2p-helper-*) rm -rf "/tmp/$n" 2>/dev/null;; esac; fi; done'
    )


def start_shell(
    executor: DockerExecutor, name: str, *, owner: str, locked: bool, now: int, root: str = "/tmp"
) -> str:
    """Shell that makes the helper's job directory and starts the helper `name` (in the
    host's PID namespace, so that its runner's PID tells the mailbox's clients it is
    alive); exits `START_FAILED` with a message on stderr when it cannot. Prints nothing
    on stdout.

    The image is checked only when the start fails (``--pull=never``: a missing image
    fails at once, no registry is asked): then the packaged image is built if missing (an
    image given as is must be there), and the start tried once more."""
    image, q = executor.image, shlex.quote
    if executor.build:
        check = image_check_shell(image)
    else:
        check = (
            f"{{ docker image inspect {q(image)} >/dev/null 2>&1 || {{ echo {q(image)}': the "
            "helper image (OAR_P2P_HELPER_IMAGE) is not on this machine; load it there (docker "
            "load), or unset OAR_P2P_HELPER_IMAGE to build the default helper image' >&2; "
            "false; }; }"
        )
    labels = f"--label {q(f'{LABEL}={owner}')} --label {LABEL_LOCKED}={int(locked)} "
    labels += f"--label {LABEL_SINCE}={now}"
    options = (
        f"--name {q(name)} {labels} --privileged --network=host --pid=host "
        f"-v /run/oar-p2p:/run/oar-p2p -v {q(job_dir(name, root))}:/j "
        f"--entrypoint bash {q(image)} {RUNNER_COMMAND} >/dev/null"
    )
    return (
        f"{{ {prepare_shell(name, root)}; }} || exit {START_FAILED}\n"
        f"docker run -d --pull=never {options} 2>/dev/null || "
        f"{{ {check} && {{ docker rm -f {q(name)} >/dev/null 2>&1; docker run -d {options}; }}; }}"
        f" || {{ echo 'starting the helper container failed' >&2; exit {START_FAILED}; }}\n"
    )


def remove_command(name: str, sweep: str = "", root: str = "/tmp") -> str:
    """Remove the helper `name` and its job directory, then run `sweep`, all in the
    background on the machine:
    the round trip returns at once, the command does not wait for docker (``docker rm``
    took 2-5 s in the testbed's loaded guest)."""
    q = shlex.quote
    work = f"docker rm -f {q(name)} >/dev/null 2>&1; rm -rf {q(job_dir(name, root))}"
    work += f"; {sweep}" if sweep else ""
    return f"nohup sh -c {shlex.quote(work)} >/dev/null 2>&1 </dev/null &"


class HelperPool:
    """The helper containers of one command, one per machine; thread-safe (scripts run on
    several machines, and several on one machine, at once)."""

    def __init__(self, transport: Transport, executor: DockerExecutor, root: str = "/tmp") -> None:
        self.transport = transport
        self.executor = executor
        self.root = root  # where the job directories are, on the machines (tests: elsewhere)
        self.patience = 30.0  # how long a script waits for a helper another one starts (s)
        # set by the session scope once the job lock is held: this command's helpers, and
        # the stale ones it may sweep, are those of lock holders
        self.locked = False
        self.owner = owner_text()
        self.started: dict[str, str] = {}  # host -> container name (start attempted)
        self.starts: dict[str, int] = {}
        self.execs: dict[str, int] = {}
        self._lock = threading.Lock()
        self._starting: set[str] = set()  # hosts whose first round trip is in flight

    def run(
        self, host: str, script: str | Iterable[bytes], timeout: float | None = None
    ) -> CommandResult:
        """Run `script` in the machine's helper, starting it (same round trip) if needed.

        A script that comes while the helper's start is still in flight (another thread's
        first script, e.g. `verify`'s iperf3 server and its stop) waits on the machine for
        the helper to run rather than for that first script to end."""
        with self._lock:
            name = self.started.get(host)
            first = name is None
            if name is None:
                name = self.started[host] = helper_name()  # removed at close even if the
                self._starting.add(host)  # start fails half-way
            waiting = not first and host in self._starting
        stdin: Stdin = script.encode() if isinstance(script, str) else script
        if first:
            return self._start_and_run(host, name, stdin, timeout)
        self._count(self.execs, host)
        command = _bash(self._client(name, waiting=waiting))
        result = self.transport.run(host, command, stdin=stdin, timeout=timeout, check=False)
        return check_result(replace(result, command=_described(name)))

    def listing_argv(self, host: str) -> tuple[list[str], str | None]:
        """The argv of the read's nft listing on `host` (`observe.read_script`'s NFT), run
        in this command's helper: started by the listing itself when the machine has none
        yet, so that a later privileged script there (the write) finds it running: one
        `docker run` per machine for a read and a write, not two.

        Returns the argv and the helper name reserved for it (None when the helper already
        runs); `listing_done` must follow the read, saying whether the listing ran (a
        trusted record skips it, and then no helper was started)."""
        with self._lock:
            name = self.started.get(host)
            if name is not None:  # running, or another script is starting it: wait for it
                waiting = host in self._starting
                return ["bash", "-c", self._client(name, args=True, waiting=waiting), "nft"], None
            name = self.started[host] = helper_name()
            self._starting.add(host)
        text = self._start(name) + self._client(name, args=True, started=True)
        return ["bash", "-c", text, "nft"], name

    def listing_done(
        self, host: str, name: str | None, listed: bool, *, started: bool = False
    ) -> None:
        """After the read whose listing argv came from `listing_argv` (`name`: the helper it
        reserved, or None). A listing that ran started that helper (or tried to: `close`
        removes it either way); `started`: the read started it in the background, for the
        write that follows (the machine's next script waits for it to run); a read that did
        neither leaves the machine without a helper, as before the read."""
        with self._lock:
            if listed:
                self.execs[host] = self.execs.get(host, 0) + 1
            if name is None:
                return
            if listed or started:
                self.starts[host] = self.starts.get(host, 0) + 1
            if not started:
                self._starting.discard(host)
            if not (listed or started) and self.started.get(host) == name:
                del self.started[host]

    def _start_and_run(
        self, host: str, name: str, stdin: Stdin, timeout: float | None
    ) -> CommandResult:
        command = _bash(self._start(name) + self._client(name, started=True))
        self._count(self.starts, host)
        self._count(self.execs, host)
        try:
            result = self.transport.run(host, command, stdin=stdin, timeout=timeout, check=False)
        finally:
            with self._lock:
                self._starting.discard(host)
        if result.status == START_FAILED:
            with self._lock:
                if self.started.get(host) == name:
                    del self.started[host]
            reason = result.stderr.decode(errors="replace").strip() or "no message"
            raise ClusterError(f"{host}: the helper container: {reason}")
        return check_result(replace(result, command=_described(name)))

    def _start(self, name: str) -> str:
        """The shell that starts this command's helper `name` (`start_shell`)."""
        return start_shell(
            self.executor, name, owner=self.owner, locked=self.locked, now=int(time.time()),
            root=self.root,
        )  # fmt: skip

    def _client(self, name: str, **kw: bool) -> str:
        """The mailbox client that runs one script in the helper `name` (`client_shell`)."""
        return client_shell(name, root=self.root, patience=self.patience, **kw)

    def _count(self, counts: dict[str, int], host: str) -> None:
        with self._lock:
            counts[host] = counts.get(host, 0) + 1

    def close(self) -> None:
        """Remove every helper started (all machines at once, one round trip each) and
        sweep stale ones there; failures are ignored (`destroy` and the next command sweep
        what is left)."""
        with self._lock:
            started, self.started = dict(self.started), {}

        now = int(time.time())

        def remove(host: str) -> CommandResult:
            sweep = sweep_shell(started[host], locked=self.locked, now=now)
            line = remove_command(started[host], sweep, self.root)
            return self.transport.run(host, line, timeout=60)

        if started:
            for_each_machine(list(started), remove)

    def sweep(self, hosts: Sequence[str]) -> None:
        """Remove stale helpers on `hosts` (`destroy`, `clean`); never this command's."""
        now = int(time.time())
        own = "-"  # no container has this name

        def one(host: str) -> CommandResult:
            command = sweep_shell(self.started.get(host, own), locked=self.locked, now=now)
            return self.transport.run(host, command, check=False)

        for_each_machine(list(hosts), one)


def _bash(text: str) -> str:
    """The remote command line that runs `text` with bash (the login shell may be sh)."""
    return f"bash -c {shlex.quote(text)}"


def _described(name: str) -> str:
    """How errors name a script run in the helper `name` (not the mailbox's long text)."""
    return f"bash (a script in the helper container {name})"
