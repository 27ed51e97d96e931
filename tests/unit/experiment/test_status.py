"""`run_status`: is the run the spec asks for already on the machines?"""

from __future__ import annotations

from oar_p2p.desired.containers import Experiment, build_experiment
from oar_p2p.experiment.status import run_status
from oar_p2p.state import ContainerState

from .test_run import make_exp


def observed(exp: Experiment, **over: dict[str, object]) -> dict[str, list[ContainerState]]:
    out: dict[str, list[ContainerState]] = {}
    for c in exp.containers:
        kw: dict[str, object] = dict(
            name=c.name,
            image=c.image,
            address=c.address,
            run_digest=exp.run_digest,
            status="exited",
            exit_code=0,
            finished_at=f"2026-01-01T00:00:0{c.index}.5Z",
        )
        kw.update(over.get(c.name.replace("-", "_"), {}))
        out.setdefault(c.machine, []).append(ContainerState(**kw))  # type: ignore[arg-type]
    return out


def test_completed_when_every_container_of_this_digest_exited() -> None:
    exp = make_exp()
    status = run_status(exp, observed(exp, peer_1={"exit_code": 3}))
    assert status.state == "completed" and status.up_to_date
    assert status.completed_at == "2026-01-01T00:00:03.5Z"
    assert status.failed == ("peer-1",)
    assert status.reason == (
        f"run {exp.run_digest[:12]} completed at 2026-01-01T00:00:03.5Z (1 containers failed)"
    )


def test_latest_finish_is_compared_as_time_not_text() -> None:
    exp = make_exp()
    got = observed(
        exp,
        peer_0={"finished_at": "2026-01-01T00:00:09.5Z"},
        peer_1={"finished_at": "2026-01-01T00:00:09.123456789Z"},
        peer_2={"finished_at": "2026-01-01T00:00:01Z"},
        peer_3={"finished_at": None},
    )
    assert run_status(exp, got).completed_at == "2026-01-01T00:00:09.5Z"


def test_running_when_some_have_not_exited() -> None:
    exp = make_exp()
    status = run_status(exp, observed(exp, peer_2={"status": "running", "exit_code": None}))
    assert (status.state, status.reason) == ("running", "1 of 4 containers not exited")
    assert not status.up_to_date


def test_stale_when_another_run_digest_or_a_missing_or_extra_container() -> None:
    exp = make_exp()
    other = observed(exp, peer_0={"run_digest": "f" * 64})
    status = run_status(exp, other)
    assert status.state == "stale"
    assert (
        status.reason
        == "3 of 4 containers of this run present; owned containers from other runs (ffffffffffff)"
    )
    missing = observed(exp)
    missing["gengar-1"].pop()
    assert run_status(exp, missing).reason == "3 of 4 containers of this run present"
    extra = observed(exp)
    extra["gengar-3"] = [
        ContainerState(name="old", image="i", address="", run_digest=exp.run_digest)
    ]
    assert run_status(exp, extra).reason.endswith("1 owned containers not in the spec")


def test_absent_and_empty() -> None:
    exp = make_exp()
    assert run_status(exp, {"gengar-1": [], "gengar-2": []}).state == "absent"
    empty = build_experiment("demo", [], [], [], "net")
    assert run_status(empty, {"gengar-1": []}).state == "empty"
    assert run_status(empty, {}).up_to_date
    leftover = {"gengar-1": [ContainerState(name="x", image="i", address="")]}
    assert run_status(empty, leftover).state == "stale"
