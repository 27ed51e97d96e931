"""Inventory rules: which hostnames, in which order, with which facts (FakeTransport only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.cluster.inventory import (
    DISCOVERY_SCRIPT,
    FIRST_FREE_INDEX,
    Discovered,
    MachineOverride,
    build_machines,
    list_hostnames,
    parse_discovery,
    resolve_machines,
)
from oar_p2p.cluster.location import Location, Place
from oar_p2p.cluster.machines import Machine, MachineSource, machine_table
from oar_p2p.errors import ClusterError, InputError, OarError
from tests.fakes import FakeTransport, Reply

FIXTURES = Path(__file__).parents[2] / "fixtures" / "oar"
ELSEWHERE = Location(Place.ELSEWHERE, "laptop")
FRONTEND = Location(Place.FRONTEND, "frontend")
PERL = (
    "hash- or arrayref expected (not a simple scalar, use allow_nonref to allow this) "
    "at /usr/lib/oar/oarstat line 285."
)


def output(name: str) -> str:
    text: str = json.loads((FIXTURES / f"{name}.json").read_text())["output"]
    return text


def discovery(cpus: int, dev: str) -> Reply:
    return Reply(
        f"cpus {cpus}\npeer-route 10.0.0.1 dev {dev} src 10.0.0.9 uid 0 \\    cache\n"
        "default-route default via 192.168.1.1 dev eth9\n"
    )


def resolve(transport: FakeTransport | None, **kw: object) -> list[Machine]:
    args: dict[str, object] = dict(
        job_id=None,
        infer=False,
        fixed=None,
        transport=transport,
        frontend="dicluster",
        username=None,
        overrides=None,
        location=ELSEWHERE,
    )
    args.update(kw)
    return resolve_machines(**args)  # type: ignore[arg-type]


def test_job_machines_from_oarstat_on_the_frontend_in_oar_order() -> None:
    fake = FakeTransport({("dicluster", "oarstat -j 36627 -J"): output("job_running")})
    machines = resolve(fake, job_id=36627)
    assert [(m.hostname, m.index, m.cpus, m.interface, m.source) for m in machines] == [
        ("gengar-1", 16, 8, "bond0", MachineSource.TABLE),
        ("gengar-2", 17, 8, "bond0", MachineSource.TABLE),
    ]
    assert fake.commands() == ["oarstat -j 36627 -J"]
    assert fake.calls[0].check is False and fake.calls[0].timeout == 60.0


def test_infer_asks_for_the_users_jobs_then_the_job() -> None:
    fake = FakeTransport(
        {
            "oarstat -u -J": output("user_running_and_waiting"),
            "oarstat -j 4242 -J": output("user_running_and_waiting"),
        }
    )
    hosts = list_hostnames(
        job_id=None,
        infer=True,
        fixed=None,
        transport=fake,
        frontend="dicluster",
        location=ELSEWHERE,
    )
    assert hosts.names == ["gengar-1", "gengar-2", "gengar-3"]
    assert hosts.job_id == 4242
    assert hosts.origin == "job 4242 (inferred: your only Running job, oarstat on dicluster)"
    assert fake.commands("dicluster") == ["oarstat -u -J", "oarstat -j 4242 -J"]


def test_infer_with_no_jobs_perl_text_is_an_error() -> None:
    fake = FakeTransport({"oarstat -u -J": PERL})
    with pytest.raises(OarError, match="cannot infer the job: you have no Running job"):
        resolve(fake, infer=True)


def test_explicit_job_id_wins_over_infer() -> None:
    fake = FakeTransport({"oarstat -j 36627 -J": output("job_running")})
    assert len(resolve(fake, job_id=36627, infer=True)) == 2
    assert fake.commands() == ["oarstat -j 36627 -J"]


def test_on_the_frontend_oarstat_runs_locally() -> None:
    local = FakeTransport({("localhost", "oarstat -j 36627 -J"): output("job_running")})
    remote = FakeTransport()
    hosts = list_hostnames(
        job_id=36627,
        infer=False,
        fixed=None,
        transport=remote,
        frontend=None,
        location=FRONTEND,
        local=local,
    )
    assert hosts.names == ["gengar-1", "gengar-2"]
    assert hosts.origin == "job 36627 (oarstat locally)"
    assert remote.calls == []


def test_on_a_job_machine_the_nodefile_is_used(tmp_path: Path) -> None:
    nodefile = tmp_path / "nodes"
    nodefile.write_text("gengar-3\ngengar-3\ngengar-1\n")
    fake = FakeTransport()
    location = Location(Place.MACHINE, "gengar-3", nodefile)
    machines = resolve(fake, job_id=1, location=location)
    assert [m.hostname for m in machines] == ["gengar-3", "gengar-1"]
    assert fake.calls == []


def test_missing_nodefile_is_reported(tmp_path: Path) -> None:
    location = Location(Place.MACHINE, "gengar-3", tmp_path / "gone")
    with pytest.raises(OarError, match=r"^cannot read OAR_NODEFILE .*/gone: No such file"):
        resolve(FakeTransport(), location=location)


def test_fixed_list_needs_no_oar_and_keeps_order_without_duplicates() -> None:
    machines = resolve(None, fixed=["gengar-2", "gengar-1", "gengar-2"], job_id=5)
    assert [m.hostname for m in machines] == ["gengar-2", "gengar-1"]


def test_no_job_at_all() -> None:
    with pytest.raises(OarError) as err:
        resolve(FakeTransport())
    assert str(err.value) == (
        "no job given: set --job-id / OAR_JOB_ID, or --infer-job-id / OAR_P2P_INFER_JOB_ID, "
        "or list machines with --machine"
    )


def test_elsewhere_without_frontend() -> None:
    with pytest.raises(OarError) as err:
        resolve(FakeTransport(), job_id=1, frontend=None)
    assert str(err.value) == (
        "running on laptop (elsewhere), oarstat must run on the frontend: set "
        "--frontend-hostname / FRONTEND_HOSTNAME to its ssh name"
    )


def test_oarstat_failure_names_command_host_and_stderr() -> None:
    fake = FakeTransport(
        {"oarstat -j 7 -J": Reply(stderr="oarstat: cannot connect to db\n", status=2)}
    )
    with pytest.raises(OarError) as err:
        resolve(fake, job_id=7)
    assert str(err.value) == (
        "`oarstat -j 7 -J` failed on dicluster with exit status 2: oarstat: cannot connect to db"
    )


def test_job_not_running_yet_through_resolve() -> None:
    fake = FakeTransport({"oarstat -j 4243 -J": output("job_waiting")})
    with pytest.raises(OarError, match="job 4243 is not running yet"):
        resolve(fake, job_id=4243)


# --- facts ------------------------------------------------------------------------------


def test_unknown_machines_are_discovered_and_indexed_from_60_in_job_order() -> None:
    fake = FakeTransport()
    fake.on("sh -s", discovery(8, "ens3"), host="new-a")
    fake.on("sh -s", discovery(4, "eth0"), host="new-b")
    machines = resolve(fake, fixed=["new-a", "gengar-1", "new-b"])
    assert [(m.hostname, m.index, m.cpus, m.interface, m.source) for m in machines] == [
        ("new-a", 60, 8, "ens3", MachineSource.DISCOVERED),
        ("gengar-1", 16, 8, "bond0", MachineSource.TABLE),
        ("new-b", 61, 4, "eth0", MachineSource.DISCOVERED),
    ]
    assert sorted(fake.hosts()) == ["new-a", "new-b"]
    assert all(c.stdin == DISCOVERY_SCRIPT.encode() for c in fake.calls)


def test_first_free_index_is_past_the_table() -> None:
    assert FIRST_FREE_INDEX == max(e.index for e in machine_table().values()) + 1


def test_the_rule_skips_indices_taken_by_overrides() -> None:
    overrides = {"x": MachineOverride(index=60, cpus=2, interface="e0")}
    fake = FakeTransport().on("sh -s", discovery(1, "e1"))
    machines = resolve(fake, fixed=["y", "x"], overrides=overrides)
    assert [(m.hostname, m.index, m.source) for m in machines] == [
        ("y", 61, MachineSource.DISCOVERED),
        ("x", 60, MachineSource.SPEC),
    ]


def test_table_machine_without_interface_discovers_only_the_interface() -> None:
    fake = FakeTransport().on("sh -s", discovery(999, "eno1"), host="magikarp-1")
    (m,) = resolve(fake, fixed=["magikarp-1"])
    assert (m.index, m.cpus, m.interface, m.source) == (34, 16, "eno1", MachineSource.DISCOVERED)


def test_full_override_of_an_unknown_machine_needs_no_ssh_and_index_rule_is_default() -> None:
    overrides = {"box": MachineOverride(cpus=3, interface="eth1")}
    (m,) = resolve(None, fixed=["box"], overrides=overrides)
    assert (m.index, m.cpus, m.interface, m.source) == (60, 3, "eth1", MachineSource.DEFAULT)


def test_override_on_a_table_machine_and_by_short_name() -> None:
    overrides = {"gengar-1": MachineOverride(interface="bond1")}
    (m,) = resolve(None, fixed=["gengar-1.cluster.example"], overrides=overrides)
    assert (m.index, m.cpus, m.interface, m.source) == (16, 8, "bond1", MachineSource.SPEC)


def test_duplicate_index_names_both_machines() -> None:
    overrides = {"gengar-2": MachineOverride(index=16)}
    with pytest.raises(InputError) as err:
        resolve(None, fixed=["gengar-1", "gengar-2"], overrides=overrides)
    assert str(err.value) == (
        "machines gengar-1 and gengar-2 both have index 16; give one of them another index "
        "in the spec's cluster overrides"
    )


def test_unknown_machine_offline_asks_for_overrides() -> None:
    with pytest.raises(InputError) as err:
        resolve(None, fixed=["mystery"])
    assert str(err.value) == (
        "mystery: not in the machine table (or no known interface); give index, cpus and "
        "interface in the spec's cluster overrides, or run with cluster access so that they "
        "are discovered"
    )


def test_discovery_failures_are_reported_together() -> None:
    fake = FakeTransport()
    fake.on("sh -s", Reply("cpus 2\n"), host="a")
    fake.on("sh -s", Reply(stderr="boom", status=1), host="b")
    with pytest.raises(ClusterError) as err:
        resolve(fake, fixed=["a", "b"])
    assert str(err.value) == (
        "discovering cpus and interface (or set them in the spec's cluster overrides) failed "
        "on 2 of 2 machines:\n"
        "a: no route to the frontend and no default route\n"
        "b: `sh -s` exited with status 1: boom"
    )


def test_override_model_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="less than or equal to 255"):
        MachineOverride(index=256)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        MachineOverride.model_validate({"cpu": 3})


def test_build_machines_uses_the_discover_callback_only_for_missing_facts() -> None:
    asked: list[list[str]] = []

    def discover(names: list[str]) -> dict[str, Discovered]:
        asked.append(names)
        return {n: Discovered(5, "eth5") for n in names}

    machines = build_machines(["gengar-1", "zz"], {}, discover)
    assert asked == [["zz"]]
    assert machines[1] == Machine(
        hostname="zz", index=60, cpus=5, interface="eth5", source=MachineSource.DISCOVERED
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cpus 64\npeer-route 10.0.0.1 dev bond0 src 10.0.0.2 uid 0\ndefault-route \n",
            Discovered(64, "bond0"),
        ),
        (
            "cpus 1\npeer-route local 127.0.0.1 dev lo table local src 127.0.0.1\n"
            "default-route default via 10.1.1.1 dev eth0 onlink\n",
            Discovered(1, "eth0"),
        ),
        (
            "cpus 2\ndefault-route default via 10.1.1.1 dev enp1s0 proto dhcp\n",
            Discovered(2, "enp1s0"),
        ),
    ],
)
def test_parse_discovery(text: str, expected: Discovered) -> None:
    assert parse_discovery("h", text) == expected


def test_parse_discovery_bad_cpus() -> None:
    with pytest.raises(ClusterError, match=r"^h: `nproc` gave 'x', not a cpu count$"):
        parse_discovery("h", "cpus x\n")
