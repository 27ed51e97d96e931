"""The timeline's run hooks over a fake cluster: a step that failed on one machine and a
machine lost before its scheduler could be read are both reported with machine and time,
while the third machine's record comes home (issue 17, "a failed step")."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError, RemoteCommandError
from oar_p2p.project import build_project_network, load_project, project_machines
from oar_p2p.remote.executors import RootExecutor
from oar_p2p.session import Session
from oar_p2p.workflows.events import NullEvents
from oar_p2p.workflows.experiment import spec_experiment
from oar_p2p.workflows.reconcile import offline_plan
from oar_p2p.workflows.timeline import check_timeline, timeline_hooks
from tests.fakes import Call, FakeTransport, Reply

HOSTS = ["gengar-1", "gengar-2", "gengar-3"]
SPEC = """\
version: 1
name: tl-fail
cluster: {machines: [gengar-1, gengar-2, gengar-3]}
network: {addresses: 1/machine, latency_matrix: latency.txt}
containers: [{name: "p-{index}", image: alpine}]
timeline:
  - {at: 1, name: slower, set: [{from: "0-2", to: "0-2", latency: 9}]}
"""


def _status(rc: int) -> str:
    now = int(time.time() * 1e6)
    return f"00001 {now} {now + 30} {now + 50} {rc}\nend\n"


def test_a_failed_step_and_a_lost_machine_are_named_and_the_others_come_home(
    tmp_path: Path,
) -> None:
    (tmp_path / "latency.txt").write_text("0 1 2\n1 0 3\n2 3 0\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    project = load_project(tmp_path / "spec.yaml")
    machines = project_machines(project, HOSTS)
    network = build_project_network(project, machines)
    plan = offline_plan(project, HOSTS)

    def answer(call: Call) -> Reply:
        text = call.stdin.decode()
        if "kill -TERM" in text and "/run/oar-p2p/timeline" in text:  # the network's stop
            if call.host == "gengar-2":
                raise RemoteCommandError(call.host, "sh", 255, "connection lost")
            return Reply(_status(1 if call.host == "gengar-1" else 0))
        return Reply()

    fake = FakeTransport(handler=answer)
    session = Session(fake, RootExecutor(), machines)
    desired = {m.hostname: network.machine_state(m) for m in machines}
    exp = spec_experiment(project.spec, network, desired)
    assert exp is not None
    hooks = timeline_hooks(session, project, network, exp, plan, keep_last=True)
    assert hooks is not None
    hooks.prepare()
    hooks.go(time.time())
    report = hooks.finish()

    assert [(f["machine"], f["label"], f["exit_code"]) for f in report["failed"]] == [
        ("gengar-1", "slower", 1)
    ]
    assert report["failed"][0]["at"].startswith(time.strftime("%Y-"))
    assert list(report["unreachable"]) == ["gengar-2"]
    assert "connection lost" in report["unreachable"]["gengar-2"]
    slower = report["events"][0]["machines"]
    assert slower["gengar-3"]["network"]["exit_code"] == 0  # its record came home
    assert "gengar-2" not in slower or "lateness_ms" not in slower["gengar-2"]["network"]
    with pytest.raises(ClusterError) as raised:
        check_timeline(hooks, tmp_path, NullEvents())
    message = str(raised.value)
    assert "step 1 (slower) failed on gengar-1 at " in message
    assert "gengar-2: reading the schedulers failed" in message
