"""Host-side plumbing of the testbed: the client namespace, its tap, the UML process.

Every process ended here is one the testbed started: the UML kernel's PID (recorded in the
state) and its descendants, each checked by its command line (`umid=<umid>`) before a
signal is sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from oar_p2p.errors import TestbedError
from oar_p2p.testbed.layout import Layout

__all__ = [
    "create_client_netns",
    "delete_client_netns",
    "is_uml_alive",
    "netns_exists",
    "run",
    "running_uml",
    "start_uml",
    "stop_uml",
    "uml_argv",
]

_NETNS_DIR = Path("/run/netns")
# Kernels started by this process: kept so that they are reaped (and not reported by
# `Popen.__del__` as still running) when `stop_uml` ends them.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def run(
    argv: Sequence[str], *, input: bytes | None = None, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run a host command; a failure (when `check`) becomes a TestbedError with stderr."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TestbedError(f"`{' '.join(argv)}` failed: {exc}") from exc
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise TestbedError(f"`{' '.join(argv)}` exited with status {proc.returncode}: {err}")
    return proc


def netns_exists(name: str) -> bool:
    return (_NETNS_DIR / name).exists()


def create_client_netns(layout: Layout) -> None:
    """The client namespace ("a user's laptop") with the tap the guest attaches to."""
    ns, tap = layout.client_netns, layout.tap
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])
    run(["ip", "-n", ns, "addr", "add", f"{layout.client_ip}/24", "dev", tap])
    run(["ip", "-n", ns, "link", "set", tap, "up"])


def close_ssh_masters(mux: Path, layout: Layout) -> None:
    """Ask every multiplexing ssh master with a socket in `mux` to exit (idempotent)."""
    if not mux.is_dir() or not netns_exists(layout.client_netns):
        return
    for sock in mux.iterdir():
        run(["ip", "netns", "exec", layout.client_netns, "ssh", "-o", f"ControlPath={sock}",
             "-O", "exit", "testbed-node"], check=False)  # fmt: skip


def delete_client_netns(layout: Layout) -> None:
    """Remove the tap and the client namespace if present (idempotent)."""
    if not netns_exists(layout.client_netns):
        return
    run(["ip", "-n", layout.client_netns, "link", "del", layout.tap], check=False)
    run(["ip", "netns", "del", layout.client_netns])


def uml_argv(kernel: Path, layout: Layout, state_dir: Path, mem_mb: int) -> list[str]:
    """The kernel command line: hostfs root, our init, console on stdout, vector tap."""
    return [
        "ip", "netns", "exec", layout.client_netns,
        str(kernel),
        f"mem={mem_mb}M",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "rw",
        f"init={state_dir / 'guest' / 'init.sh'}",
        "con=null",
        "con0=null,fd:1",
        f"umid={layout.umid}",
        f"uml_dir={state_dir / 'uml'}",
        f"vec0:transport=tap,ifname={layout.tap},gro=1",
        "loglevel=4",
    ]  # fmt: skip


def start_uml(argv: list[str], console: Path) -> int:
    """Start the guest detached from our session; return the UML kernel's PID."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "TMPDIR": "/dev/shm"}
    with console.open("wb") as out:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise TestbedError(f"could not start the UML kernel: {exc}") from exc
    _STARTED[proc.pid] = proc
    return proc.pid


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _reap(pid: int) -> None:
    started = _STARTED.get(pid)
    if started is not None:
        if started.poll() is not None:
            del _STARTED[pid]
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _is_ours(pid: int, umid: str) -> bool:
    """Alive (not a zombie) and a process of this testbed's kernel.

    A kernel this process started is alive until it is reaped: its command line is not
    looked at (a boot was once declared dead within 2 s, probably a read of it while the
    kernel started)."""
    started = _STARTED.get(pid)
    if started is not None:
        if started.poll() is None:
            return True
        del _STARTED[pid]
        return False
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and f"umid={umid}".encode() in _cmdline(pid)


def is_uml_alive(pid: int, layout: Layout) -> bool:
    return _is_ours(pid, layout.umid)


def running_uml(umid: str) -> int | None:
    """The lowest PID of a live process of a UML kernel booted with `umid` (any state
    directory), or None: two testbeds of one name would share a namespace and a tap."""
    mark = f"\0umid={umid}\0".encode()
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    live = [pid for pid in pids if mark in _cmdline(pid) and _is_ours(pid, umid)]
    return min(live, default=None)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_gone(pids: list[int], umid: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _is_ours(p, umid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _is_ours(p, umid)]
    return alive


def _signal(pids: list[int], sig: signal.Signals, umid: str) -> None:
    for pid in pids:
        if _is_ours(pid, umid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def _halt(layout: Layout, state_dir: Path) -> bool:
    """Ask the guest to halt through its management console; False if it did not answer."""
    socket = state_dir / "uml" / layout.umid / "mconsole"
    if not socket.exists() or not netns_exists(layout.client_netns):
        return False
    # The client binds an abstract socket for the reply: run it in the kernel's netns.
    mconsole = ["ip", "netns", "exec", layout.client_netns, "uml_mconsole", str(socket)]
    try:
        return run([*mconsole, "halt"], check=False, timeout=5).returncode == 0
    except TestbedError:
        return False  # a hung guest does not answer


def stop_uml(pid: int, layout: Layout, state_dir: Path) -> None:
    """Halt the guest (mconsole), then make sure the kernel and its helpers are gone."""
    umid = layout.umid
    if not _is_ours(pid, umid):
        return
    pids = [pid, *_descendants(pid)]
    alive = _wait_gone(pids, umid, timeout=15) if _halt(layout, state_dir) else pids
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        if not alive:
            return
        _signal(alive, sig, umid)
        alive = _wait_gone(alive, umid, timeout=grace)
    if alive:
        raise TestbedError(f"UML processes {alive} did not exit")
