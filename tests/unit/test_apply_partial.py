"""plan_network with machines that could not be reached: left out, named, never silent."""

from __future__ import annotations

import pytest

from oar_p2p.apply import plan_network
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import Network, build_network
from oar_p2p.errors import ClusterError, ConnectError
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.remote.executors import READ_BASH, DockerExecutor, RootExecutor
from oar_p2p.remote.helper import HelperPool
from oar_p2p.session import Session as Cluster
from oar_p2p.spec.values import AddressPolicy
from tests.fakes import Call, FakeTransport

HOSTS = ["gengar-1", "gengar-2", "gengar-3"]
MACHINES = machines_from_names(HOSTS, {})
REFUSED = "testbed-frontend could not open a connection to gengar-3:22"


def _network() -> Network:
    text = "\n".join(" ".join("0" if i == j else "5" for j in range(6)) for i in range(6))
    return build_network(
        AddressPolicy.parse("2"), MACHINES, parse_matrix(text), wrap=False, quantizer=Quantizer(100)
    )


def _cluster(
    unreachable: dict[str, str], fail_read: frozenset[str] = frozenset()
) -> tuple[FakeTransport, Cluster]:
    def reply(call: Call) -> str | BaseException:
        return ConnectError(f"{call.host}: reset by peer") if call.host in fail_read else ""

    transport = FakeTransport(handler=reply)
    return transport, Cluster(
        transport=transport,
        executor=RootExecutor(),
        machines=list(MACHINES),
        unreachable=dict(unreachable),
    )


def test_a_machine_unreachable_at_connect_is_left_out_and_named() -> None:
    transport, cluster = _cluster({"gengar-3": REFUSED})
    named: dict[str, str] = {}
    plan = plan_network(cluster, _network(), unreachable=named)
    assert [mp.hostname for mp in plan.machines] == ["gengar-1", "gengar-2"]
    assert all(mp.has_changes for mp in plan.machines)  # empty machines: everything to add
    assert named == {"gengar-3": REFUSED}
    assert {c.host for c in transport.calls} == {"gengar-1", "gengar-2"}


def test_a_machine_whose_read_fails_joins_the_unreachable_ones() -> None:
    named: dict[str, str] = {}
    plan = plan_network(
        _cluster({"gengar-3": REFUSED}, frozenset({"gengar-1"}))[1], _network(), unreachable=named
    )
    assert [mp.hostname for mp in plan.machines] == ["gengar-2"]
    assert list(named) == ["gengar-1", "gengar-3"]  # in the job's order
    assert "reset by peer" in named["gengar-1"]


def test_without_tolerance_one_unreachable_machine_fails_the_plan() -> None:
    with pytest.raises(ClusterError) as err:
        plan_network(_cluster({"gengar-3": REFUSED})[1], _network())
    assert "failed on 1 of 3 machines" in str(err.value)
    assert f"gengar-3: {REFUSED}" in str(err.value)


def test_when_no_machine_can_be_read_the_plan_fails() -> None:
    named: dict[str, str] = {}
    with pytest.raises(ClusterError) as err:
        plan_network(
            _cluster({"gengar-3": REFUSED}, frozenset({"gengar-1", "gengar-2"}))[1],
            _network(),
            unreachable=named,
        )
    assert "failed on 3 of 3 machines" in str(err.value)


# --- the read runs as the SSH user; privilege only where it is needed --------------------


def _read_cluster(answer) -> tuple[FakeTransport, Cluster]:  # type: ignore[no-untyped-def]
    transport = FakeTransport(handler=answer)
    return transport, Cluster(
        transport=transport,
        executor=DockerExecutor("local/helper:1", build=False),
        machines=list(MACHINES),
    )


def test_the_read_is_one_unprivileged_round_trip_per_machine() -> None:
    transport, cluster = _read_cluster(lambda call: "### oar-p2p:end ###\n")
    plan_network(cluster, _network())
    for host in HOSTS:
        (call,) = [c for c in transport.calls if c.host == host]
        assert call.command == READ_BASH  # no `docker run` around the script
        assert b"NFT=(docker run --rm --privileged --network=host --entrypoint nft" in call.stdin
    assert cluster.reads == dict.fromkeys(HOSTS, 1)


def test_a_machine_that_needs_privilege_to_read_is_read_again_privileged() -> None:
    def answer(call: Call) -> str:
        if call.command == READ_BASH and call.host == "gengar-2":
            return "### oar-p2p:need-privilege ###\n"
        return "### oar-p2p:end ###\n"

    transport, cluster = _read_cluster(answer)
    plan_network(cluster, _network())
    commands = [c.command for c in transport.calls if c.host == "gengar-2"]
    assert commands[0] == READ_BASH and commands[1].startswith("docker run --rm -i --privileged")
    assert cluster.reads["gengar-2"] == 2 and cluster.reads["gengar-1"] == 1


def _pooled(answer) -> tuple[FakeTransport, Cluster]:  # type: ignore[no-untyped-def]
    transport, cluster = _read_cluster(answer)
    assert isinstance(cluster.executor, DockerExecutor)
    cluster.helpers = HelperPool(transport, cluster.executor)
    cluster.helpers.locked = True  # a command that writes (under the job lock)
    return transport, cluster


def test_with_the_helper_pool_the_reads_listing_starts_the_helper_the_write_uses() -> None:
    listed = "### oar-p2p:nft ###\n### oar-p2p:rows ###\n### oar-p2p:end ###\n"
    transport, cluster = _pooled(lambda call: listed)
    plan_network(cluster, _network())
    pool = cluster.helpers
    assert pool is not None
    for host in HOSTS:
        (call,) = [c for c in transport.calls if c.host == host]
        name = pool.started[host]
        assert call.command == READ_BASH
        nft = call.stdin.decode().split("NFT=(", 1)[1].split("\nKEYS=", 1)[0]
        assert f"docker run -d --pull=never --name {name} " in nft  # started by the listing
        assert f"N={name}; J=/tmp/{name}" in nft and "docker exec" not in nft.split("fi")[-1]
    assert pool.starts == dict.fromkeys(HOSTS, 1) and pool.execs == dict.fromkeys(HOSTS, 1)
    # a privileged script after the read (the write) only drops a job in that helper
    cluster.run_privileged("gengar-1", "true\n")
    write = transport.calls[-1].command
    assert f"N={pool.started['gengar-1']};" in write and "docker run" not in write
    assert pool.starts["gengar-1"] == 1 and pool.execs["gengar-1"] == 2
    assert cluster.docker_runs == {}  # no throw-away container besides


def test_a_read_only_command_lists_in_a_throw_away_container() -> None:
    transport, cluster = _pooled(lambda call: "### oar-p2p:nft ###\n### oar-p2p:end ###\n")
    assert cluster.helpers is not None
    cluster.helpers.locked = False  # plan, show: no job lock, nothing would use a helper
    plan_network(cluster, _network())
    for host in HOSTS:
        (call,) = [c for c in transport.calls if c.host == host]
        assert b"NFT=(docker run --rm --privileged" in call.stdin
    assert cluster.helpers.started == {} and cluster.docker_runs == dict.fromkeys(HOSTS, 1)


def test_a_read_whose_record_is_trusted_starts_no_helper() -> None:
    skipped = "### oar-p2p:nft ###\nskipped\n### oar-p2p:rows ###\n### oar-p2p:end ###\n"
    transport, cluster = _pooled(lambda call: skipped)
    plan_network(cluster, _network())
    pool = cluster.helpers
    assert pool is not None and pool.started == {} and pool.starts == {}
    # the first privileged script then starts one, in its own round trip
    cluster.run_privileged("gengar-2", "true\n")
    assert "docker run -d --pull=never" in transport.calls[-1].command
    assert pool.starts == {"gengar-2": 1}


def test_a_failed_nft_listing_fails_the_read_naming_the_machine() -> None:
    denied = "### oar-p2p:nft ###\n### oar-p2p:nft-error ###\nError: permission denied\n"
    _, cluster = _read_cluster(lambda call: denied if call.host == "gengar-1" else "")
    with pytest.raises(ClusterError) as err:
        plan_network(cluster, _network())
    assert "gengar-1: listing the nft table ip oar-p2p failed: Error: permission denied" in str(
        err.value
    )
