"""A whole run against the docker daemon of this machine (skipped when none answers).

`LocalTransport` runs the scripts here, so this checks them against the real docker CLI
and daemon: hostile env values arrive byte for byte, a failing container is reported with
its logs, a foreign container survives, signal files appear with the unix time.
The image is imported from the host's static busybox when missing.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from oar_p2p.desired.containers import build_experiment, make_container
from oar_p2p.experiment import (
    RunOptions,
    destroy_containers,
    observe_containers,
    run_experiment,
    run_status,
)
from oar_p2p.remote.transport import LocalTransport
from oar_p2p.spec.models import SignalEntry

IMAGE = "oar-p2p/test-busybox:latest"
BUSYBOX = Path("/bin/busybox")
HOST = "local"


def _docker(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, check=False)


def _busybox_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(BUSYBOX, "bin/busybox")
        for applet in ("sh", "cat", "printf", "sleep", "usleep", "echo", "test", "["):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


@pytest.fixture(scope="module")
def image() -> str:
    try:
        if _docker("info").returncode != 0:
            pytest.skip("no docker daemon answers here")
    except FileNotFoundError:
        pytest.skip("no docker CLI")
    if _docker("image", "inspect", IMAGE).returncode != 0:
        if (
            b"statically linked"
            not in subprocess.run(
                ["file", "-L", str(BUSYBOX)], capture_output=True, check=False
            ).stdout
        ):
            pytest.skip("no static busybox to build the test image from")
        done = _docker("import", "-c", "ENV PATH=/bin", "-", IMAGE, stdin=_busybox_tar())
        assert done.returncode == 0, done.stderr
    return IMAGE


WAIT = "while [ ! -e /oar-p2p/start ]; do usleep 1000; done; "


def test_a_run_on_real_docker(image: str, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    value = f'it\'s "$(touch {pwned})" `touch {pwned}`\nline two'
    script = WAIT + 'printf "%s" "$V"; cat /oar-p2p/start >&2; exit $CODE'

    def c(i: int, code: int):
        return make_container(
            name=f"oarp2p-test-{i}", machine=HOST, index=i, address=f"10.16.0.{i + 1}",
            image=image, env={"V": value, "CODE": str(code)}, command=["sh", "-c", script],
            pull="never",
        )  # fmt: skip

    exp = build_experiment(
        "oarp2p-unit-test", [c(0, 0), c(1, 3)], [SignalEntry(name="start", delay=1)], [], "n"
    )
    foreign = "oarp2p-test-foreign"
    _docker("rm", "-f", foreign)
    assert _docker("create", "--name", foreign, image, "sleep", "1").returncode == 0
    transport = LocalTransport()
    try:
        result = run_experiment(transport, exp, tmp_path / "out", options=RunOptions(timeout=60))
        assert [(o.name, o.exit_code) for o in result.failed] == [("oarp2p-test-1", 3)]
        assert (tmp_path / "out" / "oarp2p-test-0.stdout").read_text() == value
        assert not pwned.exists()
        (firing,) = result.signals
        assert (tmp_path / "out" / "oarp2p-test-1.stderr").read_text() == str(firing.timestamp)
        assert result.failed[0].stderr_tail == str(firing.timestamp)
        doc = json.loads(result.manifest_path.read_text())
        assert [x["exit_code"] for x in doc["containers"]] == [0, 3]
        observed = observe_containers(transport, [HOST], exp.name)
        assert run_status(exp, observed).state == "completed"
        assert destroy_containers(transport, [HOST], exp.name) == {
            HOST: ["oarp2p-test-0", "oarp2p-test-1"]
        }
        assert observe_containers(transport, [HOST], exp.name) == {HOST: []}
        assert _docker("inspect", foreign).returncode == 0
    finally:
        destroy_containers(transport, [HOST], exp.name)
        _docker("rm", "-f", foreign)
