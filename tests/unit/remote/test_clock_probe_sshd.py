"""measure_offsets over the real SshTransport (the test sshd of conftest.py, on loopback).

Every alias is this machine, so every true offset is 0: the estimate must be within its
uncertainty of 0, and the uncertainty is what one tiny command over SSH costs.
"""

from __future__ import annotations

from pathlib import Path

from oar_p2p.clocks import check_spread
from oar_p2p.remote.clock_probe import measure_offsets
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.sshconfig import SshConfig

from .conftest import Sshd


def test_machines_sharing_our_clock_measure_zero_within_the_uncertainty(sshd: Sshd) -> None:
    cfg = SshConfig(sshd.config_text(), path=Path("/test/ssh_config"))
    hosts = ["m1", "m2", "m3"]
    with SshTransport(config=cfg, frontend="frontend", jump=True) as t:
        for host in hosts:  # connect first, as a session has by the time of a run
            t.run(host, "true")
        offsets = measure_offsets(t, hosts, samples=8)
    for host, got in offsets.items():
        print(
            f"{host}: offset {got.offset_s * 1e3:+.3f} ms, rtt {got.rtt_s * 1e3:.3f} ms, "
            f"uncertainty {got.uncertainty_s * 1e3:.3f} ms"
        )
        assert abs(got.offset_s) <= got.uncertainty_s + 1e-6, (host, got)
        assert got.uncertainty_s < 0.025  # far below the 50 ms threshold, even on 2 busy cores
    assert check_spread(offsets, 0.050) is None
