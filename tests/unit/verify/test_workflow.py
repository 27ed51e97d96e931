"""`run_verify` over a FakeTransport: the real ping scripts run by bash against a fake
`ping` that prints every reply, iperf3 flows with their servers always stopped."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import Network
from oar_p2p.remote.executors import RootExecutor
from oar_p2p.session import Session
from oar_p2p.workflows.verify import PROBES, run_verify
from tests.fakes import Call, FakeTransport, Reply
from tests.unit.verify.netfix import network

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

# iputils-like: with -q only the summary (10 ms each way: 20.1 ms); otherwise every reply,
# one probe in $LOSE_EVERY lost, RTTs 20.1 +- 0.1 ms; hostnames (the base) answer in 0.1 ms
FAKE_PING = r"""#!/bin/sh
count=1; quiet=0
while [ $# -gt 1 ]; do
  case "$1" in -c) count=$2; shift ;; -q) quiet=1 ;; -i|-W|-I) shift ;; esac; shift
done
case "$1" in 10.*) t=20.1 ;; *) t=0.1 ;; esac
[ "$count" = 1 ] && exit 0
if [ "$quiet" = 1 ]; then
  echo "$count packets transmitted, $count received, 0% packet loss, time 800ms"
  echo "rtt min/avg/max/mdev = $t/$t/$t/0.000 ms"; exit 0
fi
awk -v n="$count" -v d="$1" -v t="$t" -v lose="${LOSE_EVERY:-0}" 'BEGIN {
  got = 0
  for (k = 1; k <= n; k++) {
    if (lose > 0 && k % lose == 0) continue
    got++; r = t + (k % 2 ? 0.1 : -0.1)
    printf "64 bytes from %s: icmp_seq=%d ttl=64 time=%.3f ms\n", d, k, r
  }
  printf "%d packets transmitted, %d received, time 5000ms\n", n, got
  printf "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/0.1 ms\n", t - 0.1, t, t + 0.1
}'
"""
CAPS = Bandwidth(100_000_000, ((frozenset({3}), 10_000_000),))
_FLOW = re.compile(r"iperf3 -c (\S+) -B (\S+)")


class Machines:
    """The handler behind the FakeTransport: ping scripts through bash, iperf3 canned."""

    def __init__(self, tmp_path: Path, net: Network, lose_every: int, client_fails: bool = False):
        self.net, self.client_fails = net, client_fails
        (tmp_path / "ping").write_text(FAKE_PING)
        (tmp_path / "ping").chmod(0o755)
        self.env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "LOSE_EVERY": str(lose_every)}
        self.log: list[tuple[str, str]] = []

    def __call__(self, call: Call) -> Reply:
        script = call.stdin.decode()
        if "iperf3 -s" in script:
            self.log.append(("server", call.host))
            return Reply("")
        if "touch" in script and ".stop" in script:
            self.log.append(("stop", call.host))
            return Reply("")
        flow = _FLOW.search(script)
        if flow:
            self.log.append(("client", call.host))
            if self.client_fails:
                return Reply("", "ssh: broken pipe", status=255)
            dst, src = flow.groups()
            cap = self.net.cap_bps(self.net.ips.index(src)) or 0
            body = (
                '{"end": {"sum_sent": {"retransmits": 0}, '
                f'"sum_received": {{"bits_per_second": {0.95 * cap}}}}}}}'
            )
            return Reply(f"### oar-p2p:iperf3:{src}:{dst} ###\n{body}\n")
        out = subprocess.run(["bash", "-s"], input=call.stdin, env=self.env, capture_output=True)
        return Reply(out.stdout, out.stderr, out.returncode)


def _session(handler: Machines, net: Network) -> tuple[Session, FakeTransport]:
    fake = FakeTransport(handler=handler)
    return Session(fake, RootExecutor(), list(net.machines)), fake


def test_a_network_with_loss_and_caps_is_measured_and_every_server_stopped(
    tmp_path: Path,
) -> None:
    net = network(loss=1.0, bandwidth=CAPS)  # 1.99 % round trip: 1 in 50 lost is inside
    machines = Machines(tmp_path, net, lose_every=50)
    session, _ = _session(machines, net)
    report = run_verify(session, net, limit=200, count=None, subtract_base=False)
    assert report.ok, report
    assert len(report.pairs) == 6
    for p in report.pairs:
        assert p.loss is not None and (p.loss.sent, p.loss.lost) == (PROBES, 20)
        assert p.jitter is None and p.error_of is None
    assert report.base_sd_ms is None  # no jitter in the network: not reported
    assert report.bandwidth is not None
    assert [(b.src, b.cap_bps, b.ok) for b in report.bandwidth] == [
        ("10.17.0.2", 10_000_000, True),
        ("10.16.0.1", 100_000_000, True),
    ]
    assert machines.log == [
        ("server", "gengar-1"), ("client", "gengar-2"), ("stop", "gengar-1"),
        ("server", "gengar-2"), ("client", "gengar-1"), ("stop", "gengar-2"),
    ]  # fmt: skip


def test_loss_out_of_its_interval_fails_after_one_more_measurement(tmp_path: Path) -> None:
    net = network(loss=1.0)
    machines = Machines(tmp_path, net, lose_every=10)  # 10 % lost
    session, fake = _session(machines, net)
    report = run_verify(session, net, limit=200, count=None, subtract_base=False)
    assert not report.ok and len(report.failed) == 6 and report.bandwidth is None
    assert [p.loss.measured_pct if p.loss else None for p in report.failed] == [10.0] * 6
    assert len(fake.calls) == 4  # two machines, measured twice


def test_a_failed_flow_still_stops_its_server(tmp_path: Path) -> None:
    net = network(bandwidth=CAPS)
    machines = Machines(tmp_path, net, lose_every=0, client_fails=True)
    session, _ = _session(machines, net)
    report = run_verify(session, net, limit=200, count=None, subtract_base=False)
    assert not report.ok and not report.failed  # the pairs pass, the caps do not
    assert report.bandwidth is not None
    assert all(b.error and "broken pipe" in b.error for b in report.bandwidth)
    assert [what for what, _ in machines.log] == ["server", "client", "stop"] * 2


def test_a_latency_only_network_pings_five_times_quietly(tmp_path: Path) -> None:
    net = network()
    machines = Machines(tmp_path, net, lose_every=0)
    session, fake = _session(machines, net)
    report = run_verify(session, net, limit=200, count=None, subtract_base=False)
    assert report.ok and report.bandwidth is None and report.base_sd_ms is None
    assert all(p.loss is None and p.jitter is None for p in report.pairs)
    assert "-q -c 5 -i 0.2" in fake.calls[0].stdin.decode()
