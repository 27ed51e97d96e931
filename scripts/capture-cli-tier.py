#!/usr/bin/env python3
"""Capture what real machines answer to the CLI, for the CLI tier (tests/cli_tier).

    sudo python3 scripts/capture-cli-tier.py          # from the repository root, as root

1. Boots a PRIVATE 2-machine testbed (state dir /run/oar-p2p-testbed-capture, name
   `capture`; other testbeds are never touched) and tags a small image for `run`.
2. Re-runs itself inside the testbed's client namespace (`--inner`), as a cluster user on
   a laptop would run the tool (`Testbed.client_env()`, executor `sudo`). There it drives
   the real CLI (`oar_p2p.cli.build_app`) in-process with the production `Connector`,
   whose SSH transport (paramiko, the real one) is wrapped to record every call: host,
   command line, stdin (digest) and the answer (stdout, stderr, exit status). The steps
   below walk the machines through every state the tier replays.
3. Writes each answer to tests/fixtures/cli_tier/<step>/<host>.<what>[-N].json (`what`:
   `tests/cli_tier/calls.py::what`; -N for a second call of the same kind in a step) and
   each step's CLI output to <step>/cli.json, then takes the testbed down (always).

Only the answers are used by the tier; the goldens of what the CLI sends are the tier's own
(`OAR_P2P_UPDATE_GOLDEN=1`). Re-run this script when the read/write scripts or the run's
scripts change their output format.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oar_p2p.remote.transport import Transport

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "tests/fixtures/cli_tier"
INPUTS = OUT / "inputs"
STATE_DIR = Path("/run/oar-p2p-testbed-capture")
RUN_IMAGE = "oar-p2p/cli-tier-run:latest"
RUN_CMD = 'echo "$MESSAGE"; while [ ! -e /oar-p2p/start ]; do sleep 0.1; done; echo started'
EXECUTOR = "sudo"

# (step, argv): the CLI commands in order; each step's calls are saved under <step>/.
STEPS: list[tuple[str, list[str]]] = [
    ("empty", ["plan", "spec.yaml"]),  # fresh machines: nothing of ours
    ("locked", ["apply", "spec.yaml", "--output-dir", "runs"]),  # someone holds the lock
    ("apply", ["apply", "spec.yaml", "--output-dir", "runs"]),  # write + the experiment run
    ("applied", ["plan", "spec.yaml"]),  # network applied, the run's containers exited
    ("plan-docker", ["plan", "spec.yaml"]),  # the same through the docker executor
    ("apply-again", ["apply", "spec.yaml", "--output-dir", "runs"]),  # No changes
    ("destroy", ["destroy", "spec.yaml"]),
    ("destroyed", ["plan", "spec.yaml"]),
    ("net-up", ["net", "up", "--addresses", "4", "--latency-matrix", "latency.txt"]),
    ("net-applied", ["net", "show"]),
    ("net-down", ["net", "down"]),
    ("net-downed", ["net", "show"]),
    ("net-up-2", ["net", "up", "--addresses", "4", "--latency-matrix", "latency.txt"]),
    ("run", ["run", "schedule.json", "--signal", "start:1", "--output-dir", "logs"]),
    ("clean", ["clean"]),
    ("cleaned", ["clean"]),  # clean again: nothing to remove, nothing written
]


# a lock held by someone else during the `locked` step (exit 1 expected), as `cluster_lock`
# leaves it; removed right after
HOLD_LOCK = (
    "mkdir /tmp/oar-p2p.lock && printf '%s' "
    '"bob@laptop pid 4242 (apply) since=$(($(date +%s) - 60))" > /tmp/oar-p2p.lock/holder'
)
EXIT = {"locked": 1}


def _raw(command: str) -> None:
    """`command` on gengar-1 as the cluster user, not recorded (setting up a step)."""
    transport = _ssh()
    try:
        transport.run("gengar-1", command)
    finally:
        transport.close()


def _text(data: bytes) -> dict[str, str]:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


class Recorder:
    """A Transport around the real one: every call and its answer, under the current step."""

    step = ""
    calls: list[dict[str, Any]] = []
    _lock = threading.Lock()

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner

    def run(self, host, command, *, stdin=b"", timeout=None, check=True):  # type: ignore[no-untyped-def]
        from oar_p2p.remote.transport import check_result, stdin_bytes
        from tests.cli_tier.calls import digest, what

        stdin = stdin_bytes(stdin)  # a streamed write's chunks, joined: recorded whole
        result = self.inner.run(host, command, stdin=stdin, timeout=timeout, check=False)
        with self._lock:
            Recorder.calls.append({
                "step": Recorder.step,
                "host": host,
                "what": what(command, stdin),
                "command": command,
                "stdin_sha256": digest(stdin),
                "stdin_bytes": len(stdin),
                "stdin": _text(stdin),
                "status": result.status,
                "stdout": _text(result.stdout),
                "stderr": _text(result.stderr),
            })  # fmt: skip
        return check_result(result) if check else result

    def close(self) -> None:
        self.inner.close()


def _save(step: str, calls: list[dict[str, Any]], cli: dict[str, Any]) -> None:
    d = OUT / step
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    seen: dict[tuple[str, str], int] = {}
    for call in calls:
        key = (call["host"], call["what"])
        seen[key] = seen.get(key, 0) + 1
        n = seen[key]
        name = f"{call['host']}.{call['what']}{'' if n == 1 else f'-{n}'}.json"
        (d / name).write_text(json.dumps(call, indent=1) + "\n")
    (d / "cli.json").write_text(json.dumps(cli, indent=1) + "\n")


def inner(work: Path) -> int:
    """In the client namespace: the real CLI, its transport recorded, step by step."""
    from typer.testing import CliRunner

    from oar_p2p.cli import build_app
    from oar_p2p.workflows.connect import Connector, ssh_transport

    app = build_app(Connector(transport=lambda opts: Recorder(ssh_transport(opts))))
    os.chdir(work)
    keys = ("OAR_JOB_ID", "FRONTEND_HOSTNAME", "CLUSTER_USERNAME", "OAR_P2P_HELPER_IMAGE")
    meta = {k: os.environ[k] for k in keys}
    for step, argv in STEPS:
        Recorder.step, Recorder.calls = step, []
        # the testbed's helper image is loaded on its machines (OAR_P2P_HELPER_IMAGE)
        env = {"OAR_P2P_EXECUTOR": "docker" if step == "plan-docker" else EXECUTOR}
        if step == "locked":
            _raw(HOLD_LOCK)
        try:
            result = CliRunner().invoke(app, argv, env=env)
        finally:
            if step == "locked":
                _raw("rm -rf /tmp/oar-p2p.lock")
        print(f"{step}: oar-p2p {' '.join(argv)} -> {result.exit_code}", flush=True)
        cli = {"argv": argv, "exit_code": result.exit_code,
               "stdout": result.stdout, "stderr": result.stderr}  # fmt: skip
        _save(step, Recorder.calls, cli)
        if result.exit_code != EXIT.get(step, 0):
            print(result.stdout, result.stderr, repr(result.exception), file=sys.stderr)
            return 1
    _discovery()
    (OUT / "meta.json").write_text(json.dumps({**meta, "executor": EXECUTOR}, indent=1) + "\n")
    return 0


def _ssh() -> Transport:
    """The production SSH transport, as the CLI builds it in the client namespace."""
    from oar_p2p.vocab import HostKeyPolicy
    from oar_p2p.workflows.connect import SshOptions, ssh_transport

    return ssh_transport(
        SshOptions(
            frontend=os.environ["FRONTEND_HOSTNAME"],
            username=os.environ["CLUSTER_USERNAME"],
            ssh_config=Path(os.environ["OAR_P2P_SSH_CONFIG"]),
            host_key_policy=HostKeyPolicy("strict"),
            jump=True,
        )
    )


def _discovery() -> None:
    """The machine-discovery script's answers (the tier's machines are in the machine table,
    so the CLI does not send it; kept for a tier case with machines outside the table)."""
    from oar_p2p.cluster.inventory import discover_machines

    Recorder.step, Recorder.calls = "discovery", []
    transport = Recorder(_ssh())
    try:
        discover_machines(transport, ["gengar-1", "gengar-2"])
    finally:
        transport.close()
    _save("discovery", Recorder.calls, {})


def _tag_run_image(bed, host: str, user: str) -> None:  # type: ignore[no-untyped-def]
    cmd = json.dumps(["sh", "-c", RUN_CMD])
    script = (
        "docker rm -f mkimg >/dev/null 2>&1; "
        "docker create --name mkimg oar-p2p/demo:latest sh >/dev/null && "
        f"docker commit --change 'CMD {cmd}' mkimg {RUN_IMAGE} >/dev/null && "
        "docker rm mkimg >/dev/null"
    )
    r = bed.exec(host, ["sh", "-c", script], user=user, timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"{host}: tagging {RUN_IMAGE} failed: {r.stderr.decode()}")


def outer() -> int:
    from oar_p2p.testbed import Testbed

    if os.geteuid() != 0:
        raise SystemExit("run as root: the testbed needs network namespaces and a tap device")
    bed = Testbed(STATE_DIR, name="capture")
    work = Path(tempfile.mkdtemp(prefix="oar-p2p-capture-"))
    for f in INPUTS.iterdir():
        shutil.copy(f, work / f.name)
    os.chmod(work, 0o755)
    try:
        info = bed.up(machines=2)
        for host in info.machines:
            _tag_run_image(bed, host, info.username)
        env = {"PYTHONPATH": str(ROOT)}
        argv = ["env", "-C", str(ROOT), sys.executable, str(Path(__file__).resolve()),
                "--inner", str(work)]  # fmt: skip
        proc = bed.run_in_client(argv, env, timeout=1800)
        sys.stdout.write(proc.stdout.decode(errors="replace"))
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        return proc.returncode
    finally:
        bed.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inner"]:
        sys.exit(inner(Path(sys.argv[2])))
    sys.exit(outer())
