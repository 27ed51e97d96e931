"""A real-kernel OAR cluster in a box: `oar-p2p testbed` and the end-to-end test bed.

A user-mode-linux guest holds a frontend (sshd, an `oarstat` stand-in) and machines
gengar-1..N (each: `bond0` on a shared segment, sshd, its own dockerd with the testbed
images), each a network + mount + UTS namespace. The host reaches it from the client
namespace through a tap, by an ssh alias for the frontend and through it as a jump host.

    from oar_p2p.testbed import Testbed
    info = Testbed().up(machines=3)
    Testbed().exec("gengar-1", ["ip", "-br", "addr"])
"""

from __future__ import annotations

from oar_p2p.testbed.bed import DEFAULT_STATE_DIR, Testbed, TestbedInfo

__all__ = ["DEFAULT_STATE_DIR", "Testbed", "TestbedInfo"]
