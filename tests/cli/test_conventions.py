"""Command-line conventions: -h everywhere, env vars named in every --help, shell completion,
usage errors as one line with exit 1 (never 2), and flags that would be ignored refused."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import typer
from typer.testing import CliRunner, Result

from oar_p2p.cli import build_app
from oar_p2p.cli.logs import LOG_ENV
from oar_p2p.cluster.location import Location, Place
from oar_p2p.plan_file import save_plan
from oar_p2p.project import load_project
from oar_p2p.settings import ENV
from oar_p2p.workflows import reconcile
from oar_p2p.workflows.connect import Connector

SPEC = """\
version: 1
name: seed
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "2"
  latency_matrix: latency.txt
"""


def _no_connection(_options: object) -> NoReturn:
    raise AssertionError("this command must fail before connecting to anything")


# every session through this connector fails the test: the errors below come first
APP = build_app(
    Connector(transport=_no_connection, locate=lambda: Location(Place.ELSEWHERE, "laptop"))
)


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(APP, [str(a) for a in args], env=env, prog_name="oar-p2p")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "latency.txt").write_text("0 1\n1 0\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return spec


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def _commands() -> Iterator[tuple[list[str], typer.main.TyperGroup]]:
    """Every command and group of the tree, with its path (the root's is [])."""

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(build_app()), [])


PATHS = [path for path, _ in _commands()]


# --- -h and env hints -------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "root")
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_takes_h_and_help(path: list[str], flag: str) -> None:
    result = run(*path, flag)
    assert result.exit_code == 0, result.output
    assert f"Usage: oar-p2p {' '.join(path)}".rstrip() in result.stdout
    assert "-h" in result.stdout and "--help" in result.stdout


def _expected_env(param: object) -> str | None:
    """The environment variable behind an option: click's own `envvar`, a cluster option's
    settings variable, or the root's log level."""
    name = getattr(param, "name", "") or ""
    envvar = getattr(param, "envvar", None)
    if isinstance(envvar, str):
        return envvar
    if name.startswith("cluster_") and name[len("cluster_") :] in ENV:
        return ENV[name[len("cluster_") :]]
    return LOG_ENV if name == "level" else None


def test_every_env_backed_option_names_its_variable_in_help() -> None:
    checked = 0
    for path, cmd in _commands():
        expected = [e for e in (_expected_env(p) for p in cmd.params) if e]
        if not expected:
            continue
        text = run(*path, "--help", env={"COLUMNS": "100"}).stdout
        for var in expected:
            assert var in text, f"oar-p2p {' '.join(path)} --help does not name {var}"
            checked += 1
    # the root's log level, 8 cluster options on 10 commands (6 on 2), machines, testbed
    assert checked >= 1 + 8 * 10 + 1 + 5


def test_help_keeps_the_env_hint_of_every_cluster_option() -> None:
    text = run("apply", "-h", env={"COLUMNS": "100"}).stdout
    for var in ENV.values():
        if var != ENV["concurrency_limit"]:  # a setting with no flag on apply
            assert f"(env: {var})" in text


# --- completion -------------------------------------------------------------------------


def test_show_completion_prints_a_bash_script() -> None:
    # typer detects the user's shell from the process tree, so the tool runs under bash
    # (the trailing `exit` keeps bash from exec'ing it), whatever shell runs the suite
    tool = f"{shlex.quote(sys.executable)} -c 'from oar_p2p.cli import main; main()'"
    result = subprocess.run(
        ["bash", "-c", f"{tool} --show-completion; exit $?"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "_OAR_P2P_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _oar_p2p_completion oar-p2p" in result.stdout


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("oar-p2p pl", "1", {"plan"}),
        ("oar-p2p net ", "2", {"up", "down", "show", "preview"}),
        ("oar-p2p apply --ref", "2", {"--refresh"}),
    ],
)
def test_completion_through_the_env_protocol(words: str, cword: str, expected: set[str]) -> None:
    env = {"_OAR_P2P_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
    result = run(env=env)
    assert result.exit_code == 0, result.output
    assert set(result.stdout.split()) == expected


# --- usage errors: one line, exit 1 -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["plan", "--refrsh", "full", "{spec}"],
            "error: No such option: --refrsh (Possible options: --refresh) (see `oar-p2p plan -h`)",
        ),
        (["apply"], "error: Missing argument 'target'. (see `oar-p2p apply -h`)"),
        (["plna"], "error: No such command 'plna'. Did you mean 'plan'? (see `oar-p2p -h`)"),
        (
            ["verify", "--count", "0", "{spec}"],
            "error: Invalid value for '--count': Input should be greater than or equal to 1 "
            "(see `oar-p2p verify -h`)",
        ),
        (["net", "up", "--addresses"], "error: Option '--addresses' requires an argument."),
        (
            ["show", "--job-id", "abc", "{spec}"],
            "error: Invalid value for '--job-id': Input should be a valid integer",
        ),
    ],
    ids=["unknown-flag", "missing-arg", "unknown-command", "out-of-range", "no-value", "type"],
)
def test_a_usage_error_is_one_line_and_exit_1(
    project: Path, args: list[str], expected: str
) -> None:
    line = _one_error_line(run(*(a.format(spec=project) for a in args)))
    assert line.startswith(expected), line


def test_no_command_shows_the_help_and_exits_1() -> None:
    result = run()
    assert result.exit_code == 1
    assert "Usage: oar-p2p [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "Traceback" not in result.output


def test_the_console_script_maps_usage_errors_too(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "oar_p2p", "plan", "--offline", "--refrsh", "x", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: No such option: --refrsh (Possible options: --refresh) (see `oar-p2p plan -h`)\n"
    )


def test_detailed_exitcode_still_means_changes(project: Path) -> None:
    assert run("plan", "--offline", "--detailed-exitcode", project).exit_code == 2


# --- flags that would be ignored --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["destroy", "--job-id", "7", "--infer-job-id", "{spec}"],
            "error: --job-id and --infer-job-id both choose the job: give one of them",
        ),
        (
            ["show", "--machine", "gengar-1", "--job-id", "7", "{spec}"],
            "error: --job-id does not apply with --machine: a fixed list of machines asks OAR "
            "for no job; give one of them",
        ),
        (
            ["machines", "--machine", "gengar-1", "--infer-job-id"],
            "error: --infer-job-id does not apply with --machine",
        ),
        (
            ["apply", "--rerun", "{spec}"],
            "error: --rerun does not apply: the spec has no containers, so apply runs no "
            "experiment",
        ),
        (
            ["apply", "--output-dir", "logs", "--timeout", "5", "{spec}"],
            "error: --output-dir, --timeout do not apply: the spec has no containers",
        ),
        (
            ["verify", "--pairs", "0", "{spec}"],
            "error: invalid --pairs '0': allowed: all, or a whole number >= 1",
        ),
        (["verify", "--parallel", "0", "{spec}"], "error: Invalid value for '--parallel': "),
        (["apply", "--timeout", "-1", "{spec}"], "error: Invalid value for '--timeout': "),
        (["run", "--timeout", "-1"], "error: Invalid value for '--timeout': "),
        (
            ["apply", "--allow-clock-skew", "--clock-threshold-ms", "80", "{spec}"],
            "error: --clock-threshold-ms, --allow-clock-skew do not apply: the spec has no "
            "containers",
        ),
        (["run", "--clock-threshold-ms", "-5"], "error: Invalid value for '--clock-threshold-ms'"),
    ],
    ids=[
        "job-and-infer",
        "machine-and-job",
        "machines-machine-and-infer",
        "rerun-without-containers",
        "run-flags-without-containers",
        "pairs-before-connecting",
        "parallel-0",
        "apply-negative-timeout",
        "run-negative-timeout",
        "clock-flags-without-containers",
        "run-negative-clock-threshold",
    ],
)
def test_a_flag_that_would_be_ignored_is_a_usage_error(
    project: Path, args: list[str], expected: str
) -> None:
    line = _one_error_line(run(*(a.format(spec=project) for a in args)))
    assert line.startswith(expected), line


def test_refresh_with_a_saved_plan_is_a_usage_error(project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    plan = reconcile.offline_plan(load_project(project), ["gengar-1", "gengar-2"])
    save_plan(saved, project, plan)
    line = _one_error_line(run("apply", "--refresh", "full", saved))
    assert line == (
        "error: --refresh does not apply to a saved plan: it was read with --refresh offline "
        "and is applied as it was made"
    )


def test_the_run_flags_are_accepted_with_containers(project: Path) -> None:
    """With containers, --rerun/--output-dir/--timeout pass the check and apply connects."""
    project.write_text(SPEC + "containers:\n  - {name: 'p{index}', image: alpine}\n")
    args = ["apply", "--rerun", "--output-dir", "logs", "--timeout", "5", project]
    args[1:1] = ["--allow-clock-skew", "--clock-threshold-ms", "20"]
    result = run(*args, env={"FRONTEND_HOSTNAME": "front"})
    assert isinstance(result.exception, AssertionError)
    assert "must fail before connecting" in str(result.exception)


def test_a_ctrl_c_outside_a_command_body_is_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """click turns a KeyboardInterrupt outside a command's funnel into Abort: still 130."""
    import oar_p2p.cli.usage as usage

    def interrupted(*_: object, **__: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(usage.TyperGroup, "invoke", interrupted)
    group = typer.main.get_command(build_app())
    assert group.main(["machines"], standalone_mode=False) == 130
