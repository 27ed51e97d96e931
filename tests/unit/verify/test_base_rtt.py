"""Measuring base RTTs for compensation: the probe's parsing (a real `ip -j addr`
capture), the ping plan, and the whole measurement over a FakeTransport, whose pings run
the real script through bash against a fake `ping`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError, ConnectError
from oar_p2p.remote.executors import RootExecutor
from oar_p2p.session import Session
from oar_p2p.verify.base_rtt import (
    cluster_address,
    parse_bases,
    parse_probe,
    ping_plan,
    probe_script,
)
from oar_p2p.workflows.compensate import compensated
from tests.fakes import Call, FakeTransport, Reply
from tests.unit.verify.netfix import network

FIXTURES = Path(__file__).parents[2] / "fixtures" / "observed" / "ip"
IPS = {"gengar-1": "172.30.0.1", "gengar-2": "172.30.0.2"}


def _ip_json(ip: str) -> str:
    return json.dumps(
        [
            {
                "ifname": "bond0",
                "addr_info": [
                    {"family": "inet", "local": "10.16.0.1", "prefixlen": 32},
                    {"family": "inet", "local": ip, "prefixlen": 24},
                ],
            }
        ]
    )


def test_the_cluster_address_is_the_first_foreign_ipv4_of_a_real_capture() -> None:
    capture = json.loads((FIXTURES / "foreign_next_to_ours.json").read_text())
    text = f"### oar-p2p:ip-addr ###\n{capture['output']}### oar-p2p:record ###\n"
    assert parse_probe(text, "bond0") == ("192.168.7.2", None)


def test_the_probe_reads_the_recorded_bases() -> None:
    record = '{"version": 1, "state": "applied", "base_rtt_us": {"gengar-2": 251}}'
    text = f"### oar-p2p:ip-addr ###\n{_ip_json('172.30.0.1')}\n### oar-p2p:record ###\n{record}"
    assert parse_probe(text, "bond0") == ("172.30.0.1", {"gengar-2": 251})
    assert parse_probe("### oar-p2p:ip-addr ###\n### oar-p2p:record ###\n", "bond0") == (
        None,
        None,
    )
    assert cluster_address(("10.20.0.1/16",)) == "10.20.0.1"  # not a /32: not ours
    assert "ip -j addr show dev bond0" in probe_script("bond0")


def test_each_unordered_pair_is_pinged_once_and_each_machine_itself() -> None:
    plan = ping_plan({"a": "1.0.0.1", "b": "1.0.0.2", "c": "1.0.0.3"})
    assert sum(len(v) for v in plan.values()) == 6  # 3 self + 3 pairs
    text = (
        "### oar-p2p:pair:1.0.0.1:1.0.0.2 ###\nrtt min/avg/max/mdev = 0.251/0.3/0.4/0.01 ms\n"
        "### oar-p2p:pair:1.0.0.1:1.0.0.1 ###\n1 packets transmitted, 0 received\n"
    )
    got = parse_bases({"a": text}, {"a": "1.0.0.1", "b": "1.0.0.2", "c": "1.0.0.3"})
    assert got == {("a", "b"): 251, ("a", "a"): None, ("a", "c"): None}


# the RTT is 0.04 ms from an address to itself, 0.25 ms to another
FAKE_PING = r"""#!/bin/sh
src=; count=1
while [ $# -gt 1 ]; do
  case "$1" in -I) src=$2; shift ;; -c) count=$2; shift ;; -i|-W) shift ;; esac; shift
done
[ "$count" = 1 ] && exit 0
t=0.250; [ "$src" = "$1" ] && t=0.040
echo "$count packets transmitted, $count received, 0% packet loss"
echo "rtt min/avg/max/mdev = $t/0.3/0.5/0.01 ms"
"""


class Machines:
    def __init__(self, tmp_path: Path, records: dict[str, str]) -> None:
        (tmp_path / "ping").write_text(FAKE_PING)
        (tmp_path / "ping").chmod(0o755)
        self.env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
        self.records = records

    def __call__(self, call: Call) -> Reply:
        script = call.stdin.decode()
        if "ip -j addr show" in script:
            record = self.records.get(call.host, "")
            ip = _ip_json(IPS[call.host])
            return Reply(f"### oar-p2p:ip-addr ###\n{ip}\n### oar-p2p:record ###\n{record}")
        out = subprocess.run(["bash", "-s"], input=call.stdin, env=self.env, capture_output=True)
        return Reply(out.stdout, out.stderr, out.returncode)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_network_is_shaped_with_the_measured_bases(tmp_path: Path) -> None:
    net = network()
    fake = FakeTransport(handler=Machines(tmp_path, {}))
    session = Session(fake, RootExecutor(), list(net.machines))
    shaped, report = compensated(session, net, 0.05)
    assert shaped.base is not None and shaped.base.rtt == {
        ("gengar-1", "gengar-1"): 40,
        ("gengar-1", "gengar-2"): 250,
        ("gengar-2", "gengar-2"): 40,
    }
    assert [r.kept for r in report.rows] == [False] * 3
    assert len(fake.calls) == 4  # two round trips per machine
    assert shaped.link(0, 1).delay_steps == 99  # 10 ms - 0.125 ms, in steps of 0.1 ms


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_recorded_base_within_tolerance_is_kept(tmp_path: Path) -> None:
    records = {"gengar-1": '{"state": "applied", "base_rtt_us": {"gengar-2": 280}}'}
    net = network()
    fake = FakeTransport(handler=Machines(tmp_path, records))
    shaped, report = compensated(Session(fake, RootExecutor(), list(net.machines)), net, 0.05)
    assert shaped.base is not None and shaped.base.rtt_us("gengar-2", "gengar-1") == 280
    kept = {r.machines: r.kept for r in report.rows}
    assert kept[("gengar-1", "gengar-2")] is True
    shaped, _ = compensated(Session(fake, RootExecutor(), list(net.machines)), net, 0.01)
    assert shaped.base is not None and shaped.base.rtt_us("gengar-2", "gengar-1") == 250


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_partial_session_names_a_machine_the_probe_cannot_reach(tmp_path: Path) -> None:
    """The probe is then the command's first round trip on the machines: with the docker
    executor, nothing runs at connect any more (no helper-image check)."""
    net = network()
    machines = Machines(tmp_path, {})

    def answer(call: Call) -> Reply | BaseException:
        return (
            ConnectError("gengar-2: reset by peer") if call.host == "gengar-2" else machines(call)
        )

    session = Session(FakeTransport(handler=answer), RootExecutor(), list(net.machines))
    with pytest.raises(ClusterError, match="probing the machines failed on 1 machine"):
        compensated(session, net, 0.05)  # without `partial`: all or nothing, as before
    session.partial = True
    shaped, _ = compensated(session, net, 0.05)
    assert session.unreachable == {"gengar-2": "gengar-2: reset by peer"}
    assert shaped.base is not None and set(shaped.base.rtt) == {("gengar-1", "gengar-1")}
