"""Every `oar-p2p ...` command line the README shows names a command that exists, and
every flag it gives is an option of that command (or of the root)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from oar_p2p.cli import build_app

README = Path(__file__).parents[2] / "README.md"
ROOT = typer.main.get_command(build_app())
_INLINE = re.compile(r"`(oar-p2p [^`]+)`")
_LINE = re.compile(r"^(?:\$ |[A-Z_]+=\S+ )?(oar-p2p .+)$")


def _readme_commands() -> list[str]:
    found: list[str] = []
    in_block = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        match = _LINE.match(line.strip()) if in_block else None
        if match:
            found.append(match.group(1).split("  #")[0].split(" # ")[0])
        found += [m.group(1) for m in _INLINE.finditer(line) if not in_block]
    return sorted(set(found))


# typer bundles its own click: duck typing, not isinstance against the `click` package
def _options(command: Any) -> set[str]:
    names = {"--help", "-h"}
    for p in command.params:
        if p.param_type_name == "option":
            names.update(p.opts + p.secondary_opts)
    return names


_SHELLS = {"bash", "zsh", "fish", "powershell", "pwsh"}  # typer's optional completion shell


def _takes_value(command: Any, flag: str) -> bool:
    for p in [*command.params, *ROOT.params]:
        if p.param_type_name == "option" and flag in p.opts + p.secondary_opts:
            return not (p.is_flag or p.count)
    return False


def _resolve(line: str) -> tuple[Any, list[str]]:
    words = shlex.split(line.replace("|", " "))[1:]
    command: Any = ROOT
    flags: list[str] = []
    value_next = False
    for word in words:
        if word == "--" or word == ">":
            break
        if value_next or (flags[-1:] == ["--show-completion"] and word in _SHELLS):
            value_next = False
        elif word.startswith("-"):
            flags.append(word.split("=")[0])
            value_next = "=" not in word and _takes_value(command, word)
        elif hasattr(command, "commands"):  # a group: the word must be one of its commands
            assert word in command.commands, f"{line!r}: no command {word!r} in {command.name}"
            command = command.commands[word]
    return command, flags


COMMANDS = _readme_commands()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) > 20, COMMANDS  # the scan itself works


@pytest.mark.parametrize("line", COMMANDS)
def test_a_readme_command_exists_with_its_flags(line: str) -> None:
    command, flags = _resolve(line)
    known = _options(command) | _options(ROOT)
    unknown = [f for f in flags if f not in known and not re.fullmatch(r"-v+", f)]
    assert not unknown, f"{line!r}: {unknown} not options of `{command.name}`"
