"""`observe.docker` parsers against real captures (tests/fixtures/observed/docker/*.json).

Each case is ``{command, output, expected}``: the command that produced `output` (captured
from docker 28.2 CLI / 20.10 daemon), and either the parsed containers or
``{"error": <message part>}``. `docker inspect` cases are parsed by `parse_docker_inspect`,
`docker ps` cases by `parse_docker_ps`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.errors import ClusterError
from oar_p2p.observe.docker import (
    inspect_command,
    owner_filter,
    parse_docker_inspect,
    parse_docker_ps,
)

CASES = sorted((Path(__file__).parents[2] / "fixtures" / "observed" / "docker").glob("*.json"))


def test_there_are_cases() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    parse = parse_docker_ps if case["command"].startswith("docker ps") else parse_docker_inspect
    expected = case["expected"]
    if isinstance(expected, dict):
        with pytest.raises(ClusterError, match=expected["error"].replace("`", ".")):
            parse(case["output"])
    else:
        assert [c.model_dump() for c in parse(case["output"])] == expected


def test_owned_capture_covers_every_state() -> None:
    case = json.loads((CASES[0].parent / "inspect_owned.json").read_text())
    states = {c.name: c for c in parse_docker_inspect(case["output"])}
    assert {n: (s.status, s.exit_code) for n, s in states.items()} == {
        "peer-0": ("exited", 0),
        "peer-1": ("exited", 3),
        "peer-2": ("running", None),
        "peer-3": ("created", None),
    }
    assert states["peer-0"].env["MSG"] == 'it\'s "$(touch /tmp/pwned)" `id`\nsecond line'
    assert states["peer-3"].started_at is None


def test_owner_filter_and_command() -> None:
    assert owner_filter("demo") == "label=oar-p2p.experiment=demo"
    assert owner_filter(None) == "label=oar-p2p.experiment"
    assert "--filter label=oar-p2p.experiment=demo" in inspect_command("demo")
