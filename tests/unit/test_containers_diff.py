"""Containers in the machine plan: `+ - ~ container:<name>`, detail, masking, no-op reasons."""

from __future__ import annotations

import dataclasses
import json

import pytest

from oar_p2p.containers_diff import desired_container_states, diff_containers
from oar_p2p.desired.containers import Experiment, build_experiment, make_container
from oar_p2p.diff import diff_machine
from oar_p2p.plan import Action, Detail, Plan
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.resources import ContainerId
from oar_p2p.state import ContainerState, MachineState

RES = 100


def _exp(message: str = "hi", secret: str = "s3cret", net: str = "net") -> Experiment:
    cs = [
        make_container(
            name=f"peer-{i}",
            machine=f"gengar-{i % 2 + 1}",
            index=i,
            address=f"10.{16 + i % 2}.0.{i // 2 + 1}",
            image="img:1",
            env={"MESSAGE": message, "API_SECRET": secret, "OPAQUE": secret},
            secret_keys=["OPAQUE"],
        )
        for i in range(4)
    ]
    return build_experiment("demo", cs, [], [c.address for c in cs], net)


def _ran(exp: Experiment, host: str) -> tuple[ContainerState, ...]:
    """What `observe_containers` reads after a completed run of `exp` (docker adds PATH)."""
    return tuple(
        c.model_copy(
            update={"env": {**c.env, "PATH": "/bin"}, "status": "exited", "exit_code": 0}
        ).model_copy(update={"secret_keys": frozenset()})
        for c in desired_container_states(exp)[host]
    )


def _machine(
    want: tuple[ContainerState, ...] | None, have: tuple[ContainerState, ...] | None
) -> tuple[MachineState, MachineState]:
    empty = MachineState.empty("gengar-1", "bond0")
    return dataclasses.replace(empty, containers=want), dataclasses.replace(empty, containers=have)


def test_desired_states_per_machine_with_labels_and_every_host() -> None:
    exp = _exp()
    states = desired_container_states(exp, ["gengar-1", "gengar-2", "gengar-3"])
    assert {h: [c.name for c in cs] for h, cs in states.items()} == {
        "gengar-1": ["peer-0", "peer-2"],
        "gengar-2": ["peer-1", "peer-3"],
        "gengar-3": [],
    }
    c = states["gengar-1"][0]
    assert c.run_digest == exp.run_digest
    assert c.labels == exp.labels(exp.containers[0])
    assert c.config_digest == exp.containers[0].config_digest
    assert c.secret_keys == {"OPAQUE"}


def test_not_managed_means_no_container_change() -> None:
    desired, observed = _machine(None, _ran(_exp(), "gengar-1"))
    assert diff_containers(desired, observed) == []
    plan = diff_machine(desired, observed, RES)
    assert not plan.has_changes
    assert "container" not in plan.noop_reason


def test_absent_containers_are_added_and_counted() -> None:
    exp = _exp()
    desired, observed = _machine(desired_container_states(exp)["gengar-1"], ())
    plan = diff_machine(desired, observed, RES)
    assert [(c.resource, c.action, c.after) for c in plan.changes] == [
        (ContainerId("peer-0"), Action.ADD, "img:1 on 10.16.0.1"),
        (ContainerId("peer-2"), Action.ADD, "img:1 on 10.16.0.2"),
    ]
    assert plan.counts() == (2, 0, 0)
    assert plan.has_changes and not plan.has_network_changes
    lines = list(render_plan(Plan([plan])))
    assert "  + container:peer-0 (img:1 on 10.16.0.1)" in lines
    assert lines[-1] == "Plan: 2 to add, 0 to change, 0 to destroy."


def test_owned_containers_not_in_the_spec_are_removed() -> None:
    old = _ran(_exp(), "gengar-1")
    desired, observed = _machine((), old)
    changes = diff_containers(desired, observed)
    short = _exp().run_digest[:12]
    assert [(str(c.resource), c.action, c.before) for c in changes] == [
        ("container:peer-0", Action.REMOVE, f"run {short}"),
        ("container:peer-2", Action.REMOVE, f"run {short}"),
    ]


def test_same_run_digest_is_a_no_op_with_its_reason() -> None:
    exp = _exp()
    desired, observed = _machine(desired_container_states(exp)["gengar-1"], _ran(exp, "gengar-1"))
    plan = diff_machine(desired, observed, RES)
    assert not plan.has_changes
    assert plan.noop_reason == (
        f"no addresses here and nothing of ours installed, 2 containers of run "
        f"{exp.run_digest[:12]} completed"
    )
    running = tuple(c.model_copy(update={"status": "running"}) for c in observed.containers or ())
    plan = diff_machine(desired, dataclasses.replace(observed, containers=running), RES)
    assert plan.noop_reason.endswith(
        "2 containers of run " + exp.run_digest[:12] + " present (2 not exited)"
    )


def test_rerun_with_a_changed_env_shows_the_field_and_masks_secrets() -> None:
    old, new = _exp(message="a", secret="old-pw-1"), _exp(message="b", secret="new-pw-2")
    desired, observed = _machine(desired_container_states(new)["gengar-1"], _ran(old, "gengar-1"))
    plan = diff_machine(desired, observed, RES)
    c = plan.changes[0]
    assert (c.resource, c.action) == (ContainerId("peer-0"), Action.CHANGE)
    assert (c.before, c.after) == (f"run {old.run_digest[:12]}", f"run {new.run_digest[:12]}")
    assert c.detail == (
        Detail("env.API_SECRET", "***", "***"),  # secret by its name
        Detail("env.MESSAGE", "a", "b"),
        Detail("env.OPAQUE", "***", "***"),  # secret by the spec's secret_env
    )
    assert plan.counts() == (0, 2, 0)
    lines = list(render_plan(Plan([plan])))
    i = lines.index(f"  ~ container:peer-0: run {old.run_digest[:12]} -> run {new.run_digest[:12]}")
    assert lines[i + 1 : i + 4] == [
        '      env.API_SECRET: "***" → "***"',
        '      env.MESSAGE: "a" → "b"',
        '      env.OPAQUE: "***" → "***"',
    ]
    text = "\n".join(lines) + "".join(render_plan_json(Plan([plan])))
    assert "old-pw-1" not in text and "new-pw-2" not in text


def test_rerun_with_the_same_config_says_why() -> None:
    old, new = _exp(net="net-1"), _exp(net="net-2")
    desired, observed = _machine(desired_container_states(new)["gengar-1"], _ran(old, "gengar-1"))
    c = diff_containers(desired, observed)[0]
    assert c.action is Action.CHANGE and c.detail == ()
    assert c.reason.startswith("same config; the run changed")
    doc = json.loads("".join(render_plan_json(Plan([diff_machine(desired, observed, RES)]))))
    change = doc["machines"][0]["changes"][0]
    assert change["reason"].startswith("same config") and "detail" not in change


def test_rerun_with_another_command_names_the_config_digest() -> None:
    exp = _exp()
    want = desired_container_states(exp)["gengar-1"]
    have = tuple(
        c.model_copy(update={"run_digest": "other", "config_digest": "c" * 64})
        for c in _ran(exp, "gengar-1")
    )
    c = diff_containers(*_machine(want, have))[0]
    assert c.detail == (Detail("config_digest", "c" * 12, want[0].config_digest[:12]),)
    assert c.reason == "the command or the docker create options changed"


def test_json_detail_and_the_write_script_ignores_containers() -> None:
    old, new = _exp(message="a"), _exp(message="b")
    desired, observed = _machine(desired_container_states(new)["gengar-1"], _ran(old, "gengar-1"))
    plan = diff_machine(desired, observed, RES)
    doc = json.loads("".join(render_plan_json(Plan([plan]))))
    change = doc["machines"][0]["changes"][0]
    assert change["resource"] == "container:peer-0" and change["action"] == "~"
    assert {"path": "env.MESSAGE", "before": "a", "after": "b"} in change["detail"]
    assert doc["summary"] == {"add": 0, "change": 2, "destroy": 0}
    script = render_write_script(plan)
    assert "docker" not in script and "peer-0" not in script
    assert "ip -b" not in script and "tc -b" not in script and "nft" not in script


@pytest.mark.parametrize("have", [None, ()], ids=["not-read", "none-owned"])
def test_observed_containers_not_read_count_as_absent(
    have: tuple[ContainerState, ...] | None,
) -> None:
    want = desired_container_states(_exp())["gengar-1"]
    assert [c.action for c in diff_containers(*_machine(want, have))] == [Action.ADD, Action.ADD]
