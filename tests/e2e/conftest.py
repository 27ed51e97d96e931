"""The end-to-end tier: one local testbed (3 machines) for the whole session.

`testbed` is the session's `Testbed` (use `.exec`, `.run_in_client`, `.client_env()`),
`testbed_info` its `TestbedInfo`. The kernel is built by scripts/build-uml-kernel.sh when
not cached (minutes, once). A testbed already up at the default state directory (a
developer's `oar-p2p testbed up`) is reused and left running; otherwise the fixture brings
one up and always takes it down at the end of the session, failures included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from oar_p2p.testbed import Testbed, TestbedInfo


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces, tap, user-mode-linux)")
    bed = Testbed()
    info = bed.status()
    if info is not None and len(info.machines) >= 3:
        yield bed
        return
    try:
        bed.up(machines=3)
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="session")
def testbed_info(testbed: Testbed) -> TestbedInfo:
    return testbed.info()
