"""`inspect_command` reads docker's API on its unix socket with perl, and falls back to the
CLI where that socket is not the CLI's daemon: run by this machine's sh against a stand-in
daemon (a unix-socket HTTP server) and a stand-in `docker` CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from oar_p2p.observe.docker import inspect_command, parse_docker_inspect
from tests.docker_daemon import docker_daemon

pytestmark = pytest.mark.skipif(
    subprocess.run(["perl", "-MIO::Socket::UNIX", "-e1"], check=False).returncode != 0,
    reason="no perl with IO::Socket::UNIX here",
)

IDS = ["a" * 64, "b" * 64, "c" * 64]


def _container(cid: str, name: str) -> dict:
    return {
        "Id": cid,
        "Name": "/" + name,
        "Created": "2026-12-07T10:00:00.000000000Z",
        "Config": {"Labels": {"oar-p2p.experiment": "demo"}, "Env": ["A=1"], "Image": "x"},
        "State": {
            "Status": "exited",
            "ExitCode": 0,
            "StartedAt": "2026-12-07T10:00:01.000000000Z",
            "FinishedAt": "2026-12-07T10:00:02.000000000Z",
        },
    }


def _answer(method: str, path: str) -> tuple[int, str]:
    """IDS listed; each id's object, but the last was removed after it was listed (404)."""
    if path.startswith("/containers/json?"):
        return 200, json.dumps([{"Id": i, "ImageID": "sha256:" + "f" * 64} for i in IDS])
    if path == f"/containers/{IDS[2]}/json":
        return 404, '{"message":"No such container"}'
    cid = path.split("/")[2]
    return 200, json.dumps(_container(cid, f"peer-{IDS.index(cid)}"), indent=1)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[list[tuple[float, str]]]:
    """The stand-in daemon's record: (time, request line) of each request."""
    with docker_daemon(tmp_path / "docker.sock", _answer) as server:
        yield server.requests


def _run(tmp_path: Path, **env: str) -> str:
    """inspect_command("demo") by sh, with a stand-in `docker` CLI that says it ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    cli = bin_dir / "docker"
    cli.write_text('#!/bin/sh\n[ "$1" = ps ] && echo deadbeef && exit 0\necho "[]"\n')
    cli.chmod(0o755)
    full = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **env}
    r = subprocess.run(
        ["sh", "-s"], input=inspect_command("demo"), capture_output=True, text=True, env=full
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_api_is_read_once_listed_and_a_removed_container_is_passed_over(
    tmp_path: Path, daemon: list[tuple[float, str]]
) -> None:
    out = _run(tmp_path, DOCKER_HOST=f"unix://{tmp_path / 'docker.sock'}")
    states = parse_docker_inspect(out)
    assert [(s.name, s.status, s.exit_code) for s in states] == [
        ("peer-0", "exited", 0),
        ("peer-1", "exited", 0),
    ]
    label = '{"label":["oar-p2p.experiment=demo"]}'
    lines = [line for _, line in daemon]
    listing = lines[0].split()[1]
    assert listing.startswith("/containers/json?all=1&filters=")
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(listing).query)["filters"] == [label]
    assert lines[1:] == [f"GET /containers/{i}/json HTTP/1.0" for i in IDS]


@pytest.mark.parametrize(
    "env",
    [
        {"DOCKER_HOST": "tcp://127.0.0.1:2375"},  # not a unix socket: the CLI's business
        {"DOCKER_CONTEXT": "remote"},
        {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},  # cannot be opened
    ],
    ids=["tcp-host", "context", "no-socket"],
)
def test_the_cli_answers_where_the_socket_is_not_its_daemon(
    tmp_path: Path, daemon: list[tuple[float, str]], env: dict[str, str]
) -> None:
    assert _run(tmp_path, **env).strip() == "[]"  # the stand-in CLI's answer
    assert daemon == []


def test_a_current_context_in_the_cli_config_sends_it_to_the_cli(
    tmp_path: Path, daemon: list[tuple[float, str]]
) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "remote"}')
    host = f"unix://{tmp_path / 'docker.sock'}"
    assert _run(tmp_path, DOCKER_HOST=host).strip() == "[]"
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "default"}')
    assert len(parse_docker_inspect(_run(tmp_path, DOCKER_HOST=host))) == 2


def test_a_real_daemons_api_answer_reads_as_its_cli_answer() -> None:
    """Captured on the testbed (daemon 20.10.24, CLI 28.2.2) from the same two containers
    at the same moment: this module's perl through the socket, and `docker ps` +
    `docker inspect`."""
    captures = Path(__file__).parents[2] / "fixtures" / "observed" / "docker" / "api"
    api = parse_docker_inspect((captures / "inspect.api.json").read_text())
    cli = parse_docker_inspect((captures / "inspect.cli.json").read_text())
    assert len(api) == 2 and api == cli
