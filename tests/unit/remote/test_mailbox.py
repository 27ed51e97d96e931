"""The helper's job mailbox, run by real bash processes: the runner (the helper's main
process) as a local process, the clients as the SSH user's shells; docker is a fake that
logs its calls."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oar_p2p.remote.mailbox import RUNNER, client_shell, job_dir, prepare_shell

NAME = "oar-p2p-helper-abc"


Run = subprocess.CompletedProcess[bytes]


def _runner(tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["bash", "-c", RUNNER, "oar-p2p-helper", job_dir(NAME, str(tmp_path))])


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The job directory made as the start makes it, and its runner running."""
    subprocess.run(["bash", "-c", prepare_shell(NAME, str(tmp_path))], check=True)
    proc = _runner(tmp_path)
    yield proc
    proc.kill()
    proc.wait()


def _client(
    tmp_path: Path, script: bytes, *args: str, **kw: object
) -> subprocess.CompletedProcess[bytes]:
    text = client_shell(NAME, root=str(tmp_path), args=bool(args), **kw)  # type: ignore[arg-type]
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", text, *args],
        input=script,
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )


def _fake_docker(tmp_path: Path) -> Path:
    """`docker exec -i NAME bash -c SCRIPT`: logged, then the script run here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(
        f'#!/bin/bash\necho "$1 $2 $3" >> {tmp_path}/log\nshift 3; exec "$@"\n'
    )
    (bin_dir / "docker").chmod(0o755)
    return tmp_path / "log"


def test_a_job_returns_its_output_and_status_and_leaves_nothing(
    tmp_path: Path, runner: subprocess.Popen[bytes]
) -> None:
    r = _client(tmp_path, b"echo out; echo err >&2; exit 7\n", started=True)
    assert (r.returncode, r.stdout, r.stderr) == (7, b"out\n", b"err\n")
    assert _client(tmp_path, b"pwd\n").stdout == b"/\n"  # as in a `docker exec`
    # as a command line (the read's nft listing): quoted word for word
    r = _client(tmp_path, b"", "printf", "%s|", "a b", "$HOME", "it's")
    assert (r.returncode, r.stdout) == (0, b"a b|$HOME|it's|")
    assert sorted(os.listdir(job_dir(NAME, str(tmp_path)))) == ["jobs", "pid"]
    assert runner.poll() is None


def test_the_runner_ignores_a_line_that_is_no_job_id(
    tmp_path: Path, runner: subprocess.Popen[bytes]
) -> None:
    jobs = Path(job_dir(NAME, str(tmp_path)))
    evil = tmp_path / "evil.sh"
    evil.write_text(f"touch {tmp_path}/ran\n")
    _client(tmp_path, b"true\n", started=True)  # the runner is up
    with open(jobs / "jobs", "w") as fifo:
        fifo.write(f"../evil\n{tmp_path}/evil\n")
    r = _client(tmp_path, b"echo still here\n")
    assert r.stdout == b"still here\n"
    assert not (tmp_path / "ran").exists()


def test_a_runner_that_ends_fails_the_job_instead_of_hanging_it(
    tmp_path: Path, runner: subprocess.Popen[bytes]
) -> None:
    assert _client(tmp_path, b"true\n", started=True).returncode == 0
    runner.kill()
    runner.wait()
    started = time.monotonic()
    r = _client(tmp_path, b"echo never\n", tick=0.2)
    assert r.returncode == 125 and r.stdout == b""
    assert f"the helper container {NAME} ended before the script did" in r.stderr.decode()
    assert time.monotonic() - started < 5


def test_a_helper_that_cannot_see_the_directory_is_reached_with_docker_exec(
    tmp_path: Path,
) -> None:
    """The user's /tmp is not the daemon's: the helper found no FIFO and sleeps; the
    client that started it gives up on the runner after 3 s, marks the directory, and it
    and every later client use `docker exec`."""
    log = _fake_docker(tmp_path)
    subprocess.run(["bash", "-c", prepare_shell(NAME, str(tmp_path))], check=True)
    r = _client(tmp_path, b"echo via exec; exit 3\n", started=True)
    assert (r.returncode, r.stdout) == (3, b"via exec\n")
    r = _client(tmp_path, b"echo again\n")
    assert (r.returncode, r.stdout) == (0, b"again\n")
    assert log.read_text().splitlines() == [f"exec -i {NAME}"] * 2
    assert sorted(os.listdir(job_dir(NAME, str(tmp_path)))) == ["exec", "jobs"]


def test_a_client_during_the_start_waits_for_the_runner(tmp_path: Path) -> None:
    text = client_shell(NAME, root=str(tmp_path), waiting=True)
    early = subprocess.Popen(
        ["bash", "-c", text], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(0.5)  # no directory yet
    subprocess.run(["bash", "-c", prepare_shell(NAME, str(tmp_path))], check=True)
    runner = subprocess.Popen(
        ["bash", "-c", RUNNER, "oar-p2p-helper", job_dir(NAME, str(tmp_path))]
    )
    try:
        out, err = early.communicate(b"echo waited\n", timeout=30)
        assert (early.returncode, out, err) == (0, b"waited\n", b"")
    finally:
        runner.kill()
        runner.wait()
