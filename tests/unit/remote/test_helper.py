"""The docker executor's long-lived helper: one per machine per command, removed at its end."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError
from oar_p2p.remote.executors import SPOOLED_BASH, DockerExecutor
from oar_p2p.remote.helper import (
    LABEL,
    START_FAILED,
    HelperPool,
    remove_command,
    start_shell,
    sweep_shell,
    wait_shell,
)
from tests.fakes import Call, FakeTransport, Reply

IMAGE = DockerExecutor("local/oar-p2p-networking:abc")
GIVEN = DockerExecutor("local/helper:given", build=False)


def _pool(answer: Reply | None = None) -> tuple[FakeTransport, HelperPool]:
    fake = FakeTransport(handler=lambda call: answer or Reply("ok\n"))
    return fake, HelperPool(fake, IMAGE)


def _name(call: Call) -> str:
    return call.command.split("docker exec -i ", 1)[1].split()[0]


def test_the_first_script_starts_the_helper_and_later_ones_exec_into_it() -> None:
    fake, pool = _pool()
    assert pool.run("gengar-1", "tc qdisc show\n").stdout == b"ok\n"
    pool.run("gengar-1", "ip -br addr\n")
    pool.run("gengar-2", "true\n")
    first, second = [c for c in fake.calls if c.host == "gengar-1"]
    name = _name(first)
    assert name.startswith("oar-p2p-helper-") and pool.started["gengar-1"] == name
    # one round trip: docker run -d (the image checked only if that fails), then the script
    assert f"docker run -d --pull=never --name {name} " in first.command
    assert "--entrypoint sleep local/oar-p2p-networking:abc infinity" in first.command
    assert first.command.endswith(f"exec docker exec -i {name} {SPOOLED_BASH}")
    assert first.stdin == b"tc qdisc show\n"
    # later: the exec alone, no image check, no docker run
    assert second.command == f"docker exec -i {name} {SPOOLED_BASH}"
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


def test_a_failing_script_raises_with_the_exec_as_its_command() -> None:
    _, pool = _pool(Reply(stderr="Error: no such qdisc\n", status=2))
    with pytest.raises(RemoteCommandError) as err:
        pool.run("gengar-1", "tc qdisc del dev bond0 root\n")
    assert "docker exec -i oar-p2p-helper-" in str(err.value)
    assert "no such qdisc" in str(err.value)
    assert "gengar-1" in pool.started  # removed at close all the same


# --- the scripts, run by a real shell against a fake `docker` ----------------------------


def _fake_docker(tmp_path: Path, ps: str = "", image: bool = True, run: int = 0) -> Path:
    """A `docker` on PATH that logs its argv, one line per call, to tmp_path/log; `run`
    fails with 125 while the image is missing (as docker does), `build` makes it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "ps").write_text(ps)
    if image:
        (tmp_path / "image").touch()
    script = f"""#!/bin/sh
echo "$*" >> {tmp_path}/log
case "$1" in
  ps) cat {tmp_path}/ps;;
  image) [ -e {tmp_path}/image ];;
  build) cat > {tmp_path}/dockerfile; touch {tmp_path}/image;;
  run) [ -e {tmp_path}/image ] || exit 125; exit {run};;
esac
"""
    (bin_dir / "docker").write_text(script)
    (bin_dir / "docker").chmod(0o755)
    return bin_dir


def _sh(tmp_path: Path, bin_dir: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=False)
    return r


def _log(tmp_path: Path) -> list[str]:
    log = tmp_path / "log"
    return log.read_text().splitlines() if log.exists() else []


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


def test_the_start_runs_the_labelled_helper_without_checking_the_image(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path)
    start = start_shell(IMAGE, "oar-p2p-helper-x", owner="alice@fe pid 7", locked=True, now=42)
    r = _sh(tmp_path, bin_dir, start + "echo started\n")
    assert (r.returncode, r.stdout) == (0, "started\n")  # the helper's id is not printed
    (call,) = _log(tmp_path)  # one docker command: no inspect, no sweep
    run = shlex.split(call)
    assert run[:5] == ["run", "-d", "--pull=never", "--name", "oar-p2p-helper-x"]
    assert run[run.index("--entrypoint") + 1 :] == ["sleep", IMAGE.image, "infinity"]
    for label in (f"{LABEL}=alice@fe pid 7", "oar-p2p.helper.locked=1", "oar-p2p.helper.since=42"):
        assert f"--label {label}" in call
    assert "--privileged" in run and "--network=host" in run
    assert "/run/oar-p2p:/run/oar-p2p" in run


def test_a_start_without_the_image_builds_it_and_starts_again(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, image=False)
    start = start_shell(IMAGE, "oar-p2p-helper-x", owner="a", locked=False, now=1)
    r = _sh(tmp_path, bin_dir, start + "echo started\n")
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
    line = remove_command("oar-p2p-helper-x", sweep_shell("oar-p2p-helper-x", locked=True, now=9))
    assert _sh(tmp_path, bin_dir, line).returncode == 0
    for _ in range(100):  # the background job's three docker commands
        if len(_log(tmp_path)) == 3:
            break
        time.sleep(0.05)
    log = _log(tmp_path)
    assert log[0] == "rm -f oar-p2p-helper-x" and log[1].startswith("ps -a")
    assert log[2] == "rm -f killed"


def test_a_given_image_is_never_built_and_its_absence_is_explained(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, image=False)
    start = start_shell(GIVEN, "h", owner="a", locked=False, now=1)
    r = _sh(tmp_path, bin_dir, start + "echo started\n")
    assert r.returncode == START_FAILED and r.stdout == ""
    assert "helper image (OAR_P2P_HELPER_IMAGE) is not on this machine" in r.stderr
    assert [c.split(" --name")[0] for c in _log(tmp_path)] == [
        "run -d --pull=never",
        "image inspect local/helper:given",
    ]  # never built


def test_a_failed_docker_run_exits_start_failed(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, run=1)
    r = _sh(tmp_path, bin_dir, start_shell(IMAGE, "h", owner="a", locked=False, now=1) + "true")
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


def test_a_script_during_the_start_waits_for_the_helper_not_for_the_first_script() -> None:
    """`verify`: the iperf3 server (the machine's first privileged script) runs until it is
    told to stop, by a second script on the same machine."""
    released = threading.Event()

    def answer(call: Call) -> Reply:
        if "docker run -d" in call.command:  # the server: runs until the stop came
            assert released.wait(5), "the stop script was held behind the server"
        elif b"stop" in call.stdin:
            released.set()
        return Reply()

    fake = FakeTransport(handler=answer)
    pool = HelperPool(fake, IMAGE)
    with ThreadPoolExecutor(1) as ex:
        server = ex.submit(pool.run, "gengar-1", "iperf3 -s -1\n")
        while not fake.calls:
            time.sleep(0.01)
        pool.run("gengar-1", "stop\n")
        server.result()
    name = pool.started["gengar-1"]
    stop = fake.calls[1].command
    assert stop.startswith(wait_shell(name))
    assert stop.endswith(f"docker exec -i {name} {SPOOLED_BASH}")
    pool.run("gengar-1", "later\n")  # once started: the exec alone
    assert fake.calls[-1].command == f"docker exec -i {name} {SPOOLED_BASH}"


def test_the_wait_for_a_helper_is_bounded(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path)  # `docker inspect` prints nothing: never running
    r = _sh(tmp_path, bin_dir, wait_shell("h", tries=3) + "echo gave up\n")
    assert r.stdout == "gave up\n"
    assert _log(tmp_path) == ["inspect -f {{.State.Running}} h"] * 3


def test_the_reads_listing_starts_the_helper_then_lists_in_it(tmp_path: Path) -> None:
    _, pool = _pool()
    argv, name = pool.listing_argv("gengar-1")
    assert name is not None and pool.started["gengar-1"] == name
    line = shlex.join([*argv, "-j", "list", "table", "ip", "oar-p2p"])
    bin_dir = _fake_docker(tmp_path)
    assert _sh(tmp_path, bin_dir, line).returncode == 0
    run, listing = _log(tmp_path)
    assert run.startswith(f"run -d --pull=never --name {name} ")  # no image check: present
    assert listing == f"exec {name} nft -j list table ip oar-p2p"
    pool.listing_done("gengar-1", name, listed=True)
    assert pool.starts == {"gengar-1": 1} and pool.execs == {"gengar-1": 1}
    # a second listing on that machine (a read again) only execs
    again, none = pool.listing_argv("gengar-1")
    assert (again, none) == (["docker", "exec", name, "nft"], None)
    # a helper that cannot start: the listing fails with the start's message (the read
    # reports it as its nft error)
    _, pool2 = _pool()
    argv2, _name2 = pool2.listing_argv("gengar-2")
    other = tmp_path / "other"
    other.mkdir()
    r = _sh(other, _fake_docker(other, run=1), shlex.join([*argv2, "list", "tables"]))
    assert r.returncode == START_FAILED and "starting the helper container failed" in r.stderr


def test_a_listing_that_did_not_run_releases_its_helper_name() -> None:
    _, pool = _pool()
    _argv, name = pool.listing_argv("gengar-1")
    pool.listing_done("gengar-1", name, listed=False)  # the record was trusted
    assert pool.started == {} and pool.starts == {} and pool.execs == {}
    pool.close()  # nothing to remove
