"""Bandwidth per address: the sample, the destination, the iperf3 scripts run by bash
against a fake iperf3, the report parser and the check against the cap."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import build_network
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.verify.bandwidth import (
    GOODPUT_RATIO,
    Iperf3Result,
    bandwidth_check,
    bandwidth_sample,
    best_destination,
    client_script,
    parse_iperf3_output,
    server_script,
    stop_script,
)
from tests.unit.verify.netfix import network

CAPS = Bandwidth(100_000_000, ((frozenset({3}), 10_000_000),))
REPORT = '{"end": {"sum_sent": {"retransmits": 2}, "sum_received": {"bits_per_second": 9.6e6}}}'


def test_every_distinct_cap_is_measured_once_spread_over_the_machines() -> None:
    net = network(bandwidth=CAPS)
    # 10 mbit: address 3 (gengar-2); 100 mbit: an address of the machine not yet used
    assert bandwidth_sample(net) == [(3, 0), (0, 1)]
    assert bandwidth_sample(network()) == []


def test_the_sample_adds_one_address_per_machine_not_yet_measured() -> None:
    net = network(bandwidth=Bandwidth(100_000_000))
    assert [i for i, _ in bandwidth_sample(net, limit=8)] == [0, 1]
    assert [i for i, _ in bandwidth_sample(net, limit=1)] == [0]


def test_the_destination_avoids_loss_and_jitter() -> None:
    loss = parse_matrix("0 5 0 0\n5 0 0 0\n0 0 0 0\n0 0 0 0\n", "loss.txt")
    net = network(loss=loss, bandwidth=CAPS)
    assert best_destination(net, 0) == 3  # 0 -> 1 loses 5 %: the other remote address
    jitter = parse_matrix("0 0 0 1\n0 0 0 0\n0 0 0 0\n1 0 0 0\n", "jitter.txt")
    assert best_destination(network(loss=loss, jitter=jitter), 0) == 2  # local, clean
    assert best_destination(network(loss=0.0, jitter=jitter), 0) == 1
    lossy = parse_matrix("0 5 0 5\n5 0 0 0\n0 0 0 0\n5 0 0 0\n", "loss.txt")
    assert best_destination(network(loss=lossy), 0) == 2  # both remote paths lose 5 %


def test_on_one_machine_the_destination_is_another_local_address() -> None:
    one = build_network(
        AddressPolicy.parse("2"),
        machines_from_names(["gengar-1"], {}),
        parse_matrix("0 1\n1 0\n", "m.txt"),
        wrap=False,
        quantizer=Quantizer(100),
        bandwidth=Bandwidth(50_000_000),
    )
    assert bandwidth_sample(one) == [(0, 1)]


def test_the_check_allows_10_percent_around_the_expected_goodput() -> None:
    net = network(bandwidth=CAPS)
    ok = bandwidth_check(net, 3, 0, Iperf3Result(9.6e6, 2))
    assert ok.ok and ok.cap_bps == 10_000_000 and ok.expected_bps == round(1e7 * GOODPUT_RATIO)
    assert ok.error_pct == pytest.approx(100 * (9.6e6 / (1e7 * 1448 / 1514) - 1), abs=0.01)
    assert not bandwidth_check(net, 3, 0, Iperf3Result(10.6e6, 0)).ok  # policing-like excess
    assert not bandwidth_check(net, 3, 0, Iperf3Result(8.5e6, 0)).ok
    failed = bandwidth_check(net, 3, 0, Iperf3Result(None, None, "unable to connect"))
    assert (failed.ok, failed.error, failed.goodput_bps) == (False, "unable to connect", None)
    assert bandwidth_check(net, 3, 0, None).error == "no iperf3 report"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (REPORT, Iperf3Result(9.6e6, 2)),
        (
            '{"error": "unable to connect to server"}',
            Iperf3Result(None, None, "unable to connect to server"),
        ),
        ("", Iperf3Result(None, None, "no iperf3 JSON report: no output")),
        ("iperf3: garbage", Iperf3Result(None, None, "no iperf3 JSON report: iperf3: garbage")),
        ('{"end": {}}', Iperf3Result(None, None, "iperf3 report without end.sum_received")),
        ("[1]", Iperf3Result(None, None, "no iperf3 JSON report")),
    ],
)
def test_iperf3_reports_are_read(body: str, expected: Iperf3Result) -> None:
    text = f"### oar-p2p:iperf3:10.16.0.1:10.17.0.1 ###\n{body}\n### oar-p2p:pair:x:y ###\n"
    assert parse_iperf3_output(text) == {("10.16.0.1", "10.17.0.1"): expected}


def test_scripts_refuse_what_is_not_an_address_or_a_token() -> None:
    with pytest.raises(ValueError, match="not an IPv4 address"):
        client_script("10.16.0.1", "10.17.0.1; reboot")
    with pytest.raises(ValueError, match="not a stop token"):
        stop_script("../x")


# a fake iperf3: the client fails to connect once (the server is "starting"), then reports;
# the server runs until it is killed
FAKE_IPERF3 = f"""#!/bin/sh
case " $* " in
  *" -s "*) echo "$*" > "$OARP2P_TEST_DIR/server-args"; exec sleep 60 ;;
esac
echo "$*" > "$OARP2P_TEST_DIR/client-args"
if [ ! -e "$OARP2P_TEST_DIR/tried" ]; then
  touch "$OARP2P_TEST_DIR/tried"
  echo '{{"error": "unable to connect to server: Connection refused"}}'; exit 1
fi
echo '{REPORT}'
"""

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _env(tmp_path: Path, fake: str | None) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if fake is not None:
        (bin_dir / "iperf3").write_text(fake)
        (bin_dir / "iperf3").chmod(0o755)
    path = f"{bin_dir}:/usr/bin:/bin" if fake is not None else f"{bin_dir}:/nonexistent"
    return {"PATH": path, "OARP2P_TEST_DIR": str(tmp_path)}


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    bash = shutil.which("bash") or "bash"
    return subprocess.run([bash, "-c", script], env=env, capture_output=True, timeout=30)


@needs_bash
def test_the_client_retries_until_the_server_listens_and_prints_its_report(tmp_path: Path) -> None:
    env = _env(tmp_path, FAKE_IPERF3)
    out = _bash(client_script("10.16.0.1", "10.17.0.1", seconds=3), env)
    assert out.returncode == 0, out.stderr
    assert parse_iperf3_output(out.stdout.decode()) == {
        ("10.16.0.1", "10.17.0.1"): Iperf3Result(9.6e6, 2)
    }
    args = (tmp_path / "client-args").read_text().split()
    assert args == "-c 10.17.0.1 -B 10.16.0.1 -p 45201 -t 3 -O 1 -J".split()


@needs_bash
def test_a_machine_without_iperf3_says_so(tmp_path: Path) -> None:
    env = _env(tmp_path, None)  # PATH without iperf3; the script needs only builtins then
    out = _bash(client_script("10.16.0.1", "10.17.0.1"), env)
    (got,) = parse_iperf3_output(out.stdout.decode()).values()
    assert got.error is not None and "iperf3 is not installed" in got.error


@needs_bash
def test_the_stop_file_ends_the_server_and_is_removed(tmp_path: Path) -> None:
    env = _env(tmp_path, FAKE_IPERF3)
    stop_dir = str(tmp_path / "run")
    server = subprocess.Popen(
        [
            shutil.which("bash") or "bash",
            "-c",
            server_script("10.17.0.1", "t1", seconds=60, stop_dir=stop_dir),
        ],
        env=env,
    )
    for _ in range(100):
        if (tmp_path / "server-args").exists():
            break
        time.sleep(0.05)
    assert (tmp_path / "server-args").read_text().split() == "-s -1 -B 10.17.0.1 -p 45201".split()
    start = time.monotonic()
    assert _bash(stop_script("t1", stop_dir), env).returncode == 0
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - start < 5
    assert os.listdir(stop_dir) == []


@needs_bash
def test_a_stop_after_the_server_ended_leaves_no_file(tmp_path: Path) -> None:
    env = _env(tmp_path, FAKE_IPERF3)
    stop_dir = tmp_path / "run"
    assert _bash(stop_script("t2", str(stop_dir)), env).returncode == 0
    assert os.listdir(stop_dir) == []
