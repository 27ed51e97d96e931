"""The generated scripts, run for real by `sh` against a fake `docker` (see conftest)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from oar_p2p.desired.containers import build_experiment, make_container
from oar_p2p.errors import ClusterError
from oar_p2p.experiment import scripts
from oar_p2p.experiment.logs import extract_logs
from oar_p2p.spec.models import SignalEntry
from tests.docker_daemon import docker_daemon

from .conftest import FakeDocker


def sh(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, check=False)


def container(name: str, i: int = 0, **kw: object):
    base: dict[str, object] = dict(
        name=name, machine="m1", index=i, address=f"10.16.0.{i + 1}", image="img:1", env={}
    )
    base.update(kw)
    return make_container(**base)  # type: ignore[arg-type]


def exp(*cs, signals=()):
    return build_experiment("demo", list(cs), list(signals), [c.address for c in cs], "net")


def test_image_policies_take_each_image_once_with_the_strongest_policy() -> None:
    cs = [
        container("a", image="x", pull="never"),
        container("b", image="x", pull="always"),
        container("c", image="y", pull="never"),
        container("d", image="z", pull="missing"),
        container("e", image="z", pull="never"),
    ]
    assert scripts.image_policies(cs) == {"x": "always", "y": "never", "z": "missing"}


def test_create_argv_has_the_original_options_labels_env_and_command() -> None:
    c = container("p-0", env={"A": "1"}, command=["sh", "-c", "exit 3"])
    argv = scripts.create_argv(exp(c), c)
    assert argv[:8] == [
        "docker",
        "create",
        "--pull=never",
        "--network=host",
        "--restart=no",
        "--volume",
        "/tmp/oar-p2p-signal:/oar-p2p",
        "--name",
    ]
    assert argv[-4:] == ["img:1", "sh", "-c", "exit 3"]
    assert ["--env", "A=1"] == argv[argv.index("--env") : argv.index("--env") + 2]
    assert "oar-p2p.experiment=demo" in argv


def test_prepare_passes_hostile_values_byte_for_byte(
    fake_docker: FakeDocker, tmp_path: Path
) -> None:
    pwned = tmp_path / "pwned"
    value = f'it\'s "$(touch {pwned})" `touch {pwned}` $HOME \\n ; | & \' "\nsecond line  é'
    c = container("p-0", env={"V": value, "W": "a b"}, command=["sh", "-c", f"echo '{value}'"])
    e = exp(c, signals=[SignalEntry(name="start", delay=1)])
    done = sh(scripts.prepare_script(e, [c]))
    assert done.returncode == 0, done.stderr
    creates = [call for call in fake_docker.calls() if call[0] == "create"]
    assert creates == [scripts.create_argv(e, c)[1:]]
    assert f"V={value}" in creates[0]
    assert not pwned.exists()
    assert scripts.parse_prepare_report(done.stdout.decode(), ["p-0"]).created == ("p-0",)


def test_prepare_removes_only_owned_containers_then_creates(
    fake_docker: FakeDocker, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_OWNED", "id1,id2")
    monkeypatch.setenv("FAKE_FAIL", "p-1")
    cs = [container(f"p-{i}", i) for i in range(3)]
    done = sh(scripts.prepare_script(exp(*cs), cs, parallelism=2))
    calls = fake_docker.calls()
    assert calls[0] == ["ps", "-aq", "--no-trunc", "--filter", "label=oar-p2p.experiment=demo"]
    assert calls[1] == ["rm", "-f", "id1", "id2"]
    assert sorted(c[c.index("--name") + 1] for c in calls[2:]) == ["p-0", "p-1", "p-2"]
    report = scripts.parse_prepare_report(done.stdout.decode(), ["p-0", "p-1", "p-2"])
    assert report.created == ("p-0", "p-2") and report.failed == ("p-1",)
    assert "Conflict" in done.stderr.decode()


def test_prepare_with_no_owned_container_removes_nothing(fake_docker: FakeDocker) -> None:
    c = container("p-0")
    assert sh(scripts.prepare_script(exp(c), [])).returncode == 0
    assert fake_docker.verbs() == ["ps"]


def test_preflight_reports_images_by_policy_and_lists_containers(
    fake_docker: FakeDocker, monkeypatch, tmp_path: Path
) -> None:
    ps = tmp_path / "ps.json"
    ps.write_text('{"ID":"1","Names":"peer-0","Image":"i","Labels":"","State":"running"}\n')
    monkeypatch.setenv("FAKE_PS", str(ps))
    monkeypatch.setenv("FAKE_PRESENT", "here,here2")
    monkeypatch.setenv("FAKE_PULLABLE", "remote,here2")
    images = {
        "here": "never",
        "gone": "never",
        "remote": "missing",
        "nowhere": "missing",
        "here2": "always",
        "x": "always",
    }
    done = sh(scripts.preflight_script(images))  # type: ignore[arg-type]
    head, tail = scripts.split_preflight(done.stdout.decode())
    report = scripts.parse_image_report(head, list(images))
    assert report.signal_dir_ok
    assert report.images == {
        "here": "present",
        "gone": "absent",
        "remote": "pulled",
        "nowhere": "pull-failed",
        "here2": "pulled",
        "x": "pull-failed",
    }
    assert json.loads(tail)["Names"] == "peer-0"
    pulls = [c[1] for c in fake_docker.calls() if c[0] == "pull"]
    assert pulls == ["remote", "nowhere", "here2", "x"]  # `never` never pulls
    assert "pull access denied for nowhere" in done.stderr.decode()


def test_preflight_output_without_sections_is_an_error() -> None:
    with pytest.raises(ClusterError, match="no containers section"):
        scripts.split_preflight("signal-dir ok\n")
    with pytest.raises(ClusterError, match="nothing for image b"):
        scripts.parse_image_report("signal-dir ok\nimage 0 present\n", ["a", "b"])


def test_signal_script_writes_the_timestamp_atomically(tmp_path: Path) -> None:
    done = sh(scripts.signal_script(["start", "go"], 1795598007, str(tmp_path)))
    assert done.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "start"]
    assert (tmp_path / "start").read_bytes() == b"1795598007"
    script = scripts.signal_script(["start"], 1)
    assert "/tmp/oar-p2p-signal/start.tmp && mv -f /tmp/oar-p2p-signal/start.tmp" in script


def test_signal_script_fails_when_the_directory_is_missing(tmp_path: Path) -> None:
    assert sh(scripts.signal_script(["s"], 1, str(tmp_path / "absent"))).returncode != 0


def test_signal_script_rejects_bad_names() -> None:
    with pytest.raises(ValueError):
        scripts.signal_script(["../x"], 1)


def test_start_wait_stop_remove_name_every_container(fake_docker: FakeDocker) -> None:
    names = [f"p-{i}" for i in range(5)]
    assert sh(scripts.start_script(names, parallelism=2)).returncode == 0
    started = sorted(n for c in fake_docker.calls() if c[0] == "start" for n in c[1:])
    assert started == names
    assert len([c for c in fake_docker.calls() if c[0] == "start"]) == 2
    assert sh(scripts.wait_script(names)).stdout.decode().split() == ["0"] * 5
    sh(scripts.stop_script(names, 7))
    sh(scripts.remove_script(names))
    assert fake_docker.calls()[-2:] == [["stop", "-t", "7", *names], ["rm", "-f", *names]]


def _waits(tmp_path: Path, codes: dict[str, int]):
    """A stand-in daemon answering `POST /containers/<name>/wait` with `codes`, 404 else."""

    def answer(method: str, path: str) -> tuple[int, str]:
        name = path.split("/")[2]
        if method == "POST" and path.endswith("/wait") and name in codes:
            return 200, f'{{"Error":null,"StatusCode":{codes[name]}}}'
        return 404, f'{{"message":"No such container: {name}"}}'

    return docker_daemon(tmp_path / "docker.sock", answer)


def test_wait_asks_docker_s_api_and_prints_the_codes_in_order(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    with _waits(tmp_path, {"a": 0, "b-1": 3, "c": 137}) as daemon:
        r = sh(scripts.wait_script(["b-1", "a", "c"]))
    assert r.returncode == 0 and r.stdout.decode().split() == ["3", "0", "137"]
    paths = sorted(line for _, line in daemon.requests)
    assert paths == [f"POST /containers/{n}/wait HTTP/1.0" for n in ("a", "b-1", "c")]
    assert fake_docker.calls() == []  # no CLI


def test_wait_falls_back_to_the_cli_when_an_answer_is_no_success(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    with _waits(tmp_path, {"a": 0}):
        r = sh(scripts.wait_script(["a", "gone"]))
    assert r.stdout.decode().split() == ["0", "0"]  # the fake CLI's answer, printed once
    assert fake_docker.calls() == [["wait", "a", "gone"]]


def test_wait_until_a_status_repeats_the_waits_until_the_schedule_ended(
    fake_docker: FakeDocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    status = tmp_path / "status"
    status.write_text("00001 1 2 3 0\n")
    with _waits(tmp_path, {"a": 0}) as daemon:
        script = tmp_path / "wait.sh"
        script.write_text(scripts.wait_script(["a"], until=str(status)))
        proc = subprocess.Popen(["sh", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.3)
        assert proc.poll() is None  # the schedule runs: a stopped container may come back
        status.write_text("00001 1 2 3 0\nend\n")
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.decode().split() == ["0"]
    assert len(daemon.requests) >= 3  # asked again every 0.5 s, and once at the end
    assert fake_docker.calls() == []


def test_scripts_for_no_container_do_nothing(fake_docker: FakeDocker) -> None:
    for script in (
        scripts.start_script([]),
        scripts.wait_script([]),
        scripts.stop_script([], 1),
        scripts.remove_script([]),
        scripts.signal_script([], 1),
    ):
        assert sh(script).returncode == 0
    assert fake_docker.calls() == []


def test_destroy_prints_owned_names_and_removes_only_owned(
    fake_docker: FakeDocker, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_OWNED_NAMES", "peer-0,peer-1")
    monkeypatch.setenv("FAKE_OWNED", "id0,id1")
    done = sh(scripts.destroy_script("demo"))
    assert done.stdout.decode().split() == ["peer-0", "peer-1"]
    assert fake_docker.calls()[-1] == ["rm", "-f", "id0", "id1"]
    assert all("label=oar-p2p.experiment=demo" in c for c in fake_docker.calls()[:2])
    assert "label=oar-p2p.experiment " in scripts.destroy_script(None) + " "


def test_logs_script_sends_every_log_as_a_tarball(fake_docker: FakeDocker, tmp_path: Path) -> None:
    done = sh(scripts.logs_script(["p-0", "p-1"]))
    assert done.returncode == 0, done.stderr
    paths = extract_logs(done.stdout, ["p-0", "p-1"], tmp_path / "out")
    assert paths["p-1"]["stdout"].read_text() == "out of p-1\n"
    assert paths["p-1"]["stderr"].read_text() == "err of p-1\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "p-0.stderr",
        "p-0.stdout",
        "p-1.stderr",
        "p-1.stdout",
    ]
