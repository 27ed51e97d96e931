"""The end-to-end tier: one local testbed (3 machines) for the whole session.

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
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed, TestbedInfo

# Everything the tool (or a test) may leave on a machine: 10.x addresses and the route
# to them on bond0, the root qdisc of bond0, the tool's nft table, its containers, its
# apply record and lock. Foreign state other tests plant is removed by those tests.
_RESET = """
nft delete table ip oar-p2p 2>/dev/null
tc qdisc del dev bond0 root 2>/dev/null
ip route del 10.0.0.0/8 dev bond0 2>/dev/null
for a in $(ip -4 -o addr show dev bond0 | awk '{print $4}' | grep '^10[.]'); do
  ip addr del "$a" dev bond0
done
ids=$(docker ps -aq --filter label=oar-p2p.experiment)
[ -z "$ids" ] || docker rm -f $ids >/dev/null
rm -rf /run/oar-p2p /tmp/oar-p2p.lock
true
"""


def _reusable() -> Testbed | None:
    reuse = os.environ.get("OAR_P2P_E2E_REUSE", "")
    if not reuse:
        return None
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
        return
    bed = Testbed(Path(f"/run/oar-p2p-testbed-e2e-{os.getpid()}"), name=f"e2e{os.getpid()}")
    try:
        bed.up(machines=3)
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="module", autouse=True)
def clean_machines(request: pytest.FixtureRequest) -> None:
    """Each test module starts from machines with none of the tool's state on them.

    Modules then never depend on the order they run in (a module that leaves a network
    applied cannot break the next one's assumptions).
    """
    if os.geteuid() != 0:
        return  # the tests skip themselves
    bed: Testbed = request.getfixturevalue("testbed")
    for host in bed.info().machines:
        r = bed.exec(host, ["sh", "-c", _RESET], timeout=120)
        assert r.returncode == 0, f"reset of {host}: {r.stderr.decode()}"


@pytest.fixture(scope="session")
def testbed_info(testbed: Testbed) -> TestbedInfo:
    return testbed.info()
