"""Every script the tool sends to a machine, rendered here and checked with shellcheck.

One case per script variant. Each script is checked with the shell that runs it: the
read, write and ping scripts go to bash (`SPOOLED_BASH`, `bash -s`), the experiment scripts
and the machine discovery to ``sh -s``, and the one-line lock and helper-image commands to
the SSH user's login shell, so they are checked as POSIX ``sh`` (the strictest of the two).

`EXCLUDE` is the codes shellcheck skips everywhere (each with its reason); `KNOWN` is the
findings in files this suite cannot change yet, matched by code and source line, so that
any other finding in the same script still fails. shellcheck is installed by
`scripts/install.sh` (listed in `scripts/apt-packages.txt`); without it these tests fail.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from oar_p2p import lock, verify
from oar_p2p.cluster.inventory import DISCOVERY_SCRIPT
from oar_p2p.desired.containers import Experiment, build_experiment, make_container
from oar_p2p.experiment import scripts
from oar_p2p.observe.docker import inspect_command
from oar_p2p.observe.read_script import read_script
from oar_p2p.record import build_record
from oar_p2p.remote.executors import (
    SPOOL,
    DockerExecutor,
    RootExecutor,
    SudoExecutor,
    helper_image_script,
)
from oar_p2p.remote.helper import remove_command, start_shell, sweep_shell
from oar_p2p.remote.mailbox import RUNNER, client_shell
from oar_p2p.render.commands import render_write_script
from oar_p2p.spec.models import SignalEntry
from oar_p2p.verify import bandwidth as verify_bandwidth
from tests.golden.test_golden import CASES as GOLDEN_CASES
from tests.golden.test_golden import HERE as GOLDEN_DIR
from tests.golden.test_golden import _plan

# Codes shellcheck skips in every script, each with the reason it cannot apply.
EXCLUDE: dict[str, str] = {
    "SC2016": (
        "'expressions don't expand in single quotes': every user value (env, command, "
        "label) is quoted with shlex.quote precisely so that `$(...)`, `$VAR` and "
        "backticks reach docker literally; the script's own code never single-quotes an "
        "expansion it means to run"
    ),
}

# (code, the start of the offending source line) -> why it is tolerated and who fixes it.
KNOWN: dict[tuple[str, str], str] = {
    ("SC2086", "_done "): (
        "render/commands.py `_done <step> $s`: $s only holds the digits `_t` printed, so it "
        'cannot split; quote it ("$s") there and drop this entry (the golden apply.sh change)'
    ),
    ("SC2015", "docker image inspect "): (
        "remote/executors.py helper_image_script `A && echo present || { build; }`: the "
        "build also runs if `echo present` fails (stdout closed); an if/then/else fixes it"
    ),
    ("SC2086", 'if [ -n "$ids" ]; then docker inspect $ids'): (
        "observe/docker.py inspect_command splits the container ids on purpose (64 hex "
        "digits each, no glob characters); a `# shellcheck disable=SC2086` line there says so"
    ),
    ("SC2086", "set -- $SSH_CONNECTION"): (
        "cluster/inventory.py DISCOVERY_SCRIPT splits $SSH_CONNECTION on purpose (four "
        "words, no glob characters); a `# shellcheck disable=SC2086` line there says so"
    ),
}


@dataclass(frozen=True)
class Script:
    shell: str
    render: Callable[[], str]


def _read(refresh: str, unprivileged: bool) -> Script:
    sysctls = ["net.ipv4.neigh.default.gc_thresh1", "net.ipv4.tcp_max_orphans"]
    nft = ("sudo", "-n", "nft") if unprivileged else ("nft",)
    return Script(
        "bash",
        lambda: read_script(
            "bond0",
            sysctls,
            refresh=refresh,
            desired_digest="ab" * 8,
            nft=nft,
            unprivileged=unprivileged,
        ),
    )


def _write(case: str, with_record: bool) -> Script:
    def render() -> str:
        plan, res = _plan(GOLDEN_DIR / case)
        record = None
        if with_record:
            record = build_record(
                digest="ab",
                size=1,
                chains={},
                ips=["10.16.0.1"],
                local=["10.16.0.1"],
                steps=array("H", [0]),
                resolution_us=res,
            )
        return "".join(render_write_script(m, record) for m in plan.machines)

    return Script("bash", render)


def _experiment() -> Experiment:
    nasty = {"Q": 'it\'s "$(rm -rf /)" `id`\nline 2', "EMPTY": ""}
    cs = [
        make_container(
            name=f"peer-{i}",
            machine="m1",
            index=i,
            address=f"10.16.0.{i + 1}",
            image="ghcr.io/x/y:latest",
            env=nasty,
            command=["sh", "-c", "echo $ADDRESS; exit 3"],
        )
        for i in range(3)
    ]
    sig = [SignalEntry(name="start", delay=5), SignalEntry(name="end", delay=60)]
    return build_experiment("demo", cs, sig, [c.address for c in cs], "net")


NAMES = ["peer-0", "peer 1", "it's"]

SCRIPTS: dict[str, Script] = {
    **{
        f"read-{refresh}-{'user' if user else 'privileged'}": _read(refresh, user)
        for refresh in ("auto", "full")
        for user in (True, False)
    },
    **{
        f"write-{case}{'-record' if record else ''}": _write(case, record)
        for case in GOLDEN_CASES
        for record in (False, True)
    },
    "preflight": Script(
        "sh",
        lambda: scripts.preflight_script({"a:1": "never", "b:2": "missing", "c": "always"}),
    ),
    "prepare": Script(
        "sh",
        lambda: scripts.prepare_script(_experiment(), _experiment().containers, parallelism=2),
    ),
    "start": Script("sh", lambda: scripts.start_script(NAMES, parallelism=2)),
    "start-none": Script("sh", lambda: scripts.start_script([])),
    "signal": Script("sh", lambda: scripts.signal_script(["start", "end"], 1_700_000_000)),
    "wait": Script("sh", lambda: scripts.wait_script(NAMES)),
    "stop": Script("sh", lambda: scripts.stop_script(NAMES, 10)),
    "remove": Script("sh", lambda: scripts.remove_script(NAMES)),
    "destroy-experiment": Script("sh", lambda: scripts.destroy_script("demo")),
    "destroy-all": Script("sh", lambda: scripts.destroy_script(None)),
    "logs": Script("sh", lambda: scripts.logs_script(NAMES)),
    "lock-acquire": Script("sh", lambda: lock.acquire_script(lock.holder_text("apply", 1.0))),
    "lock-release": Script("sh", lock.release_script),
    "lock-force-unlock": Script("sh", lock.force_unlock_script),
    "verify-ping": Script(
        "bash",
        lambda: (
            verify.ping_script([("10.16.0.1", "10.16.0.2"), ("10.16.0.1", "10.16.0.3")])
            + verify.base_script(["gengar-2", "gengar-3"])
        ),
    ),
    "verify-ping-none": Script("bash", lambda: verify.ping_script([]) + verify.base_script([])),
    "verify-probes": Script(
        "bash",
        lambda: (
            verify.ping_script([("10.16.0.1", "10.16.0.2")], count=1000, interval=0.005)
            + verify.base_script(["gengar-2", "gengar-3"], count=1000, interval=0.005)
        ),
    ),
    "verify-iperf3-server": Script(
        "bash", lambda: verify_bandwidth.server_script("10.17.0.1", "123-0", seconds=33)
    ),
    "verify-iperf3-client": Script(
        "bash", lambda: verify_bandwidth.client_script("10.16.0.1", "10.17.0.1")
    ),
    "verify-iperf3-stop": Script("bash", lambda: verify_bandwidth.stop_script("123-0")),
    "inspect-experiment": Script("sh", lambda: inspect_command("demo")),
    "inspect-all": Script("sh", lambda: inspect_command(None)),
    "helper-image": Script("sh", lambda: helper_image_script("local/oar-p2p-helper:abc")),
    "spool": Script("bash", lambda: SPOOL + "\n"),
    "executor-root": Script("sh", lambda: RootExecutor().wrap("")[0] + "\n"),
    "executor-sudo": Script("sh", lambda: SudoExecutor().wrap("")[0] + "\n"),
    "executor-docker": Script("sh", lambda: DockerExecutor("local/h:1").wrap("")[0] + "\n"),
    "helper-first-script": Script(
        "bash",
        lambda: (
            start_shell(
                DockerExecutor("local/h:1"),
                "oar-p2p-helper-1",
                owner="a@b pid 1",
                locked=True,
                now=9,
            )
            + client_shell("oar-p2p-helper-1", started=True)
        ),
    ),
    "helper-runner": Script("bash", lambda: RUNNER),
    "helper-script": Script("bash", lambda: client_shell("oar-p2p-helper-1")),
    "helper-listing": Script("bash", lambda: client_shell("oar-p2p-helper-1", args=True)),
    "helper-first-script-given-image": Script(
        "sh",
        lambda: start_shell(
            DockerExecutor("t/h:1", build=False), "h", owner="a", locked=False, now=9
        ),
    ),
    "helper-sweep": Script("sh", lambda: sweep_shell("h", locked=True, now=9) + "\n"),
    "helper-remove": Script(
        "sh", lambda: remove_command("h", sweep_shell("h", locked=False, now=9)) + "\n"
    ),
    "helper-wait": Script("bash", lambda: client_shell("h", waiting=True)),
    "read-nft-docker": Script(
        "bash", lambda: " ".join(shlex.quote(a) for a in DockerExecutor("l/h:1").nft_argv()) + "\n"
    ),
    "read-nft-docker-inner": Script("bash", lambda: DockerExecutor("l/h:1").nft_argv()[2] + "\n"),
    "discovery": Script("sh", lambda: DISCOVERY_SCRIPT),
}


def shellcheck(text: str, shell: str, *, known: bool = False) -> list[dict[str, object]]:
    """shellcheck's findings (its JSON comments) on `text`, known ones left out unless
    `known`."""
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck is not installed: run scripts/install.sh (apt-packages.txt)")
    argv = [exe, f"--shell={shell}", "--format=json", "-"]
    if EXCLUDE:
        argv.insert(2, "--exclude=" + ",".join(sorted(EXCLUDE)))
    proc = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    lines = text.splitlines()
    return [
        c
        for c in json.loads(proc.stdout)
        if known or not _known(f"SC{c['code']}", lines[int(c["line"]) - 1].lstrip())
    ]


def _known(code: str, line: str) -> bool:
    return any(code == k and line.startswith(start) for k, start in KNOWN)


def _report(text: str, findings: list[dict[str, object]]) -> str:
    lines = text.splitlines()
    return "\n".join(
        f"line {c['line']}:{c['column']} SC{c['code']} {c['level']}: {c['message']}\n"
        f"    {lines[int(c['line']) - 1]}"
        for c in findings
    )


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_passes_shellcheck(name: str) -> None:
    script = SCRIPTS[name]
    text = script.render()
    findings = shellcheck(text, script.shell)
    assert not findings, f"shellcheck --shell={script.shell} on {name}:\n" + _report(text, findings)


def test_shellcheck_reports_what_it_finds() -> None:
    findings = shellcheck("x=$1\nrm -rf $x/\nif [ $? != 0 ]; then echo '$x'; fi\n", "bash")
    assert {c["code"] for c in findings} == {2086, 2115, 2181}  # not 2016: excluded


def test_known_findings_are_matched_by_line_not_by_code_alone() -> None:
    findings = shellcheck("s=$1\n_done ip $s\ntrue $s\n", "bash")
    assert [(c["code"], c["line"]) for c in findings] == [(2086, 3)]


def test_every_known_finding_still_occurs() -> None:
    """A KNOWN entry whose finding was fixed must go (it would hide a new one)."""
    seen = set()
    for script in SCRIPTS.values():
        text = script.render()
        lines = text.splitlines()
        for c in shellcheck(text, script.shell, known=True):
            line = lines[int(c["line"]) - 1].lstrip()
            seen |= {(k, s) for k, s in KNOWN if k == f"SC{c['code']}" and line.startswith(s)}
    assert set(KNOWN) - seen == set(), "fixed: remove these KNOWN entries"
