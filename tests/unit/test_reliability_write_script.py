"""A write script cut short in transit runs nothing (no partial `nft -f` transaction).

When the tool is killed (or the connection drops) while a write script is still being
sent, the machine's `bash -s` reads end-of-file in the middle. Bash runs a here-document
cut at a line end with the lines that arrived, so without protection a truncated script
would commit a partial nft map. The script is one `{ ... }` group, parsed whole before any
of it runs: every truncation must run no command at all, and the whole script must run.

The golden write scripts are fed to the real bash with every external command (ip, tc,
nft, mkdir, rm, base64, cat, mv, sysctl) replaced by a stub that logs its name.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from oar_p2p.render.commands import RECORD_DIR

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
STUBS = ("ip", "tc", "nft", "mkdir", "rm", "base64", "cat", "mv", "sysctl")
BASH = shutil.which("bash")


def _scripts() -> list[tuple[str, str]]:
    """(case/machine, script) for every machine of every golden case."""
    out = []
    for path in sorted(GOLDEN.glob("*/apply.sh")):
        current, lines = "", []
        for line in path.read_text().splitlines(keepends=True):
            if line.startswith("# ---") and line.rstrip().endswith("---"):
                if lines:
                    out.append((f"{path.parent.name}/{current}", "".join(lines)))
                current, lines = line.split()[2], []
            else:
                lines.append(line)
        if lines:
            out.append((f"{path.parent.name}/{current}", "".join(lines)))
    return out


SCRIPTS = _scripts()


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in STUBS:
        stub = bin_dir / name
        stub.write_text(f'#!{BASH}\necho {name} >> "{tmp_path}/ran"\nexec </dev/null\n')
        stub.chmod(0o755)
    (tmp_path / "record").mkdir()
    return tmp_path


def _run(sandbox: Path, script: str) -> tuple[str, str]:
    """Run `script` as the machine would (bash -s on stdin) with stub commands only."""
    script = script.replace(RECORD_DIR, str(sandbox / "record"))
    ran = sandbox / "ran"
    ran.unlink(missing_ok=True)
    for f in (sandbox / "record").iterdir():
        f.unlink()
    assert BASH is not None
    proc = subprocess.run(
        [BASH, "-s"],
        input=script.encode(),
        env={"PATH": str(sandbox / "bin")},
        capture_output=True,
        timeout=30,
    )
    wrote = sorted(p.name for p in (sandbox / "record").iterdir())
    return (ran.read_text() if ran.exists() else ""), " ".join(wrote) + proc.stderr.decode()


@pytest.mark.skipif(BASH is None, reason="needs bash")
@pytest.mark.parametrize(("case", "script"), SCRIPTS, ids=[c for c, _ in SCRIPTS])
def test_a_truncated_write_script_runs_nothing(sandbox: Path, case: str, script: str) -> None:
    ran, _ = _run(sandbox, script)
    if "OARP2P_" not in script:
        assert ran == "", case  # a machine without changes: nothing to run anyway
        return
    assert ran, f"{case}: the whole script ran nothing"
    # every cut at a line end (the dangerous one: a here-document ends cleanly) and a few
    # cuts in the middle of lines
    cuts = [i + 1 for i, ch in enumerate(script) if ch == "\n"][:-1]
    cuts += list(range(1, len(script), max(len(script) // 17, 1)))
    for cut in cuts:
        ran, detail = _run(sandbox, script[:cut])
        assert ran == "", f"{case}: cut at {cut}/{len(script)} ran: {ran!r} ({detail})"
        assert "record.json" not in detail, f"{case}: cut at {cut} touched the record"
