from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError, ValueParseError
from oar_p2p.remote.executors import (
    HELPER_DOCKERFILE,
    SPOOL,
    SPOOLED_BASH,
    DockerExecutor,
    RootExecutor,
    SudoExecutor,
    default_helper_image,
    ensure_helper_image,
    helper_image_script,
    make_executor,
)
from tests.fakes import FakeTransport, Reply

SCRIPT = "set -e\nip -b - <<'EOF'\naddr add 10.16.0.1/32 dev bond0\nEOF\n"


def test_root_runs_bash_with_the_script_on_stdin() -> None:
    assert RootExecutor().wrap(SCRIPT) == (SPOOLED_BASH, SCRIPT.encode())
    assert RootExecutor().name == "root"


def test_sudo_never_waits_for_a_password() -> None:
    assert SudoExecutor().wrap(SCRIPT) == (f"sudo -n {SPOOLED_BASH}", SCRIPT.encode())


def test_the_spooled_script_runs_from_a_file_and_keeps_its_exit_status(tmp_path) -> None:
    script = "{\necho hi $((6*7)); echo err >&2; exit 3\n}\n"
    line, stdin = RootExecutor().wrap(script)
    r = subprocess.run(["bash", "-c", line], input=stdin, capture_output=True, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"hi 42\n", b"err\n")
    # a script cut in transit (the group never closed) runs nothing
    r = subprocess.run(
        ["bash", "-c", line], input=b"{\necho ran\n", capture_output=True, check=False
    )
    assert r.returncode != 0 and r.stdout == b""


def test_docker_runs_a_privileged_host_network_helper_container() -> None:
    line, stdin = DockerExecutor("local/x:1").wrap(SCRIPT)
    assert line == (
        "docker run --rm -i --privileged --network=host -v /run/oar-p2p:/run/oar-p2p "
        f"--entrypoint bash local/x:1 -c {shlex.quote(SPOOL)}"
    )
    assert stdin == SCRIPT.encode()


def test_each_executor_names_its_privileged_nft() -> None:
    assert RootExecutor().nft_argv() == ["nft"]
    assert SudoExecutor().nft_argv() == ["sudo", "-n", "nft"]
    assert DockerExecutor("local/x:1", build=False).nft_argv() == [
        "docker", "run", "--rm", "--privileged", "--network=host", "--entrypoint", "nft",
        "local/x:1",
    ]  # fmt: skip
    # the packaged image: checked (built if missing) first, see tests/unit/remote/test_helper
    assert DockerExecutor("local/x:1").nft_argv()[:2] == ["bash", "-c"]


def test_docker_image_is_quoted() -> None:
    line, _ = DockerExecutor("we ird;rm").wrap("true")
    assert "'we ird;rm' -c " in line


def test_default_helper_image_tag_is_the_dockerfile_hash() -> None:
    digest = hashlib.sha256(HELPER_DOCKERFILE.encode()).hexdigest()[:12]
    assert default_helper_image() == f"local/oar-p2p-networking:{digest}"


def test_make_executor() -> None:
    assert make_executor("root", None) == RootExecutor()
    assert make_executor("sudo", "ignored") == SudoExecutor()
    assert make_executor("docker", None) == DockerExecutor(default_helper_image())
    given = DockerExecutor("testbed/helper:1", build=False)  # used as is, never built
    assert make_executor("docker", "testbed/helper:1") == given


def test_make_executor_unknown_kind() -> None:
    with pytest.raises(ValueParseError) as err:
        make_executor("podman", None)
    assert str(err.value) == (
        "unknown executor 'podman'; allowed: docker, sudo, root (OAR_P2P_EXECUTOR)"
    )


def test_ensure_builds_only_when_the_tag_is_missing_in_one_round_trip() -> None:
    image = default_helper_image()
    fake = FakeTransport().on(helper_image_script(image), "built\n")
    assert ensure_helper_image(fake, "gengar-1", None) == image
    (call,) = fake.calls
    assert call.host == "gengar-1"
    assert call.stdin == HELPER_DOCKERFILE.encode()
    assert call.command == (
        f"docker image inspect {image} >/dev/null 2>&1 && echo present "
        f"|| {{ docker build -q -t {image} - >/dev/null && echo built; }}"
    )


def test_ensure_script_really_skips_the_build_when_present(tmp_path: Path) -> None:
    """Run the script with a stub `docker` on PATH: inspect succeeds -> no build."""
    log = tmp_path / "log"
    stub = tmp_path / "docker"
    stub.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = image ] && exit ${{INSPECT:-0}}\ncat >/dev/null\n'
    )
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    script = helper_image_script("local/h:abc")
    out = subprocess.run(["sh", "-c", script], input=b"FROM x", env=env, capture_output=True)
    assert out.stdout == b"present\n"
    assert log.read_text() == "image inspect local/h:abc\n"
    env["INSPECT"] = "1"
    out = subprocess.run(["sh", "-c", script], input=b"FROM x", env=env, capture_output=True)
    assert out.stdout == b"built\n"
    assert log.read_text().splitlines()[-1] == "build -q -t local/h:abc -"


def test_ensure_with_a_given_image_checks_it_exists() -> None:
    fake = FakeTransport().on("docker image inspect testbed/helper:1 >/dev/null", Reply())
    assert ensure_helper_image(fake, "m", "testbed/helper:1") == "testbed/helper:1"


def test_ensure_with_a_missing_given_image_says_what_to_do() -> None:
    fake = FakeTransport().on("docker image inspect nope:1 >/dev/null", Reply(status=1))
    with pytest.raises(ClusterError) as err:
        ensure_helper_image(fake, "gengar-2", "nope:1")
    assert str(err.value) == (
        "gengar-2: the helper image 'nope:1' (OAR_P2P_HELPER_IMAGE) is not on this machine; "
        "load it there (docker load), or unset OAR_P2P_HELPER_IMAGE to build the default "
        "helper image"
    )


def test_ensure_build_failure_is_a_remote_command_error() -> None:
    image = default_helper_image()
    fake = FakeTransport().on(helper_image_script(image), Reply(stderr="pull denied", status=1))
    with pytest.raises(RemoteCommandError, match="pull denied"):
        ensure_helper_image(fake, "m", None)
