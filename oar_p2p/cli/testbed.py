"""`oar-p2p testbed ...`: a local OAR cluster in a box (root only)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.errors import TestbedError
from oar_p2p.testbed.bed import DEFAULT_NAME, DEFAULT_STATE_DIR, Testbed
from oar_p2p.testbed.memory import DEFAULT_MEM_MB, parse_mem_mb
from oar_p2p.testbed.report import describe

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}
_state_dir = typer.Option(
    DEFAULT_STATE_DIR,
    "--state-dir",
    envvar="OAR_P2P_TESTBED_DIR",
    help="Where the testbed keeps its state.",
)


def _testbed(state_dir: Path, name: str = DEFAULT_NAME) -> Testbed:
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root (network namespaces, tap, UML); run as root")
    return Testbed(state_dir, name=name)


def _mem_mb(text: str) -> int:
    try:
        return parse_mem_mb(text)
    except ValueError as exc:
        raise TestbedError(str(exc)) from exc


def _call(argv: list[str], env: dict[str, str] | None = None) -> int:
    try:
        return subprocess.run(argv, env=env, check=False).returncode
    except OSError as exc:
        raise TestbedError(f"could not run {argv[0]}: {exc}") from exc


@app.command()
def up(
    machines: int = typer.Option(3, "--machines", "-n", help="Number of machines (gengar-K)."),
    mem: str = typer.Option(
        str(DEFAULT_MEM_MB),
        "--mem",
        metavar="SIZE",
        help="The guest's memory, shared by the frontend and all machines: MB (2560) or "
        "e.g. 2560M, 8G. At scale `nft -f` needs about 1.3 GB per million pair elements "
        "on each machine at once.",
    ),
    name: str = typer.Option(
        DEFAULT_NAME,
        "--name",
        envvar="OAR_P2P_TESTBED_NAME",
        help="Prefix of the host-side names (namespace NAME-client, tap, umid); a second "
        "testbed beside a running one needs its own name and --state-dir.",
    ),
    state_dir: Path = _state_dir,
) -> None:
    """Boot a frontend and MACHINES machines in a user-mode-linux guest."""

    def body() -> None:
        mem_mb = _mem_mb(mem)
        testbed = _testbed(state_dir, name)
        typer.echo(f"booting a testbed with {machines} machines, {mem_mb} MB ...", err=True)
        info = testbed.up(machines, mem_mb)
        typer.echo(describe(info, headline=f"testbed up: ready in {info.boot_seconds} s"))

    run_cli(body)


@app.command()
def down(state_dir: Path = _state_dir) -> None:
    """Stop the testbed and remove everything it created."""

    def body() -> None:
        _testbed(state_dir).down()
        typer.echo("testbed down")

    run_cli(body)


@app.command()
def status(state_dir: Path = _state_dir) -> None:
    """Say whether the testbed is up, and what it is made of."""

    def body() -> None:
        info = _testbed(state_dir).status()
        if info is None:
            typer.echo("testbed down")
            raise typer.Exit(3)
        typer.echo(describe(info, headline=f"testbed up (booted in {info.boot_seconds} s)"))

    run_cli(body)


@app.command("exec", context_settings=_PASS_THROUGH)
def exec_(
    node: str = typer.Argument(..., help="frontend or gengar-K"),
    command: list[str] = typer.Argument(..., help="The command and its arguments."),
    user: str = typer.Option("root", "--user", "-u", help="Log in as this user."),
    state_dir: Path = _state_dir,
) -> None:
    """Run COMMAND on NODE (as root, over ssh); exit with its status."""

    def body() -> int:
        return _call(_testbed(state_dir).exec_argv(node, command, user=user))

    raise typer.Exit(run_cli(body))


@app.command(context_settings=_PASS_THROUGH)
def run(
    command: list[str] = typer.Argument(..., help="The command and its arguments."),
    state_dir: Path = _state_dir,
) -> None:
    """Run COMMAND in the client namespace with a cluster user's environment."""

    def body() -> int:
        testbed = _testbed(state_dir)
        return _call(testbed.client_argv(command), env=testbed.client_env())

    raise typer.Exit(run_cli(body))
