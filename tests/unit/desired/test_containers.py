"""Containers from the spec: rendering, selection, validation, labels and digests."""

from __future__ import annotations

import pytest

from oar_p2p.desired.addressing import Address
from oar_p2p.desired.containers import (
    LABEL_CONFIG,
    LABEL_EXPERIMENT,
    LABEL_RUN,
    SECRET_MASK,
    build_experiment,
    desired_experiment,
    make_container,
    render_containers,
)
from oar_p2p.errors import SpecError
from oar_p2p.spec.models import ContainerGroup, NetworkSpec, SignalEntry, Spec

ADDRS = [
    Address(0, "gengar-1", 0, "10.16.0.1"),
    Address(1, "gengar-2", 0, "10.17.0.1"),
    Address(2, "gengar-1", 1, "10.16.0.2"),
    Address(3, "gengar-2", 1, "10.17.0.2"),
]
PEERS = "10.16.0.1,10.17.0.1,10.16.0.2,10.17.0.2"


def group(**kw: object) -> ContainerGroup:
    base: dict[str, object] = {"name": "peer-{index}", "image": "img:1"}
    base.update(kw)
    return ContainerGroup.model_validate(base)


def experiment(groups: list[ContainerGroup], signals=(), addrs=ADDRS, net="n1"):
    cs = render_containers(groups, addrs)
    return build_experiment("demo", cs, list(signals), [a.ip for a in addrs], net)


def test_one_container_per_address_on_its_machine_with_rendered_templates() -> None:
    env = {
        "ADDRESS": "{address}",
        "MSG": "I am {index} on {machine}",
        "PEERS": "{addresses}",
        "SELF": "{name}",
    }
    cs = render_containers([group(env=env)], ADDRS)
    assert [(c.name, c.machine, c.address, c.index) for c in cs] == [
        ("peer-0", "gengar-1", "10.16.0.1", 0),
        ("peer-1", "gengar-2", "10.17.0.1", 1),
        ("peer-2", "gengar-1", "10.16.0.2", 2),
        ("peer-3", "gengar-2", "10.17.0.2", 3),
    ]
    assert cs[1].env == {
        "ADDRESS": "10.17.0.1",
        "MSG": "I am 1 on gengar-2",
        "PEERS": PEERS,
        "SELF": "peer-1",
    }


@pytest.mark.parametrize(
    ("selection", "indices"),
    [("all", [0, 1, 2, 3]), ([3, 1], [3, 1]), ("0-1,3", [0, 1, 3]), ([2, 2], [2])],
)
def test_address_selection(selection: object, indices: list[int]) -> None:
    cs = render_containers([group(addresses=selection)], ADDRS)
    assert [c.index for c in cs] == indices


@pytest.mark.parametrize("selection", [[1, 4, 9], "2-5"])
def test_out_of_range_index_is_an_error_naming_group_and_indices(selection: object) -> None:
    with pytest.raises(SpecError) as err:
        render_containers([group(), group(name="x-{index}", addresses=selection)], ADDRS)
    msg = str(err.value)
    assert "containers[1] (x-{index})" in msg
    assert "out of range (allowed: 0-3; the network has 4 addresses)" in msg
    assert "4" in msg.split("address index ")[1].split(" out")[0]


def test_duplicate_rendered_names_are_named() -> None:
    with pytest.raises(SpecError, match=r"rendered more than once: peer-2, same \(allowed"):
        experiment([group(name="same", addresses=[0, 1]), group(addresses="2"), group()])


def test_duplicate_signal_names_are_rejected() -> None:
    sig = [SignalEntry(name="start", delay=1), SignalEntry(name="start", delay=2)]
    with pytest.raises(SpecError, match="signal listed twice: start"):
        experiment([group()], sig)


def test_nul_in_env_value_is_rejected() -> None:
    with pytest.raises(SpecError, match="NUL"):
        render_containers([group(env={"A": "x\0y"})], ADDRS)


def test_values_with_shell_syntax_are_kept_verbatim() -> None:
    value = 'it\'s "$(touch /tmp/pwned)" `id`\nline 2'
    (c,) = render_containers([group(addresses=[0], env={"V": value})], ADDRS)
    assert c.env["V"] == value


def test_labels_mark_owner_run_and_config() -> None:
    exp = experiment([group()])
    c = exp.containers[0]
    labels = exp.labels(c)
    assert labels[LABEL_EXPERIMENT] == "demo"
    assert labels[LABEL_RUN] == exp.run_digest
    assert labels[LABEL_CONFIG] == c.config_digest
    assert labels["oar-p2p.address"] == "10.16.0.1"
    assert len(exp.run_digest) == 64 and len(c.config_digest) == 64


def test_machines_and_per_machine_view() -> None:
    exp = experiment([group()])
    assert exp.machines == ("gengar-1", "gengar-2")
    assert [c.name for c in exp.on("gengar-1")] == ["peer-0", "peer-2"]
    assert exp.on("gengar-3") == ()


def test_signals_are_ordered_by_delay() -> None:
    sig = [SignalEntry(name="end", delay=60), SignalEntry(name="start", delay=5)]
    assert [s.name for s in experiment([group()], sig).signals] == ["start", "end"]


def test_run_digest_is_stable_and_independent_of_group_order() -> None:
    a = experiment([group(addresses=[0, 1]), group(name="x-{index}", addresses=[2])])
    b = experiment([group(name="x-{index}", addresses=[2]), group(addresses=[0, 1])])
    assert (
        a.run_digest
        == b.run_digest
        == experiment([group(addresses=[0, 1]), group(name="x-{index}", addresses=[2])]).run_digest
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda: experiment([group(env={"A": "2"})]),
        lambda: experiment([group(image="img:2", env={"A": "1"})]),
        lambda: experiment([group(env={"A": "1"})], [SignalEntry(name="s", delay=1)]),
        lambda: experiment([group(env={"A": "1"})], net="n2"),
        lambda: experiment([group(addresses=[0, 1, 2], env={"A": "1"})]),
        lambda: experiment(
            [group(env={"A": "1"}, addresses=[0, 1, 2, 3])],
            addrs=ADDRS + [Address(4, "gengar-3", 0, "10.18.0.1")],
        ),
    ],
    ids=["env", "image", "signals", "network", "containers", "addresses"],
)
def test_run_digest_changes_with_what_the_run_depends_on(change) -> None:
    base = experiment([group(env={"A": "1"})])
    assert change().run_digest != base.run_digest


def test_pull_policy_does_not_change_the_digests() -> None:
    a = experiment([group(pull="always")])
    b = experiment([group(pull="never")])
    assert a.run_digest == b.run_digest


def test_a_changed_value_changes_only_that_containers_config_digest() -> None:
    a = experiment([group(env={"MSG": "hello"})])
    b = experiment([group(env={"MSG": "hello {index}"})])
    same = [
        x.config_digest == y.config_digest for x, y in zip(a.containers, b.containers, strict=True)
    ]
    assert same == [False, False, False, False]
    c = experiment([group(addresses=[0], env={"A": "1"}), group(name="o-{index}", addresses=[1])])
    d = experiment([group(addresses=[0], env={"A": "2"}), group(name="o-{index}", addresses=[1])])
    assert c.containers[0].config_digest != d.containers[0].config_digest
    assert c.containers[1].config_digest == d.containers[1].config_digest


def test_command_is_part_of_the_config_digest() -> None:
    kw = dict(name="p", machine="m", index=0, address="10.0.0.1", image="i", env={})
    assert (
        make_container(**kw, command=["sh", "-c", "exit 3"]).config_digest
        != make_container(**kw).config_digest
    )


def test_secret_values_are_masked_in_shown_env_but_kept_for_docker() -> None:
    (c,) = render_containers(
        [group(addresses=[0], env={"TOKEN": "s3cret", "A": "1"}, secret_env=["TOKEN"])], ADDRS
    )
    assert c.env["TOKEN"] == "s3cret"
    assert c.shown_env() == {"TOKEN": SECRET_MASK, "A": "1"}


def test_desired_experiment_from_a_spec() -> None:
    spec = Spec(
        name="ping-demo",
        network=NetworkSpec(addresses="4", latency_matrix="m.txt"),
        containers=[group(env={"PEERS": "{addresses}"})],
        signals=[SignalEntry(name="start", delay=5)],
    )
    exp = desired_experiment(spec, ADDRS, "netdigest")
    assert exp.name == "ping-demo"
    assert exp.network_digest == "netdigest"
    assert len(exp.containers) == 4 and exp.containers[0].env["PEERS"] == PEERS
    assert [s.name for s in exp.signals] == ["start"]


def test_no_addresses_selected_from_an_empty_network() -> None:
    with pytest.raises(SpecError, match=r"allowed: none; the network has 0 addresses"):
        render_containers([group(addresses=[0])], [])
    assert render_containers([group()], []) == []
