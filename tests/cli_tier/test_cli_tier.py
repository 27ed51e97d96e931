"""The CLI against replayed machines: every verb, its exit code, what it prints, and the
exact scripts it sends (goldens under tests/cli_tier/golden/<case>/).

The machines answer with what the testbed's machines answered to the same scripts
(tests/cli_tier/replay.py, captured by scripts/capture-cli-tier.py). Each test drives the
CLI only through `build_app(Connector(...))`, with its environment set explicitly.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from oar_p2p import __version__
from oar_p2p.cli import build_app
from oar_p2p.cluster.location import Location, Place
from oar_p2p.workflows.connect import Connector
from tests.cli_tier.calls import normalise, what
from tests.cli_tier.golden import check_golden
from tests.cli_tier.replay import CAPTURES, META, ReplayCluster
from tests.fakes import FakeTransport

pytestmark = pytest.mark.timeout(60)

FRONTEND = META["FRONTEND_HOSTNAME"]
HOSTS = ["gengar-1", "gengar-2"]
# 56 network changes (addresses, route, classes, table, 16 pairs) and the 2 containers
PLAN_ADDS = "Plan: 58 to add, 0 to change, 0 to destroy.\n"
NET_SHOW = "gengar-1 10.16.0.1\ngengar-1 10.16.0.2\ngengar-2 10.17.0.1\ngengar-2 10.17.0.2\n"
# the run digest of inputs/spec.yaml on the two machines (the captured containers carry it)
RUN = "c7439414a6b89f99221ab948783cfa9aaf3861dff6580fa8aa550cb587f02902"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The experiment directory (spec, matrix, schedule), the current directory."""
    work = tmp_path / "exp"
    shutil.copytree(CAPTURES / "inputs", work)
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(work)
    return work


def cli(
    cluster: ReplayCluster,
    work: Path,
    *args: str,
    executor: str | None = None,
    stdin: str | None = None,
) -> Result:
    """`oar-p2p ARGS` with the replayed machines, as a user on a laptop with this env."""
    connector = Connector(
        transport=lambda _opts: cluster.fake,
        locate=lambda: Location(Place.ELSEWHERE, "laptop"),
        local=FakeTransport,  # oarstat must go to the frontend, never run here
    )
    env = {
        "OAR_JOB_ID": META["OAR_JOB_ID"],
        "FRONTEND_HOSTNAME": FRONTEND,
        "OAR_P2P_EXECUTOR": executor or META["executor"],
        "HOME": str(work.parent / "home"),
    }
    if executor == "docker":  # the testbed's helper image, loaded on its machines
        env["OAR_P2P_HELPER_IMAGE"] = META["OAR_P2P_HELPER_IMAGE"]
    result = CliRunner().invoke(build_app(connector), list(args), env=env, input=stdin)
    assert "Traceback" not in result.output, result.output
    return result


def kinds(cluster: ReplayCluster, host: str | None = None) -> list[str]:
    """The kinds of the calls received (on one host, or all), in order."""
    return [what(c.command, c.stdin) for c in cluster.fake.calls if host in (None, c.host)]


def unlocked(calls: list[str]) -> list[str]:
    """The calls without the job lock's."""
    return [k for k in calls if k not in ("lock", "unlock")]


def golden(case: str, cluster: ReplayCluster, work: Path) -> None:
    """The scripts sent match the goldens, and the captures answered these very scripts."""
    check_golden(case, cluster.fake.calls, work.parent)
    assert not cluster.stale, (
        f"scripts changed since the capture (answers may no longer fit): {cluster.stale}; "
        "re-run scripts/capture-cli-tier.py"
    )
    cluster.fake.calls.clear()
    cluster.stale.clear()


def applied(bytes_: str = r"\d+") -> str:
    """The line `apply` prints per machine written (time and kernel time from the answers)."""
    return rf"(gengar-1|gengar-2): applied in \d+\.\d\d s \(kernel \d+\.\d\d s, {bytes_} bytes\)\n"


def expect(result: Result, code: int) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result.stdout


# --- plan -------------------------------------------------------------------------------


def test_plan_against_empty_machines_has_changes(work: Path) -> None:
    cluster = ReplayCluster(step="empty", network="empty")
    out = expect(cli(cluster, work, "plan", "spec.yaml", "--detailed-exitcode"), 2)
    assert out.startswith("gengar-1 (bond0, 2 addresses):\n")
    assert "  + address:10.16.0.1 (10.16.0.1/32)\n" in out
    assert "  + tc:bond0:class:101 (1:101 htb + netem 25.6 ms, mark 257)\n" in out
    assert "      + 10.17.0.2 -> 10.16.0.1  83.5 ms\n" in out
    assert out.endswith(
        PLAN_ADDS
        + "Experiment cli-tier: run needed (no container of this experiment on the machines).\n"
    )
    assert kinds(cluster, FRONTEND) == ["oarstat"]
    for host in HOSTS:  # one read, one look at the containers; nothing written, no lock
        assert kinds(cluster, host) == ["read", "containers"]
    golden("plan-empty", cluster, work)


def test_plan_against_applied_machines_has_none(work: Path) -> None:
    cluster = ReplayCluster(step="applied", network="applied", containers=("applied", "cli-tier"))
    out = expect(cli(cluster, work, "plan", "spec.yaml", "--detailed-exitcode"), 0)
    assert out.count("  No changes: 2 addresses and the route present, 6 latency classes") == 2
    assert "No changes. The machines match the spec.\n" in out
    assert "Experiment cli-tier: no changes (run " in out
    assert "+" not in out and "run needed" not in out
    golden("plan-applied", cluster, work)


def test_plan_through_the_docker_executor_starts_no_helper(work: Path) -> None:
    cluster = ReplayCluster(
        step="plan-docker", network="applied", containers=("applied", "cli-tier")
    )
    result = cli(cluster, work, "plan", "spec.yaml", "--detailed-exitcode", executor="docker")
    out = expect(result, 0)
    assert "No changes. The machines match the spec.\n" in out
    for host in HOSTS:  # no image check at connect: the read's nft listing is the one
        assert kinds(cluster, host) == ["read", "containers"]  # privileged step (docker run)
    golden("plan-docker", cluster, work)


# --- apply ------------------------------------------------------------------------------


def test_apply_writes_once_then_a_second_apply_writes_nothing(work: Path) -> None:
    cluster = ReplayCluster(step="apply", network="empty")
    out = expect(cli(cluster, work, "apply", "spec.yaml", "--output-dir", "runs"), 0)
    assert PLAN_ADDS in out
    for host in HOSTS:
        assert f"{host}: applied in " in out
        assert kinds(cluster, host).count("write") == 1
        assert kinds(cluster, host).count("read") == 1
    assert "Apply complete: 2 machine(s) changed.\n" in out
    assert "Experiment cli-tier: run needed (no container of this experiment" in out
    assert normalise(out).endswith(
        "Running experiment cli-tier: 2 containers, logs in runs/RUN\n"
        "Run finished: 2 of 2 containers exited 0; manifest runs/RUN/manifest.json\n"
    )
    # the lock around it all, on the job's first machine
    assert kinds(cluster, "gengar-1")[0] == "lock" and kinds(cluster, "gengar-1")[-1] == "unlock"
    assert "lock" not in kinds(cluster, "gengar-2")
    # the run's logs and manifest, brought home from the captured machines' answers
    run_dir = (work / "runs/latest").resolve()
    assert (run_dir / "peer-0.stdout").read_text() == "I am container 0 on gengar-1\nstarted\n"
    assert (run_dir / "peer-1.stdout").read_text() == "I am container 1 on gengar-2\nstarted\n"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert sorted((c["name"], c["exit_code"]) for c in manifest["containers"]) == [
        ("peer-0", 0),
        ("peer-1", 0),
    ]
    check_provenance(work, run_dir, manifest)
    golden("apply", cluster, work)

    cluster.step = "apply-again"
    again = expect(cli(cluster, work, "apply", "spec.yaml", "--output-dir", "runs"), 0)
    assert "No changes. The machines match the spec.\n" in again
    assert "Experiment cli-tier: no changes (run " in again
    assert "Running experiment" not in again
    assert "write" not in kinds(cluster) and "prepare" not in kinds(cluster)
    assert len([p for p in (work / "runs").iterdir() if not p.is_symlink()]) == 1
    golden("apply-again", cluster, work)

    # `show` names that run: the local run directory, and the machines' containers of it
    out = expect(cli(cluster, work, "show", "spec.yaml"), 0)
    assert re.search(
        rf"\nExperiment cli-tier \(spec run {RUN[:12]}\): completed on the machines .*\n"
        rf"Last run: runs/{run_dir.name}: ok \(2 of 2 containers exited 0\), finished "
        rf"\S+, run {RUN[:12]} \(the spec's\), no git commit\.\n$",
        out,
    ), out
    doc = json.loads(expect(cli(cluster, work, "show", "spec.yaml", "--json"), 0))
    last = doc["experiment"]["last_run"]
    assert (last["id"], last["status"], last["matches_spec"]) == (run_dir.name, "ok", True)
    assert (last["commit"], last["manifest_version"]) == (None, 2)


def check_provenance(work: Path, run_dir: Path, manifest: dict[str, Any]) -> None:
    """What the run came from: tool, spec (copied), matrix, settings and their sources, git."""
    assert manifest["version"] == 2 and manifest["tool_version"] == __version__
    spec = (work / "spec.yaml").read_bytes()
    assert (run_dir / "spec.yaml").read_bytes() == spec
    inputs = manifest["inputs"]
    assert inputs["spec"]["sha256"] == hashlib.sha256(spec).hexdigest()
    assert inputs["spec"]["copy"] == "spec.yaml"
    matrix = (work / "latency.txt").read_bytes()
    assert inputs["latency_matrix"]["sha256"] == hashlib.sha256(matrix).hexdigest()
    assert inputs["latency_matrix"]["path"] == str((work / "latency.txt").resolve())
    settings = manifest["settings"]
    assert settings["job"] == {"value": int(META["OAR_JOB_ID"]), "source": "env OAR_JOB_ID"}
    assert settings["executor"] == {"value": "sudo", "source": "env OAR_P2P_EXECUTOR"}
    assert settings["host_key_policy"] == {"value": "strict", "source": "default"}
    # the test's directory is in no repository
    assert manifest["git"]["commit"] is None
    assert manifest["git"]["reason"].startswith("not in a git repository")
    assert manifest["spec"] == str((work / "spec.yaml").resolve())  # version 1's keys stay


def test_apply_is_refused_while_another_command_holds_the_lock(work: Path) -> None:
    cluster = ReplayCluster(step="locked", network="empty")
    result = cli(cluster, work, "apply", "spec.yaml", "--output-dir", "runs")
    assert expect(result, 1) == ""
    assert re.fullmatch(
        r"\.\.\. listing the job's machines\n"
        r"error: another oar-p2p command holds the job's lock on gengar-1: bob@laptop pid 4242 "
        r"\(apply\), taken \d+ s ago; wait for it, or if that process is gone, run "
        r"`oar-p2p force-unlock` with the same job settings\n",
        result.stderr,
    ), result.stderr
    # nothing read, nothing written, and the other command's lock left alone
    assert kinds(cluster) == ["oarstat", "lock"]
    golden("locked", cluster, work)


# --- destroy ----------------------------------------------------------------------------


def test_destroy_removes_containers_and_network(work: Path) -> None:
    cluster = ReplayCluster(step="destroy", network="applied", containers=("applied", "cli-tier"))
    out = expect(cli(cluster, work, "destroy", "spec.yaml"), 0)
    # the plan first (the containers' removal in it), then the removal, then the network
    assert out.startswith("gengar-1 (bond0, 0 addresses):\n")
    assert "  - address:10.16.0.1 (10.16.0.1/32)\n" in out
    assert "  - nft:table (table ip oar-p2p)\n" in out
    assert re.search(r"\n  - container:peer-0 \(run [0-9a-f]{12}\)\n", out), out
    tail = (
        r"\nPlan: 0 to add, 0 to change, 30 to destroy\.\nremoved 2 owned container\(s\)\n"
        + applied("697") * 2
    )
    assert re.search(tail + r"Destroy complete\.\n$", out), out
    for host in HOSTS:
        assert unlocked(kinds(cluster, host)) == [
            "containers",
            "read",
            "destroy-containers",
            "write",
        ]
    assert kinds(cluster, "gengar-1")[0] == "lock" and kinds(cluster, "gengar-1")[-1] == "unlock"
    golden("destroy", cluster, work)

    # afterwards the machines hold nothing of ours: a plan has everything to add again
    cluster.step = "destroyed"
    again = expect(cli(cluster, work, "plan", "spec.yaml", "--detailed-exitcode"), 2)
    assert PLAN_ADDS in again


def test_plan_destroy_previews_what_destroy_removes_and_writes_nothing(work: Path) -> None:
    cluster = ReplayCluster(step="destroy", network="applied", containers=("applied", "cli-tier"))
    out = expect(cli(cluster, work, "plan", "--destroy", "spec.yaml", "--detailed-exitcode"), 2)
    # the plan destroy prints first (same lines, same summary), and nothing after it
    assert out.startswith("gengar-1 (bond0, 0 addresses):\n")
    assert "  - address:10.16.0.1 (10.16.0.1/32)\n" in out
    assert "  - nft:table (table ip oar-p2p)\n" in out
    assert re.search(r"\n  - container:peer-0 \(run [0-9a-f]{12}\)\n", out), out
    assert out.endswith("\nPlan: 0 to add, 0 to change, 30 to destroy.\n")
    for host in HOSTS:  # the reads destroy makes, no lock, no removal, no write
        assert kinds(cluster, host) == ["containers", "read"]
    golden("plan-destroy", cluster, work)
    assert all(m.network == "applied" and m.containers for m in cluster.machines.values())

    doc = json.loads(expect(cli(cluster, work, "plan", "--destroy", "--json", "spec.yaml"), 0))
    assert doc["destroy"] is True and doc["summary"] == {"add": 0, "change": 0, "destroy": 30}
    assert "against" not in doc
    removed = [c["resource"] for m in doc["machines"] for c in m["changes"] if c["action"] == "-"]
    assert "container:peer-0" in removed and "container:peer-1" in removed


def test_plan_destroy_on_machines_holding_nothing_of_ours(work: Path) -> None:
    cluster = ReplayCluster(step="destroyed", network="destroyed")
    out = expect(cli(cluster, work, "plan", "--destroy", "spec.yaml", "--detailed-exitcode"), 0)
    assert out.endswith("No changes. Nothing the tool owns is on the machines.\n")
    assert "\n  -" not in out


# --- show -------------------------------------------------------------------------------


def test_show_and_show_json(work: Path) -> None:
    cluster = ReplayCluster(step="applied", network="applied", containers=("applied", "cli-tier"))
    out = expect(cli(cluster, work, "show", "spec.yaml"), 0)
    # each machine's classes: the delays of its addresses' rows (gengar-1: rows 0 and 2);
    # its container of the experiment, with its address, state and run
    for host, net, classes, peer in (
        ("gengar-1", "10.16", 78.6, "peer-0"),
        ("gengar-2", "10.17", 66.7, "peer-1"),
    ):
        block = (
            f"{host} (bond0): 2 addresses, route present, 6 latency classes, "
            f"pair map 8 elements, 1 containers\n  {net}.0.1\n  {net}.0.2\n"
            f"  latency classes (ms): 0, 2.5, 25.6, 63.2, {classes}, 83.5\n"
            f"  container {peer} ({net}.0.1): exited (0), run {RUN[:12]}\n"
        )
        assert block in out, out
    # the spec's run digest is the one the machines' containers carry; no local run yet
    assert out.endswith(
        f"Experiment cli-tier (spec run {RUN[:12]}): completed on the machines "
        f"(run {RUN[:12]} completed at 2026-12-08T04:24:38.199492244Z).\n"
        "Last run: none in runs.\n"
    ), out
    assert kinds(cluster, FRONTEND) == ["oarstat"]
    for host in HOSTS:  # one read and one look at the experiment's containers, as `plan`
        assert kinds(cluster, host) == ["read", "containers"]
    golden("show", cluster, work)

    doc = json.loads(expect(cli(cluster, work, "show", "spec.yaml", "--json"), 0))
    golden("show-json", cluster, work)
    machines = {m["hostname"]: m for m in doc["machines"]}
    assert sorted(machines) == HOSTS
    assert machines["gengar-1"]["addresses"] == ["10.16.0.1", "10.16.0.2"]
    assert machines["gengar-2"]["addresses"] == ["10.17.0.1", "10.17.0.2"]
    assert all(m["route"] and m["pairs"]["size"] == 8 for m in machines.values())
    peer = machines["gengar-2"]["containers"][0]
    assert (peer["name"], peer["address"], peer["status"]) == ("peer-1", "10.17.0.1", "exited")
    assert "env" not in peer  # never the env (secret values)
    experiment = doc["experiment"]
    assert experiment["name"] == "cli-tier" and experiment["run_digest"] == RUN
    assert experiment["machines"]["state"] == "completed"
    assert experiment["machines"]["run_digests"] == [RUN]
    assert experiment["last_run"] is None and experiment["runs_dir"] == "runs"


# --- net up, net show, net down -----------------------------------------------------------


def test_net_up_then_again(work: Path) -> None:
    # captured after `destroy`: the sysctls an apply set are still there (not ours to undo)
    cluster = ReplayCluster(step="net-up", network="destroyed")
    net_up = ("net", "up", "--addresses", "4", "--latency-matrix", "latency.txt")
    out = expect(cli(cluster, work, *net_up), 0)
    assert re.fullmatch(applied() * 2, out), out
    assert [line.split(":")[0] for line in out.splitlines()] == HOSTS
    for host in HOSTS:
        assert kinds(cluster, host).count("write") == 1
    golden("net-up", cluster, work)

    out = expect(cli(cluster, work, *net_up), 0)
    assert out == "No changes. The network is already up.\n"
    assert "write" not in kinds(cluster)
    golden("net-up-again", cluster, work)


def test_net_show(work: Path) -> None:
    cluster = ReplayCluster(step="net-applied", network="net-applied")
    assert expect(cli(cluster, work, "net", "show"), 0) == NET_SHOW
    assert "lock" not in kinds(cluster) and "write" not in kinds(cluster)
    golden("net-show", cluster, work)


def test_net_down_then_show_is_empty(work: Path) -> None:
    cluster = ReplayCluster(step="net-down", network="net-applied")
    out = expect(cli(cluster, work, "net", "down"), 0)
    assert re.fullmatch(applied("697") * 2, out), out
    assert [line.split(":")[0] for line in out.splitlines()] == HOSTS
    for host in HOSTS:
        assert kinds(cluster, host).count("write") == 1
    golden("net-down", cluster, work)

    assert expect(cli(cluster, work, "net", "show"), 0) == ""


# --- run --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_run_a_json_schedule(work: Path, source: str) -> None:
    """The same scripts (one golden) whether the schedule is a file or on stdin."""
    cluster = ReplayCluster(step="run", network="net-applied")
    args = ["run", "--signal", "start:1", "--output-dir", "logs"]
    if source == "file":
        result = cli(cluster, work, *args, "schedule.json")
    else:
        result = cli(cluster, work, *args, stdin=(work / "schedule.json").read_text())
    out = expect(result, 0)
    assert out == (
        "Running 2 containers, logs in logs\n"
        "Run finished: 2 of 2 containers exited 0; manifest logs/manifest.json\n"
    )
    for host in HOSTS:  # no read, no write: `run` only runs containers
        run_phases = [
            *["clock", "preflight", "prepare", "start"],
            *["wait", "signal", "containers", "logs"],
        ]
        assert unlocked(kinds(cluster, host)) == run_phases
    logs = work / "logs"
    assert (logs / "10.16.0.1.stdout").read_text() == "hello from 10.16.0.1\nstarted\n"
    assert (logs / "10.17.0.1.stdout").read_text() == "hello from 10.17.0.1\nstarted\n"
    manifest = json.loads((logs / "manifest.json").read_text())
    assert [s["name"] for s in manifest["signals"]] == ["start"]
    # the schedule as read, copied beside the manifest, with its digest and origin
    schedule = (work / "schedule.json").read_bytes()
    assert (logs / "schedule.json").read_bytes() == schedule
    recorded = manifest["inputs"]["schedule"]
    assert recorded["sha256"] == hashlib.sha256(schedule).hexdigest()
    assert recorded["copy"] == "schedule.json"
    origin = str((work / "schedule.json").resolve()) if source == "file" else "<stdin>"
    assert recorded["path"] == origin
    assert manifest["settings"]["job"]["source"] == "env OAR_JOB_ID"
    assert manifest["version"] == 2 and manifest["git"]["commit"] is None
    golden("run", cluster, work)


# --- clean ------------------------------------------------------------------------------


def test_clean_then_again(work: Path) -> None:
    cluster = ReplayCluster(step="clean", network="net-applied", containers=("run", "oar-p2p"))
    out = expect(cli(cluster, work, "clean"), 0)
    # the network removal is the same 649-byte script on both machines (no record to write)
    assert re.fullmatch(r"removed 2 owned container\(s\)\n" + applied("697") * 2, out), out
    for host in HOSTS:
        assert kinds(cluster, host).count("destroy-containers") == 1
        assert kinds(cluster, host).count("write") == 1
    golden("clean", cluster, work)

    cluster.step = "cleaned"
    assert expect(cli(cluster, work, "clean"), 0) == ""
    assert "write" not in kinds(cluster)
    golden("clean-again", cluster, work)
