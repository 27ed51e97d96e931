"""The end-to-end tier: one local testbed (3 machines) per session (per pytest-xdist
worker: `make e2e` runs two, each with its own testbed, taking whole modules).

`testbed` is the session's `Testbed` (use `.exec`, `.run_in_client`, `.client_env()`,
`.info()`), `testbed_info` its `TestbedInfo`. The kernel is built by
scripts/build-uml-kernel.sh when not cached (minutes, once).

Each session boots a private testbed (its own state directory, namespace, tap and umid),
so that concurrent sessions never share a guest, and always takes it down at the end,
failures included. With OAR_P2P_E2E_REUSE=1, a testbed already up at the default state
directory (`oar-p2p testbed up`) is used instead and left running; with
OAR_P2P_E2E_REUSE=STATE_DIR:NAME, that testbed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed, TestbedInfo

# Everything the tool (or a test) may leave on a machine: 10.x addresses and the route
# to them on bond0, the root qdiscs of bond0 and lo, the cap stage (IFB, clsact), the
# tool's nft table, its containers, its apply record and lock. Foreign state other tests
# plant is removed by those tests.
_RESET = """
nft delete table ip oar-p2p 2>/dev/null
tc qdisc del dev bond0 root 2>/dev/null
tc qdisc del dev lo root 2>/dev/null
tc qdisc del dev bond0 clsact 2>/dev/null
tc qdisc del dev lo clsact 2>/dev/null
ip link del oarp2p-ifb 2>/dev/null
ip route del 10.0.0.0/8 dev bond0 2>/dev/null
ip -4 addr flush dev bond0 to 10.0.0.0/8
ids=$(docker ps -aq --filter label=oar-p2p.experiment)
[ -z "$ids" ] || docker rm -f $ids >/dev/null
rm -rf /run/oar-p2p /tmp/oar-p2p.lock
true
"""

# Someone else's state on every machine, planted once per session and checked after each
# module's tests (issue 9, ownership "in every test"): a qdisc on another interface, an nft
# table, an address outside the tool's ranges on the cluster interface, a container.
# Planted again (fully) before a module only when something of it is missing: a module
# that destroyed it has failed already, the next one starts with all of it again. Planting
# costs a `docker run` and removing a `docker rm` per machine, seconds each in the guest.
_PLANT = """
set -e
ip link add e2e-foreign type dummy && ip link set e2e-foreign up
tc qdisc add dev e2e-foreign root handle 1: htb default 1
nft add table ip e2e-foreign
ip addr add 192.168.77.{n}/24 dev bond0
docker run -d --name e2e-foreign-c oar-p2p/demo:latest sleep 100000 >/dev/null
"""
# prints what is missing, one line each (nothing: all of it is there)
_CHECK = """
tc qdisc show dev e2e-foreign 2>/dev/null | grep -q 'htb 1:' || echo "qdisc htb 1: on e2e-foreign"
nft list table ip e2e-foreign >/dev/null 2>&1 || echo "nft table ip e2e-foreign"
ip -4 -o addr show dev bond0 | grep -q ' 192[.]168[.]77[.]{n}/24 ' || echo "192.168.77.{n}/24"
[ "$(docker inspect -f '{{.State.Running}}' e2e-foreign-c 2>&1)" = true ] ||
  echo "container e2e-foreign-c"
"""
_UNPLANT = """
ip link del e2e-foreign 2>/dev/null; nft delete table ip e2e-foreign 2>/dev/null
ip addr del 192.168.77.{n}/24 dev bond0 2>/dev/null; docker rm -f e2e-foreign-c >/dev/null 2>&1
true
"""
# whether the foreign state was found whole after the last module (this session)
_INTACT = {"whole": False}


def _reusable() -> Testbed | None:
    reuse = os.environ.get("OAR_P2P_E2E_REUSE", "")
    if not reuse:
        return None
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # two workers driving one testbed would reset each other's machines
        raise pytest.UsageError("OAR_P2P_E2E_REUSE needs one worker: run with -n 0 or -n 1")
    # "1": the default testbed; "STATE_DIR:NAME": a private one (e.g. a developer's)
    state, _, name = reuse.partition(":")
    bed = Testbed() if reuse == "1" else Testbed(Path(state), name=name or "testbed")
    info = bed.status()
    return bed if info is not None and len(info.machines) >= 3 else None


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces, tap, user-mode-linux)")
    reused = _reusable()
    if reused is not None:
        yield reused
        _on_all(reused, _UNPLANT)  # it stays up; a private testbed goes down whole
        return
    bed = Testbed(Path(f"/run/oar-p2p-testbed-e2e-{os.getpid()}"), name=f"e2e{os.getpid()}")
    try:
        bed.up(machines=3)
        yield bed
    finally:
        bed.down()


def _on_all(bed: Testbed, script: str) -> dict[str, str]:
    """`script` ({n} = the machine's number) as root on every machine at once -> stdout."""
    hosts = bed.info().machines

    def one(i: int, host: str) -> str:
        r = bed.exec(host, ["sh", "-c", script.replace("{n}", str(i + 1))], timeout=300)
        assert r.returncode == 0, f"{host}: {script.strip()[:60]}...: {r.stderr.decode()}"
        return r.stdout.decode()

    with ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip(hosts, pool.map(one, range(len(hosts)), hosts), strict=True))


@pytest.fixture(scope="module", autouse=True)
def clean_machines_with_foreign_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test module starts from machines with none of the tool's state on them, and
    with foreign state that must still be there, untouched, after the module's tests.

    Modules then never depend on the order they run in (a module that leaves a network
    applied cannot break the next one's assumptions), and every test runs next to state
    the tool does not own.
    """
    if os.geteuid() != 0:
        yield  # the tests skip themselves
        return
    bed: Testbed = request.getfixturevalue("testbed")
    _on_all(bed, _RESET + ("" if _INTACT["whole"] else _UNPLANT + _PLANT))
    yield
    # the tool's state first (nft reads are cheaper without its map), then check
    after = _on_all(bed, _RESET + _CHECK)
    missing = {h: out.strip().split("\n") for h, out in after.items() if out.strip()}
    _INTACT["whole"] = not missing
    assert not missing, f"foreign state destroyed during {request.module.__name__}: {missing}"


@pytest.fixture(scope="session")
def testbed_info(testbed: Testbed) -> TestbedInfo:
    return testbed.info()
