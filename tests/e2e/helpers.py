"""Helpers for the end-to-end tests: run the CLI in the client namespace, read stats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from oar_p2p.testbed import Testbed

# The tests drive the tool with the sudo executor unless they say otherwise: through the
# docker executor every privileged step starts a helper container, 3-4 s of the testbed
# guest's one CPU each time. The docker executor is proven end to end by test_walkthrough
# (apply, run and the original's commands), test_remote (a script through each executor,
# the missing-image error) and `make demo`.
EXECUTOR = "sudo"


def cli(
    bed: Testbed,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    input: bytes | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`oar-p2p ARGS` as a cluster user on their laptop (the client namespace)."""
    env = {"OAR_P2P_EXECUTOR": EXECUTOR, **(env or {})}
    argv = [sys.executable, "-m", "oar_p2p", *args]
    if cwd is not None:
        argv = ["env", "-C", str(cwd), *argv]
    r = bed.run_in_client(argv, env, timeout=timeout, input=input)
    return subprocess.CompletedProcess(
        r.args, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    )


def cli_ok(bed: Testbed, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    r = cli(bed, *args, **kw)  # type: ignore[arg-type]
    assert r.returncode == 0, f"oar-p2p {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def with_stats(
    bed: Testbed, tmp: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run the CLI with OAR_P2P_STATS and return its counts."""
    path = tmp / f"stats-{abs(hash(args))}.json"
    r = cli(bed, *args, env={"OAR_P2P_STATS": str(path)})
    stats = json.loads(path.read_text()) if path.exists() else {}
    return r, stats


def node(bed: Testbed, host: str, *argv: str, user: str = "root") -> str:
    r = bed.exec(host, list(argv), user=user, timeout=120)
    assert r.returncode == 0, f"{host}: {argv} -> {r.returncode}: {r.stderr.decode()}"
    return r.stdout.decode()
