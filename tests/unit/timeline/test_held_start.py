"""Held starts (`start` with `ahead`): the container's wrapper, the scheduler's `prestart`
and `release` modes, the user schedule's entries, the report's one line per event."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from oar_p2p.desired.containers import build_experiment, make_container
from oar_p2p.errors import ClusterError
from oar_p2p.experiment import scripts
from oar_p2p.experiment.hold import HOLD_SH, ImageCommand, hold_argv, parse_image_command
from oar_p2p.spec.timeline import TimelineStep
from oar_p2p.timeline.compile import Event
from oar_p2p.timeline.ops import API_OPS, prestart_ops
from oar_p2p.timeline.report import _user_line
from oar_p2p.timeline.scripts import StatusLine, parse_status, schedule_text, upload_script
from oar_p2p.timeline.user_files import user_files
from tests.docker_daemon import docker_daemon
from tests.unit.timeline.processes import spawn


def _held_command(fifo: Path, out: Path) -> list[str]:
    """What docker runs in a held container: /bin/sh, HOLD_SH, then the command (here:
    print the time it began)."""
    body = f"date +%s.%N > {out}"
    return ["sh", "-c", HOLD_SH, "oar-p2p-hold", str(fifo), "sh", "-c", body]


# -- the spec and the compiled events ------------------------------------------------------


def test_ahead_defaults_to_five_seconds_and_applies_to_start_only() -> None:
    assert TimelineStep(at=1, start="3").ahead == 5.0
    assert TimelineStep(at=1, start="3", ahead=0).ahead == 0.0
    with pytest.raises(ValidationError, match="applies to `start` only"):
        TimelineStep(at=1, stop="3", ahead=2)
    with pytest.raises(ValidationError):
        TimelineStep(at=1, start="3", ahead=-1)


# -- the container side ------------------------------------------------------------------


def test_hold_argv_puts_the_image_s_entrypoint_and_the_spec_s_command_after_the_wrapper() -> None:
    c = make_container(name="p-1", machine="m", index=1, address="10.16.0.2", image="img", env={})
    image = ImageCommand(("/entry.sh", "-x"), ("serve",))
    argv = hold_argv(c, image)
    assert argv[:3] == ["--entrypoint", "/bin/sh", "img"]
    assert argv[3:7] == ["-c", HOLD_SH, "oar-p2p-hold", "/oar-p2p/.hold/p-1"]
    assert argv[7:] == ["/entry.sh", "-x", "serve"]  # the image's command
    spec_cmd = make_container(
        name="p-1", machine="m", index=1, address="10.16.0.2", image="img", env={}, command=("run",)
    )
    assert hold_argv(spec_cmd, image)[7:] == ["/entry.sh", "-x", "run"]  # the spec's wins
    with pytest.raises(ClusterError, match="no entrypoint or command"):
        hold_argv(c, ImageCommand(None, None))


def test_image_commands_are_read_from_the_preflight() -> None:
    assert parse_image_command('null ["sh","-c","x y"]') == ImageCommand(None, ("sh", "-c", "x y"))
    with pytest.raises(ClusterError):
        parse_image_command('{"a": 1} null')
    text = 'signal-dir ok\nimage 0 present\nimage 1 present\nconfig 1 ["/e"] ["a b"]\n'
    report = scripts.parse_image_report(text, ["plain", "held"])
    assert report.commands == {"held": ImageCommand(("/e",), ("a b",))}
    script = scripts.preflight_script({"plain": "never", "held": "never"}, ["held"])
    assert script.count("docker image inspect -f") == 1 and "config 1" in script


def test_prepare_creates_held_containers_with_the_wrapper_and_clears_old_fifos() -> None:
    a = make_container(name="a", machine="m", index=0, address="10.16.0.1", image="img", env={})
    b = make_container(name="b", machine="m", index=1, address="10.16.0.2", image="img", env={})
    exp = build_experiment("demo", [a, b], [], [a.address, b.address], "net")
    held = {"b": ImageCommand(None, ("serve",))}
    script = scripts.prepare_script(exp, [a, b], held=held)
    lines = script.splitlines()
    create_a = next(x for x in lines if x.startswith("c a "))
    create_b = next(x for x in lines if x.startswith("c b "))
    assert "--entrypoint" not in create_a
    assert "--entrypoint /bin/sh img -c" in create_b and create_b.endswith("serve &")
    assert "rm -f /tmp/oar-p2p-signal/.hold/b" in lines


def test_the_wrapper_runs_at_once_without_a_fifo(tmp_path: Path) -> None:
    out = tmp_path / "began"
    subprocess.run(_held_command(tmp_path / "none", out), check=True, timeout=10)
    assert out.exists()


def test_the_wrapper_waits_on_its_fifo_until_something_is_written(tmp_path: Path) -> None:
    fifo, out = tmp_path / "fifo", tmp_path / "began"
    os.mkfifo(fifo, 0o666)
    proc = spawn(_held_command(fifo, out))
    time.sleep(0.5)
    assert not out.exists() and proc.poll() is None  # held
    fd = os.open(fifo, os.O_RDWR)  # what the release does: never blocks
    released = time.time()
    os.write(fd, b"go\n")
    fifo.unlink()
    assert proc.wait(timeout=10) == 0
    os.close(fd)
    assert 0 <= float(out.read_text()) - released < 1.0


def test_a_held_wrapper_ends_on_term(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o666)
    proc = spawn(_held_command(fifo, tmp_path / "began"))
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # `docker stop` of a container still held
    assert proc.wait(timeout=5) == 143


# -- the user schedule -------------------------------------------------------------------


def _event(number: int, offset: float, ops, ahead: float = 0.0) -> Event:
    return Event(number, number - 1, 0, offset, f"e{number}", None, ops, None, None, ahead)


def test_a_held_start_is_started_ahead_after_the_last_operation_on_it() -> None:
    events = [
        _event(1, 12.0, (("stop", (3,)),)),
        _event(2, 15.0, (("start", (3,)),), ahead=5.0),  # ahead: 10 s, but the stop is at 12
        _event(3, 30.0, (("start", (3, 4)), ("stop", (5,))), ahead=2.0),
        _event(4, 40.0, (("start", (4,)),), ahead=0.0),  # not held
    ]
    files = user_files(events, [], {3: "c3", 4: "c4", 5: "c5"})
    lines = [line.split() for line in files["schedule"].splitlines()]
    assert lines == [
        ["00001", "12000000", "api"],
        ["00002p", "12000000", "prestart"],  # after the stop at the same offset
        ["00002r", "15000000", "release"],
        ["00003p", "28000000", "prestart"],
        ["00003r", "30000000", "release"],
        ["00003", "30000000", "api"],  # the stop of c5, at the event
        ["00004", "40000000", "api"],
    ]
    assert files["00003p.api"].splitlines() == [
        "fifo /tmp/oar-p2p-signal/.hold/c3",
        "fifo /tmp/oar-p2p-signal/.hold/c4",
        "POST /containers/c3/start",
        "POST /containers/c4/start",
        "",
    ]
    assert files["00003r.rel"].split() == [
        "/tmp/oar-p2p-signal/.hold/c3",
        "/tmp/oar-p2p-signal/.hold/c4",
    ]
    assert "start" not in files["00003.api"] and "POST /containers/c4/start" in files["00004.api"]
    assert "mkfifo -m 666 /tmp/oar-p2p-signal/.hold/c3" in files["00002p.sh"]


def test_the_report_has_one_line_per_event_applied_when_the_command_went_on() -> None:
    lines = {
        "00002p": StatusLine("00002p", 10.0, 12.5, 12.5, 0),  # docker started it by 12.5
        "00002r": StatusLine("00002r", 15.0, 15.001, 15.002, 0),
    }
    assert _user_line(lines, "00002") == StatusLine("00002", 15.0, 15.001, 15.002, 0)
    late = {**lines, "00002p": StatusLine("00002p", 10.0, 16.0, 16.0, 0)}  # docker was slow
    assert _user_line(late, "00002") == StatusLine("00002", 15.0, 16.0, 16.0, 0)
    failed = {**lines, "00002p": StatusLine("00002p", 10.0, 11.0, 11.0, 1)}
    assert _user_line(failed, "00002").rc == 1  # type: ignore[union-attr]
    assert _user_line({"00002p": failed["00002p"]}, "00002") == failed["00002p"]
    assert _user_line({"00002p": lines["00002p"]}, "00002") is None  # the event never came


# -- the scheduler, with a stand-in docker ------------------------------------------------


def test_the_release_comes_at_its_deadline_while_docker_is_still_starting(
    tmp_path: Path,
) -> None:
    """prestart at +0.1 s: the FIFO made, docker asked to start the container, which the
    stand-in daemon does (the held command, as a process) and answers only 1.2 s later;
    the release at +0.6 s lets the command go on then, not when docker answered."""
    hold = tmp_path / "hold"
    began = tmp_path / "began"

    def answer(method: str, path: str) -> tuple[int, str]:
        if path == "/containers/c3/start":
            spawn(_held_command(hold / "c3", began))
            time.sleep(1.2)
            return 204, ""
        return 404, "{}"

    api, cli = prestart_ops(["c3"])
    api = api.replace("/tmp/oar-p2p-signal/.hold", str(hold))
    schedule = schedule_text([("00001p", 100_000, "prestart"), ("00001r", 600_000, "release")])
    files = {"schedule": schedule, "api.pl": API_OPS, "00001p.api": api, "00001p.sh": cli}
    files["00001r.rel"] = f"{hold / 'c3'}\n"
    d = tmp_path / "sched"
    with docker_daemon(tmp_path / "docker.sock", answer):
        env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}"}
        subprocess.run(["bash", "-c", upload_script(str(d), files, open_go=False)], check=True)
        proc = spawn(["bash", str(d / "scheduler.sh"), str(d)], env=env)
        t0_us = int(time.time() * 1e6)
        (d / "go").write_text(f"{t0_us}\n")
        t0 = t0_us / 1e6
        assert proc.wait(timeout=20) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "end"
    got = {x.name: x for x in lines}
    assert got["00001r"].rc == 0 and got["00001p"].rc == 0
    assert got["00001p"].ended >= t0 + 1.3  # docker answered then
    # the release was not held behind docker's answer (bounds loose for a busy CI host)
    assert 0 <= got["00001r"].started - (t0 + 0.6) < 0.5
    assert got["00001r"].started < got["00001p"].ended - 0.3
    deadline = time.time() + 5
    while not began.exists() and time.time() < deadline:
        time.sleep(0.02)
    went_on = float(began.read_text())
    assert t0 + 0.6 <= went_on < got["00001p"].ended  # at the release, before docker answered
    assert not (hold / "c3").exists()  # removed by the release
