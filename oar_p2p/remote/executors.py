"""Privileged executors: how a root script runs on a machine, as a pure wrapper.

An executor turns a bash script into ``(remote command line, stdin bytes)`` for
`Transport.run`; the script always travels on stdin, never on the command line.

    RootExecutor().wrap("ip -br addr")    -> ("bash -s", b"ip -br addr")
    SudoExecutor().wrap(s)                -> ("sudo -n bash -s", s)
    DockerExecutor("img:tag").wrap(s)     -> ("docker run --rm -i --privileged --network=host
                                              -v /run/oar-p2p:/run/oar-p2p
                                              --entrypoint bash img:tag -s", s)

`docker` is the cluster's way (users have docker, not root): a throw-away container with
the host's network namespace (``--network=host``: the addresses, routes, qdiscs and nft
tables it changes are the machine's) and ``--privileged`` (CAP_NET_ADMIN for ip/tc/nft and
a writable /proc/sys for sysctl). Its one host mount is /run/oar-p2p, where the read and
write scripts keep the apply record (`oar_p2p.record`); it needs no host PID namespace. The
helper image is built once per machine and content-addressed (`ensure_helper_image`), so a
changed definition builds a new tag and an unchanged one never rebuilds.

A command does not run `wrap`'s throw-away container per script: the session keeps one
long-lived helper container per machine (`oar_p2p.remote.helper`, started at the first
privileged script, removed when the command ends) and runs each script in it through its
job mailbox (`oar_p2p.remote.mailbox`). `wrap` remains the one-shot form (a session
opened without privileges).
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import Protocol

from oar_p2p.errors import ClusterError, ValueParseError
from oar_p2p.remote.transport import Transport
from oar_p2p.vocab import ExecutorKind, choices

__all__ = [
    "HELPER_DOCKERFILE",
    "HELPER_REPOSITORY",
    "DockerExecutor",
    "Executor",
    "ExecutorKind",
    "READ_BASH",
    "SPOOLED_BASH",
    "RootExecutor",
    "SudoExecutor",
    "default_helper_image",
    "ensure_helper_image",
    "image_check_shell",
    "make_executor",
]


HELPER_REPOSITORY = "local/oar-p2p-networking"
HELPER_DOCKERFILE = """\
# oar-p2p helper: the tools the network scripts run (bash, ip, tc with netem, nft, sysctl)
FROM alpine:3.20
RUN apk add --no-cache bash coreutils grep iproute2 iproute2-tc nftables procps
"""


class Executor(Protocol):
    """Wraps a script so that it runs with the privileges network changes need."""

    @property
    def name(self) -> str: ...

    def wrap(self, script: str) -> tuple[str, bytes]: ...

    def nft_argv(self) -> list[str]:
        """The argv that runs `nft` with privileges, from a script of the SSH user."""
        ...


# The script is spooled to a file before bash runs it: bash reading a script from a pipe
# (`bash -s`) reads it one byte per system call, which made an 8 MB nft write script take
# minutes on a slow machine. A script cut in transit still runs nothing: the write script
# is one `{ ... }` group that bash parses whole before running.
SPOOL = (
    'f=$(mktemp /tmp/oar-p2p-script.XXXXXX) && cat > "$f" && bash "$f"; r=$?; rm -f "$f"; exit $r'
)
SPOOLED_BASH = f"bash -c {shlex.quote(SPOOL)}"
# Small scripts (the read, a few KB) go to bash's stdin directly: a byte per system call
# is nothing at that size, and the spooling's four process starts are not.
READ_BASH = "bash -s"


@dataclass(frozen=True)
class RootExecutor:
    """The SSH user is root: plain bash (script spooled, see `SPOOL`)."""

    name: str = "root"

    def wrap(self, script: str) -> tuple[str, bytes]:
        return SPOOLED_BASH, script.encode()

    def nft_argv(self) -> list[str]:
        return ["nft"]


@dataclass(frozen=True)
class SudoExecutor:
    """Passwordless sudo (``-n``: fail at once rather than wait for a password)."""

    name: str = "sudo"

    def wrap(self, script: str) -> tuple[str, bytes]:
        return f"sudo -n {SPOOLED_BASH}", script.encode()

    def nft_argv(self) -> list[str]:
        return ["sudo", "-n", "nft"]


@dataclass(frozen=True)
class DockerExecutor:
    """A privileged, host-network helper container per script, removed when it ends.

    `build`: the image is the packaged definition's content-addressed tag, built on a
    machine that lacks it; False for an image given as is (OAR_P2P_HELPER_IMAGE), which
    must already be on the machine.
    """

    image: str
    name: str = "docker"
    build: bool = True

    def wrap(self, script: str) -> tuple[str, bytes]:
        line = (
            "docker run --rm -i --privileged --network=host -v /run/oar-p2p:/run/oar-p2p "
            "--entrypoint bash "
            f"{shlex.quote(self.image)} -c {shlex.quote(SPOOL)}"
        )
        return line, script.encode()

    def nft_argv(self) -> list[str]:
        """One throw-away container for the read's nft listing. For the packaged image,
        ``--pull=never`` first (no registry is asked for a local tag), and only when docker
        fails to create the container (status 125: e.g. the image is missing) the image is
        checked, built if missing, and the listing run again: the read is the command's
        first privileged step on a machine, and nothing is checked at connect."""
        run = ["docker", "run", "--rm", "--privileged", "--network=host",
               "--entrypoint", "nft", self.image]  # fmt: skip
        if not self.build:
            return run
        first = shlex.join([*run[:3], "--pull=never", *run[3:]])
        check = image_check_shell(self.image)
        return [
            "bash",
            "-c",
            f'{first} "$@"; s=$?; [ "$s" = 125 ] || exit "$s"\n'
            f'{check} && exec {shlex.join(run)} "$@"',
            "nft",
        ]


def default_helper_image() -> str:
    """``local/oar-p2p-networking:<12 hex of sha256(HELPER_DOCKERFILE)>``."""
    digest = hashlib.sha256(HELPER_DOCKERFILE.encode()).hexdigest()[:12]
    return f"{HELPER_REPOSITORY}:{digest}"


def make_executor(kind: ExecutorKind | str, helper_image: str | None = None) -> Executor:
    """The executor named ``kind``; docker uses ``helper_image`` or the default tag."""
    if kind == "root":
        return RootExecutor()
    if kind == "sudo":
        return SudoExecutor()
    if kind == "docker":
        return DockerExecutor(helper_image or default_helper_image(), build=not helper_image)
    allowed = choices(ExecutorKind)
    raise ValueParseError(f"unknown executor {kind!r}; allowed: {allowed} (OAR_P2P_EXECUTOR)")


def helper_image_script(image: str) -> str:
    """Build ``image`` from the Dockerfile on stdin, only when no image has that tag."""
    quoted = shlex.quote(image)
    return (
        f"docker image inspect {quoted} >/dev/null 2>&1 && echo present "
        f"|| {{ docker build -q -t {quoted} - >/dev/null && echo built; }}"
    )


_DOCKERFILE_END = "OARP2P_DOCKERFILE"


def image_check_shell(image: str) -> str:
    """Shell (sh or bash) that succeeds when the packaged helper `image` is on the machine,
    building it from the definition (a here-document) when it is not; prints nothing on
    stdout."""
    quoted = shlex.quote(image)
    return (
        f"{{ docker image inspect {quoted} >/dev/null 2>&1 || docker build -q -t {quoted} - "
        f">/dev/null <<'{_DOCKERFILE_END}'\n{HELPER_DOCKERFILE}{_DOCKERFILE_END}\n}}"
    )


def ensure_helper_image(transport: Transport, host: str, image_spec: str | None) -> str:
    """Make sure the helper image exists on ``host``; returns the image to run.

    With ``image_spec`` (OAR_P2P_HELPER_IMAGE) the image must already be on the host;
    otherwise the packaged definition is built under its content-addressed tag when that
    tag is missing (one round trip either way).
    """
    if image_spec:
        found = transport.run(
            host, f"docker image inspect {shlex.quote(image_spec)} >/dev/null", check=False
        )
        if found.status != 0:
            raise ClusterError(
                f"{host}: the helper image {image_spec!r} (OAR_P2P_HELPER_IMAGE) is not on "
                "this machine; load it there (docker load), or unset OAR_P2P_HELPER_IMAGE to "
                "build the default helper image"
            )
        return image_spec
    image = default_helper_image()
    transport.run(host, helper_image_script(image), stdin=HELPER_DOCKERFILE.encode())
    return image
