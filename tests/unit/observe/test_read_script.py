"""The read script run by bash here: sysctls, the record and when the nft map is trusted.

The kernel parts (`ip`, `tc`, `nft`) are proven on the testbed; here the machine has no
`oar-p2p` table and no `bond0`, so those sections are empty, and what is checked is the
script's own logic: which sections it prints from a given record.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
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


def test_the_rows_come_with_their_patch(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "rows.patch").write_text("10.16.0.1 10.16.0.6 12\n10.16.0.2 10.17.0.4 3\n")
    out = _run(d, _record("applied", 5000, "cd" * 16))
    assert base64.b64decode(out["rows"]) == b"\x1f\x8b rows"
    assert out["rows-patch"] == "10.16.0.1 10.16.0.6 12\n10.16.0.2 10.17.0.4 3\n"
    out = _run(d, _record("applied", 5000, WANT))  # the desired digest: neither is sent
    assert out["rows"] == "" and "rows-patch" not in out


def test_a_small_record_is_not_trusted(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", _record("applied", 100, WANT))  # not above `large`
    assert out["nft"] != "skipped\n" and out["rows"] == ""


def test_a_pending_record_skips_the_read_and_sends_no_rows(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", '{"state": "pending"}\n')
    assert out["nft"] == "skipped\n" and out["rows"] == ""


def test_refresh_full_always_reads_the_kernel(tmp_path: Path) -> None:
    out = _run(tmp_path / "r", _record("applied", 5000, "cd" * 16), refresh="full")
    assert out["nft"] != "skipped\n" and out["rows"] == ""


def _run_with(record_dir: Path, nft: list[str]) -> dict[str, str]:
    record_dir.mkdir(exist_ok=True)
    script = read_script(
        "oarp2p-none0", [REAL_KEY], large=100, record_dir=str(record_dir),
        nft=nft, unprivileged=True,
    )  # fmt: skip
    proc = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return split_sections(proc.stdout.decode())


def test_unprivileged_the_listing_goes_through_the_given_privileged_argv(tmp_path: Path) -> None:
    # a stand-in for `docker run ... nft`: prints its own argv, so the listing is its output
    out = _run_with(tmp_path / "r", ["sh", "-c", 'echo "listed: $*"', "x", "--quoted arg"])
    assert out["nft"] == "listed: --quoted arg -j list table ip oar-p2p\n"
    assert "nft-error" not in out and "need-privilege" not in out
    assert out["sysctl"] == f"{REAL_KEY}=Linux\n"


def test_no_such_table_is_an_absent_table_not_an_error(tmp_path: Path) -> None:
    absent = 'echo "Error: No such file or directory; did you mean ..." >&2; exit 1'
    out = _run_with(tmp_path / "r", ["sh", "-c", absent])
    assert out["nft"] == "" and "nft-error" not in out


def test_any_other_failed_listing_is_reported(tmp_path: Path) -> None:
    denied = 'echo "Error: cache initialization failed: Operation not permitted" >&2; exit 1'
    out = _run_with(tmp_path / "r", ["sh", "-c", denied])
    assert out["nft-error"] == "Error: cache initialization failed: Operation not permitted\n\n"


def test_a_trusted_record_starts_no_privileged_command(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "record.json").write_text(_record("applied", 5000, "cd" * 16))
    started = tmp_path / "started"
    out = _run_with(tmp_path / "r", ["sh", "-c", f"touch {started}; exit 1"])
    assert out["nft"] == "skipped\n" and not started.exists()


def test_a_user_without_ip_or_tc_asks_for_privilege(tmp_path: Path) -> None:
    script = read_script("oarp2p-none0", [REAL_KEY], unprivileged=True)
    bin_dir = tmp_path / "bin"  # a PATH with bash but neither ip nor tc
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    # the guard alone, without the PATH extension (this machine has ip in /usr/sbin)
    guard = script.split("s hostname")[0].replace('export PATH="$PATH:/usr/sbin:/sbin"\n', "")
    proc = subprocess.run(
        [str(bin_dir / "bash"), "-c", guard + "echo reached\n}\n"],  # the group's end
        env={"PATH": str(bin_dir)}, capture_output=True, timeout=60,
    )  # fmt: skip
    assert split_sections(proc.stdout.decode()) == {"need-privilege": ""}
    assert 'export PATH="$PATH:/usr/sbin:/sbin"' in script  # /sbin is searched for real


def test_a_command_that_reads_stdin_does_not_eat_the_script(tmp_path: Path) -> None:
    """The read goes to `bash -s`: a command in it that reads its stdin (here a `tc` that
    does) gets nothing, and the sections after it are all printed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    eater = bin_dir / "tc"
    eater.write_text("#!/bin/sh\ncat > /dev/null\necho '[]'\n")
    eater.chmod(0o755)
    script = read_script("oarp2p-none0", [REAL_KEY], record_dir=str(tmp_path / "r"))
    proc = subprocess.run(
        ["bash", "-s"], input=script.encode(), capture_output=True, timeout=60,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin:/usr/sbin:/sbin"},
    )  # fmt: skip
    out = split_sections(proc.stdout.decode())
    assert out["tc-qdisc:lo"] == "[]\n" and out["sysctl"] == f"{REAL_KEY}=Linux\n"
    assert "end" in out


def _prestart(record_dir: Path, digest: str, tmp_path: Path, *, prestart: bool = True) -> bool:
    """Read with a trusted record of `digest`; whether the script started the helper (ran
    the listing argv with `--version`, in the background) and said so."""
    record_dir.mkdir(exist_ok=True)
    (record_dir / "record.json").write_text(_record("applied", 5000, digest))
    ran = tmp_path / "ran"
    ran.unlink(missing_ok=True)
    nft = ["sh", "-c", f'echo "$*" > {ran}', "nft"]
    script = read_script(
        "oarp2p-none0", [REAL_KEY], desired_digest=WANT, large=100,
        record_dir=str(record_dir), nft=nft, unprivileged=True, prestart=prestart,
    )  # fmt: skip
    proc = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60)
    out = split_sections(proc.stdout.decode())
    assert out["nft"] == "skipped\n"  # trusted: never listed
    for _ in range(100):  # the start runs in the background
        if ran.exists() or "helper" not in out:
            break
        time.sleep(0.05)
    assert ("helper" in out) == ran.exists()
    if ran.exists():
        assert ran.read_text() == "--version\n" and out["helper"] == "starting\n"
    return ran.exists()


def test_a_trusted_map_that_differs_starts_the_helper_for_the_write(tmp_path: Path) -> None:
    assert _prestart(tmp_path / "r", "cd" * 16, tmp_path)
    assert not _prestart(tmp_path / "r", WANT, tmp_path)  # the desired map: no write
    assert not _prestart(tmp_path / "r", "cd" * 16, tmp_path, prestart=False)  # plan, show
