"""measure_offsets over the real SshTransport (the test sshd of conftest.py, on loopback).

Every alias is this machine, so every true offset is 0: the estimate must be within its
uncertainty of 0, and the uncertainty is what one tiny command over SSH costs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oar_p2p.clocks import check_spread
from oar_p2p.errors import CommandTimeoutError, RemoteCommandError
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


def test_a_line_channel_answers_line_by_line(sshd: Sshd) -> None:
    cfg = SshConfig(sshd.config_text(), path=Path("/test/ssh_config"))
    with SshTransport(config=cfg, frontend="frontend") as t:
        channel = t.open_lines("m1", 'while read -r x; do echo "got $x"; done', timeout=5)
        assert [channel.ask("a"), channel.ask("b c")] == ["got a", "got b c"]
        channel.close()
        assert t.connections_opened == 2  # the frontend, m1 through it: no new connection


def test_a_line_channel_whose_command_ended_says_so(sshd: Sshd) -> None:
    cfg = SshConfig(sshd.config_text(), path=Path("/test/ssh_config"))
    with SshTransport(config=cfg, frontend="frontend") as t:
        channel = t.open_lines("m1", "echo oops >&2; exit 4", timeout=5)
        time.sleep(0.2)  # the command is gone before the question
        with pytest.raises(RemoteCommandError) as err:
            channel.ask("")
        channel.close()
    assert (err.value.host, err.value.status, err.value.stderr) == ("m1", 4, "oops\n")


def test_a_line_channel_that_does_not_answer_times_out(sshd: Sshd) -> None:
    cfg = SshConfig(sshd.config_text(), path=Path("/test/ssh_config"))
    with SshTransport(config=cfg, frontend="frontend") as t:
        channel = t.open_lines("m1", "sleep 5", timeout=0.3)
        with pytest.raises(CommandTimeoutError, match=r"m1: `sleep 5` did not finish within 0.3 s"):
            channel.ask("")
        channel.close()


def test_the_line_channel_beats_one_command_per_sample(sshd: Sshd) -> None:
    """The measurement behind the choice (printed with -s); on 2 busy cores the gap varies,
    but a channel exchange never costs a command's setup."""
    cfg = SshConfig(sshd.config_text(), path=Path("/test/ssh_config"))
    with SshTransport(config=cfg, frontend="frontend") as t:
        t.run("m1", "true")
        by_run = measure_offsets(_RunOnly(t), ["m1"], samples=8)["m1"]
        by_lines = measure_offsets(t, ["m1"], samples=8)["m1"]
    print(f"rtt: run {by_run.rtt_s * 1e3:.3f} ms, line channel {by_lines.rtt_s * 1e3:.3f} ms")
    assert by_lines.rtt_s < by_run.rtt_s


class _RunOnly:
    """The transport without its line channel (the fallback path)."""

    def __init__(self, inner: SshTransport) -> None:
        self.run = inner.run
        self.close = inner.close
