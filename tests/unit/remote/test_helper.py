"""The docker executor's long-lived helper: one per machine per command, removed at its end."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError
from oar_p2p.remote.executors import DockerExecutor
from oar_p2p.remote.helper import (
    LABEL,
    START_FAILED,
    HelperPool,
    remove_command,
    start_shell,
    sweep_shell,
)
from oar_p2p.remote.mailbox import RUNNER, RUNNER_COMMAND, client_shell
from tests.fakes import Call, FakeTransport, Reply

IMAGE = DockerExecutor("local/oar-p2p-networking:abc")
GIVEN = DockerExecutor("local/helper:given", build=False)


def _pool(answer: Reply | None = None) -> tuple[FakeTransport, HelperPool]:
    fake = FakeTransport(handler=lambda call: answer or Reply("ok\n"))
    return fake, HelperPool(fake, IMAGE)


def _name(call: Call) -> str:
    return re.search(r"\bN=(oar-p2p-helper-\w+);", call.command)[1]  # type: ignore[index]


def test_the_first_script_starts_the_helper_and_later_ones_go_to_its_mailbox() -> None:
    fake, pool = _pool()
    assert pool.run("gengar-1", "tc qdisc show\n").stdout == b"ok\n"
    pool.run("gengar-1", "ip -br addr\n")
    pool.run("gengar-2", "true\n")
    first, second = [c for c in fake.calls if c.host == "gengar-1"]
    name = _name(first)
    assert name.startswith("oar-p2p-helper-") and pool.started["gengar-1"] == name
    # one round trip: docker run -d (the image checked only if that fails), then the script
    start = start_shell(IMAGE, name, owner=pool.owner, locked=False, now=0).split("--label")[0]
    assert shlex.split(first.command)[:2] == ["bash", "-c"]
    text = shlex.split(first.command)[2]
    assert text.startswith(start) and f"docker run -d --pull=never --name {name} " in text
    assert f"--entrypoint bash local/oar-p2p-networking:abc {RUNNER_COMMAND}" in text
    assert text.endswith(client_shell(name, started=True))
    assert first.stdin == b"tc qdisc show\n"
    # later: the mailbox's client alone, no image check, no docker run
    assert first.command != second.command
    assert second.command == f"bash -c {shlex.quote(client_shell(name))}"
    assert second.stdin == b"ip -br addr\n"
    assert _name(fake.calls[-1]) != name  # every machine its own helper
    assert pool.starts == {"gengar-1": 1, "gengar-2": 1}
    assert pool.execs == {"gengar-1": 2, "gengar-2": 1}


def test_close_removes_every_helper_started_once() -> None:
    fake, pool = _pool()
    pool.run("gengar-1", "true\n")
    pool.run("gengar-2", "true\n")
    names = dict(pool.started)
    fake.calls.clear()
    pool.close()
    assert sorted(c.host for c in fake.calls) == ["gengar-1", "gengar-2"]
    for call in fake.calls:  # removed in the background, then the stale ones swept
        name = names[call.host]
        assert call.command.startswith(f"nohup sh -c 'docker rm -f {name} >/dev/null 2>&1; ")
        assert f"docker ps -a --filter label={LABEL}" in call.command
        assert call.command.endswith(" >/dev/null 2>&1 </dev/null &")
    fake.calls.clear()
    pool.close()
    assert fake.calls == []


def test_a_helper_that_cannot_start_names_the_machine_and_is_tried_again() -> None:
    fake, pool = _pool(Reply(stderr="starting the helper container failed\n", status=START_FAILED))
    with pytest.raises(ClusterError, match="gengar-1: the helper container: starting the helper"):
        pool.run("gengar-1", "true\n")
    assert pool.started == {}
    with pytest.raises(ClusterError):
        pool.run("gengar-1", "true\n")
    assert all("docker run -d" in c.command for c in fake.calls)  # started again, not exec'd


def test_a_failing_script_raises_naming_the_helper() -> None:
    _, pool = _pool(Reply(stderr="Error: no such qdisc\n", status=2))
    with pytest.raises(RemoteCommandError) as err:
        pool.run("gengar-1", "tc qdisc del dev bond0 root\n")
    assert "a script in the helper container oar-p2p-helper-" in str(err.value)
    assert "no such qdisc" in str(err.value)
    assert "gengar-1" in pool.started  # removed at close all the same


# --- the scripts, run by a real shell against a fake `docker` ----------------------------


def _fake_docker(tmp_path: Path, ps: str = "", image: bool = True, run: int = 0) -> Path:
    """A `docker` on PATH that logs its argv, one line per call, to tmp_path/log; `run`
    fails with 125 while the image is missing (as docker does), `build` makes it. A
    `run -d` that succeeds starts the helper's command (the runner) as a local process,
    with its ``-v DIR:/j`` directory; `exec -i NAME bash -c SCRIPT` runs the script
    locally; `rm -f NAME` ends NAME's runner."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "ps").write_text(ps)
    if image:
        (tmp_path / "image").touch()
    script = f"""#!{sys.executable}
import json, os, signal, subprocess, sys
t = {str(tmp_path)!r}
a = sys.argv[1:]
with open(t + "/log", "a") as log:
    log.write(json.dumps(a) + "\\n")
if a[0] == "ps":
    sys.stdout.write(open(t + "/ps").read())
elif a[0] == "image":
    sys.exit(0 if os.path.exists(t + "/image") else 1)
elif a[0] == "build":
    open(t + "/dockerfile", "w").write(sys.stdin.read()); open(t + "/image", "w").close()
elif a[0] == "run":
    if not os.path.exists(t + "/image"):
        sys.exit(125)
    if {run} == 0 and "-d" in a:
        mount = next(v for v in a if v.endswith(":/j"))[: -len(":/j")]
        name = a[a.index("--name") + 1]
        runner = subprocess.Popen(["bash", *a[a.index("bash") + 2 :], mount],
                                  start_new_session=True, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open(t + "/" + name + ".runner", "w").write(str(runner.pid))
    sys.exit({run})
elif a[0] == "exec":
    sys.exit(subprocess.run(a[a.index("bash"):]).returncode)
elif a[:2] == ["rm", "-f"]:
    try:
        os.kill(int(open(t + "/" + a[2] + ".runner").read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
"""
    (bin_dir / "docker").write_text(script)
    (bin_dir / "docker").chmod(0o755)
    return bin_dir


def _sh(tmp_path: Path, bin_dir: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=False)
    return r


def _argvs(tmp_path: Path) -> list[list[str]]:
    """The fake docker's calls, as argv lists."""
    log = tmp_path / "log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _log(tmp_path: Path) -> list[str]:
    """The fake docker's calls, each as its arguments joined by spaces."""
    return [" ".join(argv) for argv in _argvs(tmp_path)]


def test_the_sweep_removes_stale_helpers_only(tmp_path: Path) -> None:
    now = 1_000_000
    ps = (
        f"mine 1 {now - 5}\n"  # ours: never
        f"killed-apply 1 {now - 60}\n"  # a lock holder's, and we hold the lock: stale
        f"verify 0 {now - 60}\n"  # a lock-free command's, recent: alive
        f"old-verify 0 {now - 90_000}\n"  # older than a day: stale
        "garbled 0 x\n"  # no time: as old as can be
    )
    bin_dir = _fake_docker(tmp_path, ps)
    _sh(tmp_path, bin_dir, sweep_shell("mine", locked=True, now=now))
    log = _log(tmp_path)
    assert log[0].startswith(f"ps -a --filter label={LABEL} --format")
    assert sorted(log[1:]) == ["rm -f garbled", "rm -f killed-apply", "rm -f old-verify"]
    # a command without the lock cannot tell a running apply's helper from a dead one's
    (tmp_path / "log").unlink()
    _sh(tmp_path, bin_dir, sweep_shell("mine", locked=False, now=now))
    assert sorted(_log(tmp_path)[1:]) == ["rm -f garbled", "rm -f old-verify"]


@pytest.fixture(autouse=True)
def _end_runners(tmp_path: Path) -> Iterator[None]:
    """The runners the fake `docker run -d` started end with the test."""
    yield
    for pid_file in tmp_path.glob("*.runner"):
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _start(
    tmp_path: Path, name: str = "oar-p2p-helper-x", executor: DockerExecutor = IMAGE, **kw: Any
) -> str:
    args: dict[str, Any] = {"owner": "a", "locked": False, "now": 1, **kw}
    return start_shell(executor, name, root=str(tmp_path), **args)


def test_the_start_runs_the_labelled_helper_without_checking_the_image(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path)
    start = _start(tmp_path, owner="alice@fe pid 7", locked=True, now=42)
    r = _sh(tmp_path, bin_dir, start + "echo started\n")
    assert (r.returncode, r.stdout) == (0, "started\n")  # the helper's id is not printed
    (run,) = _argvs(tmp_path)  # one docker command: no inspect, no sweep
    assert run[:5] == ["run", "-d", "--pull=never", "--name", "oar-p2p-helper-x"]
    assert run[run.index("--entrypoint") + 1 :] == [
        "bash",
        IMAGE.image,
        "-c",
        RUNNER,
        "oar-p2p-helper",
    ]
    labels = [run[i + 1] for i, arg in enumerate(run) if arg == "--label"]
    assert labels == [
        "oar-p2p.helper=alice@fe pid 7",
        "oar-p2p.helper.locked=1",
        "oar-p2p.helper.since=42",
    ]
    assert "--privileged" in run and "--network=host" in run and "--pid=host" in run
    assert "/run/oar-p2p:/run/oar-p2p" in run
    # the job directory, made before the start: the user's, with the runner's FIFO
    jobs = tmp_path / "oar-p2p-helper-x"
    assert f"{jobs}:/j" in run
    assert stat.S_IMODE(jobs.stat().st_mode) == 0o700 and (jobs / "jobs").is_fifo()


def test_a_start_whose_job_directory_exists_fails_before_docker(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path)
    (tmp_path / "oar-p2p-helper-x").mkdir()
    r = _sh(tmp_path, bin_dir, _start(tmp_path) + "echo started\n")
    assert r.returncode == START_FAILED and "cannot make the helper's job directory" in r.stderr
    assert _log(tmp_path) == []


def test_a_start_without_the_image_builds_it_and_starts_again(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, image=False)
    r = _sh(tmp_path, bin_dir, _start(tmp_path) + "echo started\n")
    assert (r.returncode, r.stdout) == (0, "started\n")
    calls = [c.split(" --name")[0] for c in _log(tmp_path)]
    assert calls == [
        "run -d --pull=never",
        "image inspect local/oar-p2p-networking:abc",
        "build -q -t local/oar-p2p-networking:abc -",
        "rm -f oar-p2p-helper-x",
        "run -d",
    ]
    assert "FROM alpine" in (tmp_path / "dockerfile").read_text()


def test_the_removal_runs_in_the_background_and_sweeps(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, ps="killed 1 5\n")
    jobs = tmp_path / "oar-p2p-helper-x"
    jobs.mkdir()
    sweep = sweep_shell("oar-p2p-helper-x", locked=True, now=9)
    line = remove_command("oar-p2p-helper-x", sweep, root=str(tmp_path))
    assert _sh(tmp_path, bin_dir, line).returncode == 0
    for _ in range(100):  # the background job's three docker commands
        if len(_log(tmp_path)) == 3:
            break
        time.sleep(0.05)
    log = _log(tmp_path)
    assert log[0] == "rm -f oar-p2p-helper-x" and log[1].startswith("ps -a")
    assert log[2] == "rm -f killed"
    assert not jobs.exists()  # the job directory went with its helper


def test_a_given_image_is_never_built_and_its_absence_is_explained(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, image=False)
    start = _start(tmp_path, "h", executor=GIVEN)
    r = _sh(tmp_path, bin_dir, start + "echo started\n")
    assert r.returncode == START_FAILED and r.stdout == ""
    assert "helper image (OAR_P2P_HELPER_IMAGE) is not on this machine" in r.stderr
    assert [c.split(" --name")[0] for c in _log(tmp_path)] == [
        "run -d --pull=never",
        "image inspect local/helper:given",
    ]  # never built


def test_a_failed_docker_run_exits_start_failed(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, run=1)
    r = _sh(tmp_path, bin_dir, _start(tmp_path, "h") + "true")
    assert r.returncode == START_FAILED
    assert "starting the helper container failed" in r.stderr


def test_the_reads_nft_listing_builds_a_missing_packaged_image(tmp_path: Path) -> None:
    argv = IMAGE.nft_argv()
    line = " ".join(shlex.quote(a) for a in [*argv, "-j", "list", "table", "ip", "oar-p2p"])
    listing = f"--privileged --network=host --entrypoint nft {IMAGE.image} -j list table ip oar-p2p"
    bin_dir = _fake_docker(tmp_path)
    assert _sh(tmp_path, bin_dir, line).returncode == 0
    assert _log(tmp_path) == [f"run --rm --pull=never {listing}"]  # no check when present
    (tmp_path / "log").unlink()
    (tmp_path / "image").unlink()
    assert _sh(tmp_path, bin_dir, line).returncode == 0
    assert _log(tmp_path) == [
        f"run --rm --pull=never {listing}",
        f"image inspect {IMAGE.image}",
        f"build -q -t {IMAGE.image} -",
        f"run --rm {listing}",
    ]
    # a given image: the plain one-shot listing, as before
    assert GIVEN.nft_argv()[:3] == ["docker", "run", "--rm"]


def test_an_nft_failure_in_the_listing_is_not_retried(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, run=1)  # nft's own error: status 1, not docker's 125
    line = " ".join(shlex.quote(a) for a in IMAGE.nft_argv())
    assert _sh(tmp_path, bin_dir, line).returncode == 1
    assert len(_log(tmp_path)) == 1


def _machine(tmp_path: Path) -> tuple[FakeTransport, HelperPool]:
    """A pool whose round trips run in a local bash with the fake docker on PATH: the
    start, the runner and the mailbox run for real, only docker is faked."""
    bin_dir = _fake_docker(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def answer(call: Call) -> Reply:
        argv = ["sh", "-c", call.command]
        r = subprocess.run(argv, env=env, input=call.stdin, capture_output=True, check=False)
        return Reply(r.stdout.decode(), r.stderr.decode(), r.returncode)

    fake = FakeTransport(handler=answer)
    return fake, HelperPool(fake, IMAGE, root=str(tmp_path))


def test_scripts_run_in_the_started_helper_through_its_mailbox(tmp_path: Path) -> None:
    fake, pool = _machine(tmp_path)
    first = pool.run("gengar-1", "echo one; echo warn >&2\n")
    assert (first.stdout, first.stderr) == (b"one\n", b"warn\n")
    name = pool.started["gengar-1"]
    with pytest.raises(RemoteCommandError) as err:
        pool.run("gengar-1", "echo half; exit 4\n")
    assert err.value.status == 4 and "in the helper container" in str(err.value)
    streamed = pool.run("gengar-1", iter([b"echo a", b"bc\n", b"echo d\n"]))
    assert streamed.stdout == b"abc\nd\n"
    # one docker command for all three: the start; the scripts went to the runner
    assert [c.split(" --name")[0] for c in _log(tmp_path)] == ["run -d --pull=never"]
    jobs = tmp_path / name
    assert sorted(p.name for p in jobs.iterdir()) == ["jobs", "pid"]  # each job cleaned up
    pool.close()
    for _ in range(100):
        if not jobs.exists():
            break
        time.sleep(0.05)
    assert not jobs.exists()


def test_the_reads_listing_starts_the_helper_then_lists_in_it(tmp_path: Path) -> None:
    _, pool = _machine(tmp_path)
    bin_dir = tmp_path / "bin"
    (bin_dir / "nft").write_text('#!/bin/sh\necho "nft $*"; echo nft-warning >&2\n')
    (bin_dir / "nft").chmod(0o755)
    argv, name = pool.listing_argv("gengar-1")
    assert name is not None and pool.started["gengar-1"] == name
    r = _sh(tmp_path, bin_dir, shlex.join([*argv, "-j", "list", "table", "ip", "oar-p2p"]))
    assert (r.returncode, r.stdout, r.stderr) == (
        0,
        "nft -j list table ip oar-p2p\n",
        "nft-warning\n",
    )
    (run,) = _log(tmp_path)
    assert run.startswith(f"run -d --pull=never --name {name} ")  # no image check: present
    pool.listing_done("gengar-1", name, listed=True)
    assert pool.starts == {"gengar-1": 1} and pool.execs == {"gengar-1": 1}
    # a second listing on that machine (a read again) only drops a job in the mailbox
    again, none = pool.listing_argv("gengar-1")
    assert none is None and "docker run" not in again[2]
    r = _sh(tmp_path, bin_dir, shlex.join([*again, "list", "tables"]))
    assert (r.returncode, r.stdout) == (0, "nft list tables\n")
    assert len(_log(tmp_path)) == 1
    # a helper that cannot start: the listing fails with the start's message (the read
    # reports it as its nft error)
    other = tmp_path / "other"
    other.mkdir()
    pool2 = HelperPool(FakeTransport(), IMAGE, root=str(other))
    argv2, _name2 = pool2.listing_argv("gengar-2")
    r = _sh(other, _fake_docker(other, run=1), shlex.join([*argv2, "list", "tables"]))
    assert r.returncode == START_FAILED and "starting the helper container failed" in r.stderr


def test_a_script_during_the_start_waits_for_the_helper_not_for_the_first_script(
    tmp_path: Path,
) -> None:
    """`verify`: the iperf3 server (the machine's first privileged script) runs until it is
    told to stop, by a second script on the same machine."""
    _, pool = _machine(tmp_path)
    stop = tmp_path / "stop"
    with ThreadPoolExecutor(1) as ex:
        server = ex.submit(pool.run, "gengar-1", f"while [ ! -e {stop} ]; do sleep 0.05; done\n")
        while "gengar-1" not in pool.started:
            time.sleep(0.01)
        pool.run("gengar-1", f"touch {stop}\n")  # while the start may still be in flight
        assert server.result(timeout=20).status == 0
    assert [c.split(" --name")[0] for c in _log(tmp_path)] == ["run -d --pull=never"]


def test_a_listing_that_did_not_run_releases_its_helper_name() -> None:
    _, pool = _pool()
    _argv, name = pool.listing_argv("gengar-1")
    pool.listing_done("gengar-1", name, listed=False)  # the record was trusted
    assert pool.started == {} and pool.starts == {} and pool.execs == {}
    pool.close()  # nothing to remove


def test_a_helper_the_read_started_in_the_background_serves_the_write(tmp_path: Path) -> None:
    _, pool = _machine(tmp_path)
    argv, name = pool.listing_argv("gengar-1")
    bin_dir = tmp_path / "bin"
    (bin_dir / "nft").write_text("#!/bin/sh\necho nft\n")
    (bin_dir / "nft").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    background = subprocess.Popen([*argv, "--version"], env=env)  # as the read starts it
    pool.listing_done("gengar-1", name, listed=False, started=True)
    assert pool.started == {"gengar-1": name} and pool.starts == {"gengar-1": 1}
    write = pool.run("gengar-1", "echo written\n")  # may come before the helper runs
    assert write.stdout == b"written\n"
    assert background.wait(timeout=30) == 0
    assert [c.split(" --name")[0] for c in _log(tmp_path)] == ["run -d --pull=never"]


def test_a_script_for_a_helper_that_never_started_says_so(tmp_path: Path) -> None:
    _, pool = _machine(tmp_path)
    _argv, name = pool.listing_argv("gengar-1")
    pool.listing_done("gengar-1", name, listed=False, started=True)  # but it never ran
    pool.patience = 0.5
    with pytest.raises(RemoteCommandError, match="is not running"):
        pool.run("gengar-1", "true\n", timeout=60)
