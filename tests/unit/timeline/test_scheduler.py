"""The machine-local scheduler, run by this machine's bash: deadlines, status, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from oar_p2p.timeline.report import lateness_summary
from oar_p2p.timeline.scripts import (
    container_ops_script,
    parse_status,
    schedule_text,
    upload_script,
)


def _start(
    d: Path, files: dict[str, str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    subprocess.run(["bash", "-c", upload_script(str(d), files, open_go=False)], check=True)
    return subprocess.Popen(
        ["bash", str(d / "scheduler.sh"), str(d)], start_new_session=True, env=env
    )


def _go(d: Path) -> int:
    t0 = int(time.time() * 1e6)
    (d / "go").write_text(f"{t0}\n")
    return t0


def test_steps_run_at_their_deadlines_in_order_with_their_status(tmp_path: Path) -> None:
    d = tmp_path / "sched"
    offsets = [("00001", 100_000), ("00002", 250_000), ("00003", 400_000)]
    files = {"schedule": schedule_text(offsets)}
    files |= {"00001.sh": "echo one", "00002.sh": "echo oops >&2; exit 3", "00003.sh": "true"}
    proc = _start(d, files)
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "end"
    assert [(s.name, s.rc) for s in lines] == [("00001", 0), ("00002", 3), ("00003", 0)]
    for line, (_, off) in zip(lines, offsets, strict=True):
        late = line.started - (t0 + off) / 1e6
        assert 0 <= late < 0.5, late  # never early; the bound is loose for a busy CI host
    assert (d / "00001.out").read_text() == "one\n"
    assert (d / "00002.err").read_text() == "oops\n"


def test_a_stopped_scheduler_says_so_and_runs_nothing_more(tmp_path: Path) -> None:
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 50_000), ("00002", 30_000_000)])}
    files |= {"00001.sh": "true", "00002.sh": "touch ran"}
    proc = _start(d, files)
    _go(d)
    deadline = time.time() + 10
    while "00001" not in (d / "status").read_text() and time.time() < deadline:
        time.sleep(0.02)
    os.kill(int((d / "pid").read_text()), signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "stopped" and [s.name for s in lines] == ["00001"]
    assert not (tmp_path / "ran").exists()


def test_a_scheduler_stopped_before_t0_ends_when_the_fifo_is_poked(tmp_path: Path) -> None:
    d = tmp_path / "sched"
    proc = _start(d, {"schedule": schedule_text([("00001", 0)]), "00001.sh": "true"})
    deadline = time.time() + 10
    while not (d / "pid").exists() and time.time() < deadline:
        time.sleep(0.02)
    os.kill(int((d / "pid").read_text()), signal.SIGTERM)
    fd = os.open(d / "go", os.O_RDWR)  # what the stop script does: never blocks
    os.write(fd, b"0\n")
    os.close(fd)
    assert proc.wait(timeout=10) == 0
    assert parse_status((d / "status").read_text()) == ([], "stopped")


def test_a_split_step_commits_its_nft_text_at_the_deadline(tmp_path: Path) -> None:
    # a stand-in `nft` records what it read from the FIFO and when it saw the end of it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tc").write_text('#!/bin/bash\necho "$@" >> "$OUT/tc_ran"\n')
    (bin_dir / "tc").chmod(0o755)
    fake = bin_dir / "nft"
    fake.write_text(
        '#!/bin/bash\ncat > "$OUT/committed"\necho ${EPOCHREALTIME/[.,]/} > "$OUT/committed_at"\n'
    )
    fake.chmod(0o755)
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 300_000, "split")])}
    files |= {"00001.pre": "qdisc show\n", "00001.post": ""}
    files["00001.nft"] = "add element ip oar-p2p mark_pairs { 10.0.0.1 . 10.0.0.2 : 7 }\n"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    (line,), state = parse_status((d / "status").read_text())
    assert state == "end" and line.rc == 0
    assert (d / "tc_ran").read_text() == "-b " + str(d / "00001.pre") + "\n"
    assert (d / "committed").read_text() == files["00001.nft"]
    committed = int((d / "committed_at").read_text()) / 1e6
    assert committed >= (t0 + 300_000) / 1e6  # never before the deadline
    assert line.started <= line.applied <= line.ended


def test_container_ops_script_runs_ops_then_signals(tmp_path: Path) -> None:
    text = container_ops_script([("stop", ["a", "b c"]), ("start", [])], ["churn"])
    assert "docker stop -t 10 a 'b c' >/dev/null || rc=1" in text
    assert "docker start" not in text
    assert text.index("docker stop") < text.index("churn")
    assert "exit" not in text  # sourced by the scheduler's shell


def test_lateness_summary_counts_every_part() -> None:
    events = [
        {
            "machines": {
                "a": {"network": {"lateness_ms": 2.0}},
                "b": {"containers": {"lateness_ms": 4.0}},
            }
        },
        {"machines": {"a": {"network": {"lateness_ms": 1.0, "changes": {}}}}},
    ]
    assert lateness_summary(events) == {"count": 3, "median_ms": 2.0, "p99_ms": 4.0, "max_ms": 4.0}
    assert lateness_summary([]) == {"count": 0}
