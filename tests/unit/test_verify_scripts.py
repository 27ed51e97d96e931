"""The ping scripts of `verify`, run by bash against a fake `ping`, read back by the parser."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from oar_p2p.verify import base_script, parse_ping_output, ping_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

# iputils' summary for most destinations; silence (and status 1) for 10.16.0.9
FAKE_PING = """#!/bin/sh
for last; do :; done
case "$last" in
  10.16.0.9) echo "1 packets transmitted, 0 received, 100% packet loss"; exit 1 ;;
  gengar-3) echo "round-trip min/avg/max = 0.100/0.200/0.300 ms"; exit 0 ;;
esac
echo "5 packets transmitted, 5 received, 0% packet loss, time 801ms"
echo "rtt min/avg/max/mdev = 50.125/51.000/53.000/0.100 ms"
"""


def _run(script: str, tmp_path: Path) -> str:
    fake = tmp_path / "ping"
    fake.write_text(FAKE_PING)
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-s"], input=script.encode(), env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def test_every_pair_and_base_ping_is_read_back(tmp_path: Path) -> None:
    pairs = [("10.16.0.1", "10.16.0.2"), ("10.16.0.1", "10.16.0.9"), ("10.16.0.3", "10.16.0.4")]
    text = _run(ping_script(pairs, count=5, parallel=2) + base_script(["gengar-3"]), tmp_path)
    assert parse_ping_output(text) == {
        ("10.16.0.1", "10.16.0.2"): (50.125, 51.0),
        ("10.16.0.1", "10.16.0.9"): None,
        ("10.16.0.3", "10.16.0.4"): (50.125, 51.0),
        ("base", "gengar-3"): (0.1, 0.2),
    }


def test_no_pairs_no_targets_print_nothing(tmp_path: Path) -> None:
    assert _run(ping_script([]) + base_script([]), tmp_path) == ""


def test_a_reply_cut_before_its_summary_reads_as_no_reply() -> None:
    text = "### oar-p2p:pair:10.16.0.1:10.16.0.2 ###\n5 packets transmitted, 5 rec"
    assert parse_ping_output(text) == {("10.16.0.1", "10.16.0.2"): None}


@pytest.mark.parametrize(
    "name",
    ["pair:a", "pair:a:b:c", "pair::b", "pair:a:", "ping:a:b", "hostname"],
)
def test_sections_that_are_not_pairs_are_ignored(name: str) -> None:
    text = f"### oar-p2p:{name} ###\nrtt min/avg/max/mdev = 1/2/3/4 ms\n"
    assert parse_ping_output(text) == {}


def test_addresses_that_are_not_ipv4_are_refused() -> None:
    with pytest.raises(ValueError, match="not an IPv4 address pair"):
        ping_script([("10.16.0.1", "10.16.0.2; reboot")])


# records each measuring ping's start and end (the warm-up `-c 1` is not counted)
TIMED_PING = """#!/bin/bash
for last; do :; done
[ "$2" = 1 ] && exit 0
echo "s ${EPOCHREALTIME/[.,]/} $last" >> "$LOG"
sleep 0.3
echo "e ${EPOCHREALTIME/[.,]/} $last" >> "$LOG"
echo "3 packets transmitted, 3 received, 0% packet loss, time 401ms"
echo "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.100 ms"
"""


@pytest.mark.parametrize("parallel", [1, 3])
def test_at_most_parallel_pings_at_once_and_every_pair_reported(
    tmp_path: Path, parallel: int
) -> None:
    fake = tmp_path / "ping"
    fake.write_text(TIMED_PING)
    fake.chmod(0o755)
    log = tmp_path / "log"
    pairs = [("10.16.0.1", f"10.17.0.{i}") for i in range(1, 9)]
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "LOG": str(log)}
    script = ping_script(pairs, count=3, parallel=parallel)
    proc = subprocess.run(["bash", "-s"], input=script.encode(), env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert parse_ping_output(proc.stdout.decode()) == dict.fromkeys(pairs, (1.0, 2.0))
    events = sorted(
        (int(t), kind) for kind, t, _ in (ln.split() for ln in log.read_text().splitlines())
    )
    running = peak = 0
    for _, kind in events:
        running += 1 if kind == "s" else -1
        peak = max(peak, running)
    assert len(events) == 2 * len(pairs)
    assert peak == parallel  # the bound is reached and never passed
