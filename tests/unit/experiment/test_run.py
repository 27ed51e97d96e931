"""`run_experiment`, `observe_containers`, `destroy_containers` over a fake cluster.

`FakeCluster` answers each phase's script (recognised by what it contains) like docker on
the machines would, and records the order of phases per host.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
from pathlib import Path

import pytest

from oar_p2p.desired.containers import Experiment, build_experiment, make_container
from oar_p2p.errors import ClusterError, ConnectError
from oar_p2p.experiment import (
    RunOptions,
    destroy_containers,
    observe_containers,
    preflight_problems,
    run_experiment,
)
from oar_p2p.experiment.scripts import ImageReport
from oar_p2p.spec.models import SignalEntry
from oar_p2p.state import ContainerState
from tests.fakes import Call, FakeTransport, Reply

from .test_signals import WALL, FakeClock


def _names_in(script: str) -> list[str]:
    return re.findall(r"--name (\S+)", script)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeCluster:
    """Docker on every host, as the scripts see it."""

    def __init__(self, exp: Experiment, codes: dict[str, int] | None = None) -> None:
        self.exp = exp
        self.codes = codes or {}
        self.images: dict[str, str] = {}  # image -> preflight status
        self.foreign: dict[str, list[str]] = {}  # host -> foreign container names
        self.fail_create: set[str] = set()
        self.phases: list[tuple[str, str]] = []
        self.release = threading.Event()  # docker wait returns once set
        self.release.set()
        self.on_wait: list[object] = []
        self.wait_errors: dict[str, list[BaseException]] = {}
        self.lock = threading.Lock()

    def handler(self, call: Call) -> Reply | BaseException:
        script = call.stdin.decode()
        phase, reply = self._answer(call.host, script)
        with self.lock:
            self.phases.append((call.host, phase))
        return reply

    def _answer(self, host: str, script: str) -> tuple[str, Reply | BaseException]:
        if "signal-dir" in script:
            return "preflight", self._preflight(host, script)
        if "c() {" in script:
            names = _names_in(script)
            lines = [f"{'failed' if n in self.fail_create else 'created'} {n}" for n in names]
            return "create", Reply("\n".join(lines) + "\n", "Conflict" if self.fail_create else "")
        if "docker start" in script:
            return "start", Reply()
        if "printf '%s'" in script:
            return "signal", Reply()
        if "docker wait" in script:
            return "wait", self._wait(host)
        if "docker stop" in script:
            return "stop", Reply()
        if "docker inspect" in script:
            return "inspect", Reply(json.dumps(self._inspect(host)))
        if "tar -C" in script:
            return "logs", Reply(_tar(self._logs(host)))
        if "docker rm -f" in script and "--format" in script:
            return "destroy", Reply("\n".join(c.name for c in self.exp.on(host)))
        if "docker rm -f" in script:
            return "remove", Reply()
        raise AssertionError(f"unexpected script: {script[:200]}")

    def _preflight(self, host: str, script: str) -> Reply:
        images = re.findall(r"docker image inspect (\S+) |docker pull (\S+) ", script)
        seen = list(dict.fromkeys(a or b for a, b in images))
        lines = ["signal-dir ok"]
        lines += [f"image {i} {self.images.get(img, 'present')}" for i, img in enumerate(seen)]
        lines.append("### oar-p2p:containers ###")
        for name in self.foreign.get(host, []):
            lines.append(
                json.dumps(
                    {"ID": "f", "Names": name, "Image": "x", "Labels": "", "State": "running"}
                )
            )
        return Reply("\n".join(lines) + "\n", "pull access denied")

    def _wait(self, host: str) -> Reply | BaseException:
        errors = self.wait_errors.get(host)
        if errors:
            return errors.pop(0)
        self.release.wait(5)
        return Reply("\n".join(str(self.codes.get(c.name, 0)) for c in self.exp.on(host)))

    def _inspect(self, host: str) -> list[dict[str, object]]:
        return [
            {
                "Id": "id-" + c.name,
                "Name": "/" + c.name,
                "State": {
                    "Status": "exited",
                    "ExitCode": self.codes.get(c.name, 0),
                    "StartedAt": "2026-01-01T00:00:00.5Z",
                    "FinishedAt": "2026-01-01T00:00:02Z",
                },
                "Config": {"Image": c.image, "Env": [], "Labels": self.exp.labels(c)},
            }
            for c in self.exp.on(host)
        ]

    def _logs(self, host: str) -> dict[str, bytes]:
        files = {}
        for c in self.exp.on(host):
            lines = "".join(f"{c.name} line {i}\n" for i in range(30))
            files[f"{c.name}.stdout"] = lines.encode()
            files[f"{c.name}.stderr"] = f"{c.name} failed badly\n".encode()
        files["../escape.stdout"] = b"x"
        return files

    def order(self, host: str) -> list[str]:
        return [p for h, p in self.phases if h == host]


START = (SignalEntry(name="start", delay=5),)


def make_exp(signals=START, **images: str) -> Experiment:
    cs = [
        make_container(
            name=f"peer-{i}",
            machine=f"gengar-{i % 2 + 1}",
            index=i,
            address=f"10.{16 + i % 2}.0.{i // 2 + 1}",
            image=images.get(f"peer_{i}", "img:1"),
            env={"I": str(i), "TOKEN": "s3cret"},
            secret_keys=["TOKEN"],
        )
        for i in range(4)
    ]
    return build_experiment("demo", cs, list(signals), [c.address for c in cs], "net")


def run(cluster: FakeCluster, tmp_path: Path, **kw):
    fake = FakeTransport(handler=cluster.handler)
    clock = kw.pop("clock", FakeClock())
    events: list[object] = []
    result = run_experiment(
        fake, cluster.exp, tmp_path / "out", clock=clock, progress=events.append, **kw
    )
    return result, fake, events


def test_a_successful_run_goes_through_every_phase_once_per_machine(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.release.clear()
    clock = FakeClock()
    # docker wait returns only after the signal fired
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "signal":
            cluster.release.set()
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]
    result, fake, events = run(cluster, tmp_path, hosts=["gengar-3"], clock=clock)
    assert result.ok and not result.failed
    assert cluster.order("gengar-1") == [
        "preflight", "create", "start", "signal", "wait", "inspect", "logs"
    ]  # fmt: skip
    assert cluster.order("gengar-3") == ["preflight", "create", "signal"]
    assert result.machines == ("gengar-1", "gengar-2", "gengar-3")
    (firing,) = result.signals
    assert set(firing.fired_at) == {"gengar-1", "gengar-2", "gengar-3"}
    assert firing.delay == 5
    assert (tmp_path / "out" / "peer-3.stdout").read_text().startswith("peer-3 line 0")
    assert not (tmp_path / "escape.stdout").exists()
    assert {e.phase for e in events} >= {"create", "start", "wait", "logs"}  # type: ignore[attr-defined]
    assert all(c.command == "sh -s" for c in fake.calls)


def test_manifest_records_containers_signals_and_masks_secrets(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp(signals=()), codes={"peer-1": 3})
    result, _, _ = run(cluster, tmp_path, extra={"spec": "spec.yaml"})
    doc = json.loads(result.manifest_path.read_text())
    assert doc["run_digest"] == cluster.exp.run_digest
    assert doc["spec"] == "spec.yaml" and doc["network_digest"] == "net"
    by_name = {c["name"]: c for c in doc["containers"]}
    assert by_name["peer-1"]["exit_code"] == 3
    assert by_name["peer-0"] == by_name["peer-0"] | {
        "machine": "gengar-1",
        "address": "10.16.0.1",
        "image": "img:1",
        "exit_code": 0,
        "duration": 1.5,
        "stdout": "peer-0.stdout",
        "env": {"I": "0", "TOKEN": "********"},
    }
    assert "s3cret" not in result.manifest_path.read_text()


def test_a_failed_container_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp(signals=()), codes={"peer-2": 3})
    result, _, _ = run(cluster, tmp_path, options=RunOptions(tail_lines=3))
    assert not result.ok
    (failed,) = result.failed
    assert (failed.name, failed.machine, failed.exit_code) == ("peer-2", "gengar-1", 3)
    assert failed.stdout_tail == "peer-2 line 27\npeer-2 line 28\npeer-2 line 29"
    assert failed.stderr_tail == "peer-2 failed badly"
    assert all((tmp_path / "out" / f"peer-{i}.stderr").exists() for i in range(4))
    ok = next(c for c in result.containers if c.name == "peer-0")
    assert ok.stdout_tail == ""


def test_missing_image_with_never_fails_before_anything_changes(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.images = {"img:1": "absent"}
    with pytest.raises(ClusterError) as err:
        run(cluster, tmp_path)
    assert "gengar-1: image img:1 is not on the machine and its pull policy is `never`" in str(
        err.value
    )
    assert "gengar-2: image img:1" in str(err.value)
    assert {p for _, p in cluster.phases} == {"preflight"}


def test_a_foreign_container_holding_a_name_blocks_the_run(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.foreign = {"gengar-2": ["peer-1", "unrelated"]}
    with pytest.raises(ClusterError, match="gengar-2: a container named peer-1 exists"):
        run(cluster, tmp_path)
    assert {p for _, p in cluster.phases} == {"preflight"}


def test_a_failed_create_removes_this_runs_containers_and_raises(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.fail_create = {"peer-3"}
    with pytest.raises(ClusterError, match="creating containers failed on 1 of 2 machines"):
        run(cluster, tmp_path)
    assert cluster.order("gengar-2") == ["preflight", "create", "remove"]
    assert cluster.order("gengar-1") == ["preflight", "create", "remove"]


def test_timeout_stops_the_containers_and_still_collects(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp(signals=[SignalEntry(name="late", delay=100)]))
    cluster.release.clear()
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "stop":
            cluster.release.set()
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]
    result, _, _ = run(cluster, tmp_path, options=RunOptions(timeout=30))
    assert result.timed_out and not result.ok
    assert result.signals == ()  # `late` was due after the deadline
    assert cluster.order("gengar-1")[-4:] == ["stop", "wait", "inspect", "logs"] or cluster.order(
        "gengar-1"
    )[-4:] == ["wait", "stop", "inspect", "logs"]
    assert "run timeout of 30 s reached" in result.notes[0]
    assert json.loads(result.manifest_path.read_text())["timed_out"] is True


def test_ctrl_c_stops_collects_and_removes(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    cluster.release.clear()
    original = cluster._answer

    def answer(host: str, script: str):
        phase, reply = original(host, script)
        if phase == "stop":
            cluster.release.set()
        return phase, reply

    cluster._answer = answer  # type: ignore[method-assign]

    class InterruptingClock(FakeClock):
        def wait(self, event: threading.Event, timeout: float) -> bool:
            raise KeyboardInterrupt

    result, _, _ = run(cluster, tmp_path, clock=InterruptingClock())
    assert result.interrupted and result.removed and not result.ok
    order = cluster.order("gengar-1")
    assert order[:3] == ["preflight", "create", "start"]
    assert order[-4:] == ["stop", "inspect", "logs", "remove"] or order[-5:] == [
        "stop", "wait", "inspect", "logs", "remove"
    ]  # fmt: skip
    assert "interrupted (Ctrl-C)" in result.notes[0]
    assert (tmp_path / "out" / "manifest.json").exists()


def test_a_dropped_connection_during_wait_is_retried(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp(signals=()))
    cluster.wait_errors = {"gengar-1": [ConnectError("gengar-1: connection lost")]}
    result, _, _ = run(cluster, tmp_path)
    assert result.ok
    assert cluster.order("gengar-1").count("wait") == 2


def test_a_wait_that_keeps_failing_is_noted_and_the_run_still_collects(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp(signals=()))
    cluster.wait_errors = {"gengar-1": [ConnectError("gengar-1: lost")] * 3}
    result, _, _ = run(cluster, tmp_path, options=RunOptions(wait_retries=2))
    assert any("gengar-1: waiting failed" in n for n in result.notes)
    assert cluster.order("gengar-1")[-2:] == ["inspect", "logs"]


def test_observe_and_destroy(tmp_path: Path) -> None:
    cluster = FakeCluster(make_exp())
    fake = FakeTransport(handler=cluster.handler)
    seen = observe_containers(fake, ["gengar-1", "gengar-2"], "demo")
    assert [c.name for c in seen["gengar-2"]] == ["peer-1", "peer-3"]
    assert seen["gengar-1"][0].run_digest == cluster.exp.run_digest
    assert destroy_containers(fake, ["gengar-1"], "demo") == {"gengar-1": ["peer-0", "peer-2"]}
    script = fake.calls[-1].stdin.decode()
    assert "label=oar-p2p.experiment=demo" in script


def test_preflight_problems_is_pure_and_names_each_issue() -> None:
    exp = make_exp()
    present = [
        ContainerState(name="peer-0", image="x", address="", labels={}),
        ContainerState(name="peer-2", image="x", address="", labels={"oar-p2p.experiment": "o"}),
        ContainerState(name="peer-0x", image="x", address="", labels={}),
    ]
    report = ImageReport(False, {"a": "present", "b": "pull-failed", "c": "absent"})
    problems = preflight_problems("gengar-1", exp, report, present, "line1\ndenied\n")
    assert problems == [
        "gengar-1: /tmp/oar-p2p-signal is not a writable directory (docker may have created "
        "it as root); remove it or make it writable",
        "gengar-1: docker pull b failed: line1; denied",
        "gengar-1: image c is not on the machine and its pull policy is `never` (allowed: "
        "load the image on the machine, or use pull: missing|always)",
        "gengar-1: a container named peer-0 exists and belongs to no oar-p2p experiment; "
        "remove or rename it (oar-p2p never removes containers it does not own)",
        "gengar-1: a container named peer-2 exists and belongs to experiment o; "
        "remove or rename it (oar-p2p never removes containers it does not own)",
    ]
    assert preflight_problems("gengar-1", exp, ImageReport(True, {}), []) == []


def test_wall_clock_times_come_from_the_clock(tmp_path: Path) -> None:
    result, _, _ = run(FakeCluster(make_exp(signals=())), tmp_path)
    assert result.started_at >= WALL and result.all_started_at is not None
