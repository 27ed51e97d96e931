"""The read script run by bash here: sysctls, the record and when the nft map is trusted.

The kernel parts (`ip`, `tc`, `nft`) are proven on the testbed; here the machine has no
`oar-p2p` table and no `bond0`, so those sections are empty, and what is checked is the
script's own logic: which sections it prints from a given record.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from oar_p2p.observe.read_script import read_script, split_sections

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

REAL_KEY = "kernel.ostype"  # present on every Linux: "Linux"
WANT = "ab" * 16


def _run(record_dir: Path, record: str | None, *, refresh: str = "auto") -> dict[str, str]:
    record_dir.mkdir(exist_ok=True)
    if record is not None:
        (record_dir / "record.json").write_text(record)
        (record_dir / "rows.gz").write_bytes(b"\x1f\x8b rows")
    script = read_script(
        "oarp2p-none0",
        [REAL_KEY, "net.no.such.key"],
        refresh=refresh,
        desired_digest=WANT,
        large=100,
        record_dir=str(record_dir),
    )
    proc = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return split_sections(proc.stdout.decode())


def _record(state: str, size: int, digest: str) -> str:
    return f'{{"version": 1, "state": "{state}", "digest": "{digest}", "size": {size}}}\n'


def test_sysctls_are_read_and_a_missing_key_is_empty(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", None)
    assert out["sysctl"] == f"{REAL_KEY}=Linux\nnet.no.such.key=\n"
    assert out["record"] == ""
    assert out["nft"] != "skipped\n" and out["rows"] == ""  # no record: the kernel is read
    assert "end" in out


def test_a_large_applied_record_with_the_desired_digest_is_trusted(tmp_path: Path) -> None:
    rec = _record("applied", 5000, WANT)
    out = _run(tmp_path / "r", rec)
    assert out["record"] == rec
    assert out["nft"] == "skipped\n"
    assert out["rows"] == ""  # nothing to diff against: the digest is the desired one


def test_a_large_record_with_another_digest_sends_its_rows(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", _record("applied", 5000, "cd" * 16))
    assert out["nft"] == "skipped\n"
    assert base64.b64decode(out["rows"]) == b"\x1f\x8b rows"


def test_a_small_record_is_not_trusted(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", _record("applied", 100, WANT))  # not above `large`
    assert out["nft"] != "skipped\n" and out["rows"] == ""


def test_a_pending_record_skips_the_read_and_sends_no_rows(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", '{"state": "pending"}\n')
    assert out["nft"] == "skipped\n" and out["rows"] == ""


def test_refresh_full_always_reads_the_kernel(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", _record("applied", 5000, "cd" * 16), refresh="full")
    assert out["nft"] != "skipped\n" and out["rows"] == ""
