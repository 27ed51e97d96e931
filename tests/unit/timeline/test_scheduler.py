"""The machine-local scheduler, run by this machine's bash: deadlines, status, stop."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from oar_p2p.render.commands import TABLE
from oar_p2p.timeline.control import stop_script
from oar_p2p.timeline.ops import API_OPS, api_ops, container_ops_script
from oar_p2p.timeline.report import lateness_summary
from oar_p2p.timeline.scripts import (
    parse_status,
    schedule_text,
    upload_script,
)
from tests.docker_daemon import docker_daemon
from tests.unit.timeline.processes import spawn


def _start(
    d: Path, files: dict[str, str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    subprocess.run(["bash", "-c", upload_script(str(d), files, open_go=False)], check=True)
    return spawn(["bash", str(d / "scheduler.sh"), str(d)], env=env)


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


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_the_stop_script_pokes_a_scheduler_made_by_root_as_an_ordinary_user() -> None:
    # the docker executor: the scheduler and its directory are root's (a helper
    # container), the stop script runs as the SSH user. Its poke must reach `go`, and a
    # poke that cannot must not end the script before it reads the status
    base = Path(tempfile.mkdtemp(prefix="oar-p2p-stop-", dir="/tmp"))
    try:
        base.chmod(0o755)
        d = base / "sched"
        files = {"schedule": schedule_text([("00001", 0)]), "00001.sh": "true"}
        subprocess.run(["bash", "-c", upload_script(str(d), files, open_go=True)], check=True)
        proc = spawn(["bash", str(d / "scheduler.sh"), str(d)])
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s"]
        r = subprocess.run(
            nobody, input=stop_script(str(d), kill=False).encode(), capture_output=True,
            timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        # the poke was read as t0 (0: every deadline passed): the step ran, the schedule ended
        assert proc.wait(timeout=10) == 0
        assert parse_status(r.stdout.decode()) == (parse_status((d / "status").read_text()))
        lines, state = parse_status((d / "status").read_text())
        assert state == "end" and [x.name for x in lines] == ["00001"]
    finally:
        shutil.rmtree(base)


FAKE_NFT = r"""#!/bin/bash
# `nft -f -`: the whole input is one commit; `nft -i`: one commit per line, a line that is
# no command (the scheduler's sentinel) a syntax error echoed, `fail...` an error
stamp() { echo ${EPOCHREALTIME/[.,]/} >> "$OUT/committed_at"; }
if [ "$1" = -f ]; then cat >> "$OUT/committed"; stamp; exit; fi
echo "using dumb terminal settings." >&2
# its niceness and its parent's (the scheduler's): field 19 of /proc/<pid>/stat
for p in $$ $PPID; do read -r -a f < /proc/$p/stat; echo "${f[18]}"; done > "$OUT/nice"
while IFS= read -r line; do
  case $line in
    oarp2p-s*) printf 'Error: syntax error, unexpected newline\n%s\n' "$line" >&2
      [ -n "$NO_UNDERLINE" ] || printf '^^^^\n' >&2;;
    fail*) printf 'Error: Could not process rule\n%s\n' "$line" >&2;;
    die*) printf 'nft: gone\n' >&2; exit 3;;
    "") ;;
    *) printf '%s\n' "$line" >> "$OUT/committed"; stamp;;
  esac
done
"""


def _fake_nft(bin_dir: Path) -> None:
    """A stand-in `nft` recording what it committed and when."""
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nft"
    fake.write_text(FAKE_NFT)
    fake.chmod(0o755)


def test_a_split_step_commits_its_nft_text_at_the_deadline(tmp_path: Path) -> None:
    # the real tc runs the pre and post batches (read-only commands), one process for both
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 300_000, "split"), ("00002", 400_000, "split")])}
    files |= {"00001.pre": "qdisc show dev lo\n", "00001.post": "class show dev lo\n"}
    files["00001.nft"] = "add element ip oar-p2p mark_pairs { 10.0.0.1 . 10.0.0.2 : 7 }\n"
    files |= {"00002.pre": "", "00002.post": "qdisc show dev lo\n"}
    files["00002.nft"] = "delete element ip oar-p2p mark_pairs { 10.0.0.1 . 10.0.0.2 }\n"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "end" and [line.rc for line in lines] == [0, 0]
    warm = f"add table ip {TABLE}\n"
    assert (d / "committed").read_text() == warm + files["00001.nft"] + files["00002.nft"]
    committed = [int(x) / 1e6 for x in (d / "committed_at").read_text().split()][1:]
    for at, line, off in zip(committed, lines, (300_000, 400_000), strict=True):
        assert at >= (t0 + off) / 1e6  # never before the deadline
        assert line.started <= line.applied <= line.ended
    assert (d / "00001.pre.err").read_text() == (d / "00002.post.err").read_text() == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority needs root")
def test_the_long_lived_nft_runs_at_a_lower_priority_than_the_scheduler(tmp_path: Path) -> None:
    """Where machines share a CPU, a scheduler at its deadline is not queued behind the
    nft work of another (the scheduler renices itself to -10, its tc and nft to +10 of it)."""
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 100_000, "split")])}
    files |= {"00001.pre": "", "00001.post": "", "00001.nft": "flush set ip oar-p2p x\n"}
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    _go(d)
    assert proc.wait(timeout=20) == 0
    nft, scheduler = (int(x) for x in (d / "nice").read_text().split())
    assert scheduler < 0 and nft == scheduler + 10


def test_a_failing_tc_command_fails_its_step_and_the_next_step_still_runs(
    tmp_path: Path,
) -> None:
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 100_000, "split"), ("00002", 200_000, "split")])}
    files |= {"00001.pre": "class show dev oarp2p-nosuch0\n", "00001.post": ""}
    files |= {"00002.pre": "qdisc show dev lo\n", "00002.post": ""}
    files["00001.nft"] = files["00002.nft"] = "flush set ip oar-p2p x\n"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    _go(d)
    assert proc.wait(timeout=20) == 0
    lines, _ = parse_status((d / "status").read_text())
    assert [line.rc for line in lines] == [1, 0]
    assert 'Cannot find device "oarp2p-nosuch0"' in (d / "00001.pre.err").read_text()
    # the failed step committed nothing; the next one did
    assert (d / "committed").read_text() == f"add table ip {TABLE}\n" + files["00002.nft"]


def test_a_failing_nft_line_fails_its_step_and_a_long_one_gets_an_nft_of_its_own(
    tmp_path: Path,
) -> None:
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    offsets = [
        ("00001", 100_000, "split"),
        ("00002", 200_000, "split"),
        ("00003", 300_000, "split"),
    ]
    files = {"schedule": schedule_text(offsets)}
    for n in ("00001", "00002", "00003"):
        files |= {f"{n}.pre": "", f"{n}.post": ""}
    files["00001.nft"] = "fail: add element ip oar-p2p nosuch { 1 }\n"
    files["00002.nft"] = "add element ip oar-p2p m { " + "x, " * 30_000 + "}\n"  # 90 KB
    files["00003.nft"] = "delete element ip oar-p2p m { x }\n"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    _go(d)
    assert proc.wait(timeout=20) == 0
    lines, _ = parse_status((d / "status").read_text())
    assert [line.rc for line in lines] == [1, 0, 0]
    assert (d / "00001.err").read_text() == (
        "Error: Could not process rule\nfail: add element ip oar-p2p nosuch { 1 }\n"
    )  # the sentinel's own error is not the step's
    assert (d / "nft.start").read_text() == "using dumb terminal settings.\n"
    warm = f"add table ip {TABLE}\n"  # the commit path run once before the first deadline
    assert (d / "committed").read_text() == warm + files["00002.nft"] + files["00003.nft"]
    assert not (d / "00003.err").read_text()


def test_an_nft_that_ends_fails_its_step_and_the_next_step_starts_another(
    tmp_path: Path,
) -> None:
    # its error FIFO has no other writer: its end is an end of file, never a wait forever
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 100_000, "split"), ("00002", 200_000, "split")])}
    files |= {"00001.pre": "", "00001.post": "", "00002.pre": "", "00002.post": ""}
    files["00001.nft"] = "die: the machine's nft crashes\n"
    files["00002.nft"] = "add element ip oar-p2p m { x }\n"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, env)
    _go(d)
    assert proc.wait(timeout=20) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "end" and [line.rc for line in lines] == [1, 0]
    assert (d / "00001.err").read_text() == "nft: gone\nnft ended (status 3)\n"
    warm = f"add table ip {TABLE}\n"  # each nft started runs the empty commit first
    assert (d / "committed").read_text() == warm + warm + files["00002.nft"]


def test_a_sentinel_error_without_its_last_line_does_not_hold_the_scheduler(
    tmp_path: Path,
) -> None:
    # an nft whose error for the sentinel ends at the echoed line: the read of the line
    # after it gives up (5 s), the step is done, the scheduler ends
    _fake_nft(tmp_path / "bin")
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 100_000, "split")])}
    files |= {"00001.pre": "", "00001.post": "", "00001.nft": "add element ip oar-p2p m { x }\n"}
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(d)}
    proc = _start(d, files, {**env, "NO_UNDERLINE": "1"})
    _go(d)
    assert proc.wait(timeout=30) == 0
    lines, state = parse_status((d / "status").read_text())
    assert state == "end" and [line.rc for line in lines] == [0]
    assert (d / "committed").read_text().endswith(files["00001.nft"])


def _signal_files(d: Path, names: list[str]) -> dict[str, str]:
    (d.parent / "sig").mkdir()
    return {"00001.sig": "".join(f"{d.parent / 'sig' / n}\n" for n in names)}


def test_a_signal_step_renames_its_files_at_the_deadline(tmp_path: Path) -> None:
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 300_000, "signal")])}
    files |= _signal_files(d, ["start", "go"])
    proc = _start(d, files)
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    (line,), _ = parse_status((d / "status").read_text())
    due = (t0 + 300_000) / 1e6
    assert line.rc == 0 and due <= line.started <= line.applied <= line.ended
    for name in ("start", "go"):
        assert (tmp_path / "sig" / name).read_text() == str(int(due))
    assert sorted(p.name for p in (tmp_path / "sig").iterdir()) == ["go", "start"]


def test_a_signal_step_falls_back_to_mv_without_a_working_perl(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "perl").write_text("#!/bin/bash\nexit 2\n")  # a perl that fails
    (bin_dir / "perl").chmod(0o755)
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 200_000, "signal")])}
    files |= _signal_files(d, ["start"])
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = _start(d, files, env)
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    (line,), _ = parse_status((d / "status").read_text())
    assert line.rc == 0 and line.applied >= (t0 + 200_000) / 1e6
    assert (tmp_path / "sig" / "start").read_text() == str(int((t0 + 200_000) / 1e6))
    assert not (tmp_path / "sig" / "start.tmp").exists()


def test_container_ops_script_runs_ops_then_signals(tmp_path: Path) -> None:
    text = container_ops_script([("stop", ["a", "b c"]), ("start", [])], ["churn"])
    assert "docker stop -t 10 a 'b c' >/dev/null || rc=1" in text
    assert "docker start" not in text
    assert text.index("docker stop") < text.index("churn")
    assert "exit" not in text  # sourced by the scheduler's shell


def _ops_files(tmp_path: Path, ops: list[tuple[str, list[str]]]) -> dict[str, str]:
    """One container-operations step (mode `api`) at +0.3 s that fires signal `churn`."""
    sig = tmp_path / "sig"
    sig.mkdir()
    files = {"schedule": schedule_text([("00001", 300_000, "api")]), "api.pl": API_OPS}
    files["00001.api"] = api_ops(ops, []) + f"signal {sig / 'churn'}\n"
    cli = container_ops_script(ops, [])
    files["00001.sh"] = cli + f"printf '%s' \"$EPOCHSECONDS\" > {sig / 'churn'} || rc=1\n"
    return files


def _fake_docker_cli(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (bin_dir / "docker").chmod(0o755)


def test_container_operations_go_to_docker_s_api_at_the_deadline_group_by_group(
    tmp_path: Path,
) -> None:
    def answer(method: str, path: str) -> tuple[int, str]:
        time.sleep(0.1 if path.endswith("stop?t=10") else 0)  # a stop takes its time
        return (404, '{"message":"No such container: gone"}') if "/gone/" in path else (204, "")

    d = tmp_path / "sched"
    files = _ops_files(tmp_path, [("stop", ["a", "b"]), ("start", ["c", "gone"])])
    _fake_docker_cli(tmp_path / "bin", tmp_path / "cli.log")
    with docker_daemon(tmp_path / "docker.sock", answer) as daemon:
        env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}"}
        env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
        proc = _start(d, files, env)
        t0 = _go(d)
        assert proc.wait(timeout=20) == 0
        got = sorted(daemon.requests)
    lines = [line for _, line in got]  # in the order sent; within a group, either order
    assert sorted(lines[:2]) == [
        "POST /containers/a/stop?t=10 HTTP/1.0",
        "POST /containers/b/stop?t=10 HTTP/1.0",
    ]
    assert sorted(lines[2:]) == [
        "POST /containers/c/start HTTP/1.0",
        "POST /containers/gone/start HTTP/1.0",
    ]
    sent = [at for at, _ in got]
    assert sent[0] >= (t0 + 300_000) / 1e6  # never before the deadline
    assert sent[2] >= sent[1] + 0.1  # the starts once both stops were answered
    lines, state = parse_status((d / "status").read_text())
    assert state == "end" and [line.rc for line in lines] == [1]  # one start failed
    assert (d / "00001.err").read_text() == (
        'POST /containers/gone/start: 404 {"message":"No such container: gone"}\n'
    )
    assert (tmp_path / "sig" / "churn").read_text().isdigit()  # the signal after the ops
    assert not (tmp_path / "cli.log").exists()


@pytest.mark.parametrize("where", ["tcp-host", "perl-without-unix-sockets"])
def test_container_operations_fall_back_to_the_cli_where_the_api_cannot_be_used(
    tmp_path: Path, where: str
) -> None:
    d = tmp_path / "sched"
    _fake_docker_cli(tmp_path / "bin", tmp_path / "cli.log")
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:1"}
    if where == "perl-without-unix-sockets":  # a perl whose IO::Socket::UNIX fails to load
        broken = tmp_path / "lib" / "IO" / "Socket"
        broken.mkdir(parents=True)
        (broken / "UNIX.pm").write_text('die "no unix sockets here\\n";\n')
        env |= {
            "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}",
            "PERL5LIB": str(broken.parents[1]),
        }
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    proc = _start(d, _ops_files(tmp_path, [("stop", ["a", "b"])]), env)
    _go(d)
    assert proc.wait(timeout=20) == 0
    lines, _ = parse_status((d / "status").read_text())
    assert [line.rc for line in lines] == [0]
    assert (tmp_path / "cli.log").read_text() == "stop -t 10 a b\n"
    assert (tmp_path / "sig" / "churn").read_text().isdigit()


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


def test_a_signal_step_without_perl_renames_from_a_subshell_started_ahead(
    tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with no perl (nor tc, nft)
    bin_dir.mkdir()
    for tool in ("bash", "mkfifo", "mv", "renice"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 200_000, "signal")])}
    files |= _signal_files(d, ["start"])
    proc = _start(d, files, {"PATH": str(bin_dir)})
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    (line,), _ = parse_status((d / "status").read_text())
    assert line.rc == 0 and line.applied >= (t0 + 200_000) / 1e6
    assert (tmp_path / "sig" / "start").read_text() == str(int((t0 + 200_000) / 1e6))
    assert (d / "00001.err").read_text() == ""


def test_a_renamer_that_records_no_time_leaves_the_schedulers_time(tmp_path: Path) -> None:
    # a perl without Time::HiRes renames and prints nothing: `applied` is when it ended
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "perl").write_text(
        '#!/bin/bash\nshift 2; read -r _\nwhile [ $# -gt 1 ]; do mv -f "$1" "$2"; shift 2; done\n'
    )
    (bin_dir / "perl").chmod(0o755)
    d = tmp_path / "sched"
    files = {"schedule": schedule_text([("00001", 200_000, "signal")])}
    files |= _signal_files(d, ["start"])
    proc = _start(d, files, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    t0 = _go(d)
    assert proc.wait(timeout=20) == 0
    (line,), _ = parse_status((d / "status").read_text())
    assert line.rc == 0 and line.started <= line.applied <= line.ended
    assert line.applied >= (t0 + 200_000) / 1e6
    assert (tmp_path / "sig" / "start").exists() and (d / "00001.out").read_text() == ""


def test_a_stop_that_comes_before_the_scheduler_reads_go_is_not_lost(tmp_path: Path) -> None:
    # the first step's pre batch runs before t0 is read; a slow tc (1.5 s to answer) lets
    # TERM and the stop's poke both arrive then: the poke stays in the FIFO the scheduler
    # holds open, and the scheduler ends "stopped" instead of waiting for t0 forever
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tc").write_text(
        "#!/bin/bash\nwhile read -r line; do case $line in *oarp2p-s*)\n"
        'sleep 1.5; echo "Cannot find device \\"${line##* }\\"" >&2; echo failed >&2;;\n'
        "esac; done\n"
    )
    (bin_dir / "tc").chmod(0o755)
    d = tmp_path / "sched"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    files = {"schedule": schedule_text([("00001", 0, "split")]), "00001.pre": "qdisc show\n"}
    proc = _start(d, files | {"00001.nft": "", "00001.post": ""}, env)
    deadline = time.time() + 10
    while not (d / "pid").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # inside the pre batch
    os.kill(int((d / "pid").read_text()), signal.SIGTERM)
    fd = os.open(d / "go", os.O_RDWR)
    os.write(fd, b"0\n")
    os.close(fd)
    assert proc.wait(timeout=10) == 0
    assert parse_status((d / "status").read_text()) == ([], "stopped")
