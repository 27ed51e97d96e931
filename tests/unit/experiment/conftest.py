"""A fake `docker` on PATH, to run the generated scripts for real with `sh`.

The fake appends each call's argv (JSON) to `$FAKE_DOCKER_LOG` and answers from
environment variables: `FAKE_PRESENT` (images present), `FAKE_PULLABLE` (images a pull
finds), `FAKE_FAIL` (container names whose create fails), `FAKE_PS` (file printed by
`docker ps --format '{{json .}}'`), `FAKE_OWNED` (ids printed by `docker ps -aq`).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FAKE = r"""#!PYTHON
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
env = lambda k: [x for x in os.environ.get(k, "").split(",") if x]
cmd = args[0]
if args[:2] == ["image", "inspect"]:
    sys.exit(0 if args[2] in env("FAKE_PRESENT") else 1)
if cmd == "pull":
    if args[1] in env("FAKE_PULLABLE"):
        print("pulled " + args[1]); sys.exit(0)
    print("Error response from daemon: pull access denied for " + args[1], file=sys.stderr)
    sys.exit(1)
if cmd == "ps":
    if "-aq" in args:
        print("\n".join(env("FAKE_OWNED")))
    elif "{{json .}}" in args:
        sys.stdout.write(open(os.environ["FAKE_PS"]).read() if os.environ.get("FAKE_PS") else "")
    else:
        print("\n".join(env("FAKE_OWNED_NAMES")))
    sys.exit(0)
if cmd == "create":
    name = args[args.index("--name") + 1]
    if name in env("FAKE_FAIL"):
        print("Error response from daemon: Conflict. The container name " + name, file=sys.stderr)
        sys.exit(125)
    print("id-" + name); sys.exit(0)
if cmd == "logs":
    print("out of " + args[1]); print("err of " + args[1], file=sys.stderr); sys.exit(0)
if cmd in ("start", "stop", "rm", "wait"):
    for a in args[1:]:
        if not a.startswith("-") and not a.isdigit():
            print("0" if cmd == "wait" else a)
    sys.exit(0)
sys.exit(2)
"""


@dataclass
class FakeDocker:
    log: Path
    root: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def verbs(self) -> list[str]:
        return [c[0] for c in self.calls()]


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDocker]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE.replace("PYTHON", sys.executable, 1))
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    # no daemon answers there: scripts that try docker's API first fall back to this CLI
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    for key in ("FAKE_PRESENT", "FAKE_PULLABLE", "FAKE_FAIL", "FAKE_PS", "FAKE_OWNED"):
        monkeypatch.delenv(key, raising=False)
    yield FakeDocker(log, tmp_path)
