"""`Testbed`: bring the local OAR cluster up and down, run commands in it.

The state directory (default /run/oar-p2p-testbed) holds `testbed.json` (a `TestbedState`:
the `TestbedInfo` users see plus the UML PID), the client's ssh files and the guest's
files. Nodes are reached over ssh from the client namespace: the frontend by its alias,
machines through it as a jump host; `exec` logs in as root, the tool as the cluster user.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from oar_p2p.errors import TestbedError
from oar_p2p.testbed import host
from oar_p2p.testbed.images import DEMO_IMAGE, HELPER_IMAGE
from oar_p2p.testbed.kernel import ensure_kernel
from oar_p2p.testbed.layout import FRONTEND, Layout
from oar_p2p.testbed.memory import DEFAULT_MEM_MB, MIN_MEM_MB, host_mem_mb
from oar_p2p.testbed.prepare import prepare_state_dir

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_STATE_DIR",
    "Testbed",
    "TestbedInfo",
    "TestbedState",
    "node_ssh_argv",
]

DEFAULT_STATE_DIR = Path("/run/oar-p2p-testbed")
DEFAULT_NAME = "oarp2p"
READY_TIMEOUT = 240.0


class TestbedInfo(BaseModel):
    """What a running testbed offers: how to reach it, as a cluster user would."""

    model_config = ConfigDict(frozen=True)
    __test__ = False

    state_dir: Path
    client_netns: str
    ssh_config: Path
    frontend_alias: str
    frontend_ip: str
    job_id: int
    username: str
    machines: list[str]
    machine_ips: dict[str, str]
    known_hosts: Path
    identity_file: Path
    helper_image: str
    demo_image: str
    kernel: Path
    boot_seconds: float
    mem_mb: int = DEFAULT_MEM_MB  # the guest's memory (`up --mem`), shared by all nodes


class TestbedState(BaseModel):
    """`<state>/testbed.json`: the info plus what `down` needs."""

    model_config = ConfigDict(frozen=True)
    __test__ = False

    info: TestbedInfo
    name: str
    uml_pid: int
    machines: int

    def layout(self) -> Layout:
        return Layout.named(self.name, self.machines)


def _check_mem(mem_mb: int) -> None:
    """At least the minimum, at most the host's memory (the guest's pages are the host's)."""
    total = host_mem_mb()
    if mem_mb < MIN_MEM_MB or (total is not None and mem_mb > total):
        top = f"{total} MB (the host's memory)" if total is not None else "the host's memory"
        raise TestbedError(f"guest memory {mem_mb} MB: give between {MIN_MEM_MB} MB and {top}")


def _require_root() -> None:
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root (network namespaces, tap, UML); run as root")


MUX_PERSIST_S = 300


def mux_dir(state_dir: Path) -> Path:
    """Where `exec`'s multiplexed ssh connections keep their sockets."""
    return state_dir / "mux"


def node_ssh_argv(
    info: TestbedInfo,
    node: str,
    argv: Sequence[str],
    *,
    user: str = "root",
    multiplex: bool = True,
) -> list[str]:
    """The host command running `argv` on `node` over ssh from the client namespace.

    The frontend is reached by its alias, machines through it as a jump host (`-J`). One
    ssh connection per node and user is kept open for a while and reused (OpenSSH
    multiplexing, sockets in `<state dir>/mux/`): an ssh handshake through the jump host
    costs seconds of the guest's CPU, a multiplexed command a fraction of that. `down`
    closes them.
    """
    if node != FRONTEND and node not in info.machines:
        known = ", ".join([FRONTEND, *info.machines])
        raise TestbedError(f"unknown testbed node {node!r}; nodes: {known}")
    ssh = ["ip", "netns", "exec", info.client_netns, "ssh", "-F", str(info.ssh_config)]
    if multiplex:
        ssh += ["-o", "ControlMaster=auto", "-o", f"ControlPath={mux_dir(info.state_dir)}/%C"]
        ssh += ["-o", f"ControlPersist={MUX_PERSIST_S}"]
    ssh += ["-l", user]
    if node == FRONTEND:
        return [*ssh, info.frontend_alias, shlex.join(argv)]
    return [*ssh, "-J", info.frontend_alias, node, shlex.join(argv)]


class Testbed:
    """One local test cluster, identified by its state directory.

    `name` prefixes its host-side names (client namespace `<name>-client`, tap, umid), so
    testbeds with different names and state directories can run side by side.
    """

    __test__ = False

    def __init__(
        self, state_dir: Path | str = DEFAULT_STATE_DIR, *, name: str = DEFAULT_NAME
    ) -> None:
        self.state_dir = Path(state_dir)
        self.name = name
        try:
            self._default_layout = Layout.named(name)
        except ValueError as exc:
            raise TestbedError(str(exc)) from exc

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "testbed.json"

    def _load(self) -> TestbedState | None:
        try:
            return TestbedState.model_validate_json(self._state_file.read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> TestbedInfo | None:
        """The running testbed's info, or None when it is not up."""
        state = self._load()
        if state is None or not host.is_uml_alive(state.uml_pid, state.layout()):
            return None
        return state.info

    def up(self, machines: int = 3, mem_mb: int = DEFAULT_MEM_MB) -> TestbedInfo:
        """Boot a testbed with `machines` machines and `mem_mb` MB of guest memory; on any
        failure clean up and raise."""
        _require_root()
        if self.status() is not None:
            raise TestbedError(f"a testbed is already up ({self.state_dir}); run `down` first")
        try:
            layout = Layout.named(self.name, machines)
        except ValueError as exc:
            raise TestbedError(str(exc)) from exc
        _check_mem(mem_mb)
        other = host.running_uml(layout.umid)
        if other is not None:
            raise TestbedError(
                f"a testbed named {self.name!r} is already running (UML pid {other}, another "
                "state directory); give this one another name"
            )
        kernel = ensure_kernel()
        self._cleanup(layout)
        try:
            return self._boot(layout, kernel, mem_mb)
        except BaseException as exc:
            tail = self._console_tail()
            cleanup_error = self._try_cleanup(layout)
            if isinstance(exc, TestbedError):
                text = f"{exc}\nguest console (last lines):\n{tail}{cleanup_error}"
                raise TestbedError(text) from exc
            raise

    def _boot(self, layout: Layout, kernel: Path, mem_mb: int) -> TestbedInfo:
        files = prepare_state_dir(layout, self.state_dir)
        # Boot a private copy: a rebuild replacing the cached binary cannot race the boot.
        booted = self.state_dir / "linux"
        shutil.copy2(kernel, booted)
        host.create_client_netns(layout)
        argv = host.uml_argv(booted, layout, self.state_dir, mem_mb)
        started = time.monotonic()
        pid = host.start_uml(argv, self.state_dir / "console.log")
        info = TestbedInfo(
            state_dir=self.state_dir,
            client_netns=layout.client_netns,
            ssh_config=files.ssh_config,
            frontend_alias=layout.frontend_alias,
            frontend_ip=layout.frontend_ip,
            job_id=layout.job_id,
            username=layout.username,
            machines=layout.machine_names,
            machine_ips=layout.machine_ips,
            known_hosts=files.known_hosts,
            identity_file=files.identity_file,
            helper_image=HELPER_IMAGE,
            demo_image=DEMO_IMAGE,
            kernel=kernel,
            boot_seconds=0.0,
            mem_mb=mem_mb,
        )
        self._save(TestbedState(info=info, name=self.name, uml_pid=pid, machines=layout.machines))
        self._wait_ready(layout, pid)
        self._check_ssh(info)
        info = info.model_copy(update={"boot_seconds": round(time.monotonic() - started, 1)})
        self._save(TestbedState(info=info, name=self.name, uml_pid=pid, machines=layout.machines))
        return info

    def _save(self, state: TestbedState) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(state.model_dump_json(indent=2))
        tmp.replace(self._state_file)

    def _wait_ready(self, layout: Layout, pid: int) -> None:
        guest = self.state_dir / "guest"
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            failed = sorted(p.name for p in (guest / "failed").iterdir())
            if failed:
                raise TestbedError(f"testbed boot failed on: {', '.join(failed)}")
            if not host.is_uml_alive(pid, layout):
                raise TestbedError("the UML kernel exited during boot")
            if all((guest / "ready" / node).exists() for node in layout.nodes):
                return
            if time.monotonic() > deadline:
                missing = [n for n in layout.nodes if not (guest / "ready" / n).exists()]
                raise TestbedError(
                    f"testbed not ready after {READY_TIMEOUT:.0f} s (waiting for "
                    f"{', '.join(missing)})"
                )
            time.sleep(0.2)

    def _check_ssh(self, info: TestbedInfo) -> None:
        """Every node answers ssh as the cluster user, with strict host key checking."""
        mux_dir(info.state_dir).mkdir(mode=0o700, exist_ok=True)

        def check(node: str) -> str | None:
            argv = node_ssh_argv(info, node, ["true"], user=info.username)
            proc = host.run(argv, timeout=90, check=False)
            if proc.returncode == 0:
                return None
            return f"{node}: {proc.stderr.decode(errors='replace').strip()}"

        with ThreadPoolExecutor(max_workers=8) as pool:
            errors = [e for e in pool.map(check, [FRONTEND, *info.machines]) if e]
        if errors:
            raise TestbedError("ssh to the testbed failed:\n" + "\n".join(errors))

    def _console_tail(self, lines: int = 25) -> str:
        try:
            text = (self.state_dir / "console.log").read_text(errors="replace")
        except OSError:
            return "(no console log)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty console log)"

    def down(self) -> None:
        """Stop the guest and remove everything `up` created (idempotent)."""
        _require_root()
        state = self._load()
        self._cleanup(state.layout() if state else self._default_layout, state)

    def _try_cleanup(self, layout: Layout) -> str:
        try:
            self._cleanup(layout)
        except TestbedError as exc:
            return f"\ncleaning up also failed: {exc}"
        return ""

    def _cleanup(self, layout: Layout, state: TestbedState | None = None) -> None:
        state = state or self._load()
        if state is not None:
            host.close_ssh_masters(mux_dir(self.state_dir), layout)
            host.stop_uml(state.uml_pid, layout, self.state_dir)
        host.delete_client_netns(layout)
        self._remove_state_dir()

    def _remove_state_dir(self) -> None:
        """Delete the state directory, but only one that is (or was being made) ours."""
        if not self.state_dir.exists():
            return
        ours = (self.state_dir / "testbed.json").exists() or (self.state_dir / "guest").is_dir()
        if not ours and any(self.state_dir.iterdir()):
            raise TestbedError(
                f"{self.state_dir} exists and is not a testbed's state directory; "
                "choose another --state-dir"
            )
        shutil.rmtree(self.state_dir)

    def info(self) -> TestbedInfo:
        """The running testbed's info; a TestbedError when it is not up."""
        info = self.status()
        if info is None:
            raise TestbedError(f"no testbed is up ({self.state_dir}); run `oar-p2p testbed up`")
        return info

    def exec_argv(
        self, node: str, argv: Sequence[str], *, user: str = "root", multiplex: bool = True
    ) -> list[str]:
        """The host command that runs `argv` on `node` (for callers that stream stdio);
        `multiplex=False`: a connection of its own (a new ssh handshake, as a tool that
        opens one per step would)."""
        info = self.info()
        mux_dir(info.state_dir).mkdir(mode=0o700, exist_ok=True)
        return node_ssh_argv(info, node, argv, user=user, multiplex=multiplex)

    def exec(
        self,
        node: str,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 60,
        user: str = "root",
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `argv` on `node` (frontend or gengar-K) as `user`; output captured."""
        return host.run(self.exec_argv(node, argv, user=user), input=input or b"",
                        timeout=timeout, check=False)  # fmt: skip

    def client_env(self) -> dict[str, str]:
        """The environment of a cluster user on their laptop (the client namespace)."""
        info = self.info()
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "FRONTEND_HOSTNAME": info.frontend_alias,
            "OAR_JOB_ID": str(info.job_id),
            "OAR_P2P_SSH_CONFIG": str(info.ssh_config),
            "CLUSTER_USERNAME": info.username,
            "OAR_P2P_EXECUTOR": "docker",
            "OAR_P2P_HELPER_IMAGE": info.helper_image,
        }

    def client_argv(self, argv: Sequence[str]) -> list[str]:
        """The host command that runs `argv` in the client namespace."""
        return ["ip", "netns", "exec", self.info().client_netns, *argv]

    def run_in_client(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        input: bytes | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a host command in the client namespace with `client_env()` (plus `env`)."""
        full_env = {**self.client_env(), **(env or {})}
        try:
            return subprocess.run(
                self.client_argv(argv), env=full_env, input=input or b"",
                capture_output=True, timeout=timeout,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TestbedError(f"`{shlex.join(argv)}` in the client namespace: {exc}") from exc
