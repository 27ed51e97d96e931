"""The job lock, its scripts run for real by `sh` (on a temporary directory)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oar_p2p.errors import LockError
from oar_p2p.lock import (
    LOCK_DIR,
    acquire_script,
    cluster_lock,
    force_unlock,
    holder_text,
    release_script,
)
from tests.fakes import Call, FakeTransport, Reply


def _machine(lock_dir: Path) -> FakeTransport:
    """A transport whose machine runs each command with `sh`, the lock moved to `lock_dir`."""

    def run(call: Call) -> Reply:
        command = call.command.replace(LOCK_DIR, str(lock_dir))
        proc = subprocess.run(["sh", "-c", command], capture_output=True, timeout=30)
        return Reply(proc.stdout, proc.stderr, proc.returncode)

    return FakeTransport(handler=run)


def test_the_lock_is_held_during_the_block_and_released_after(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    with cluster_lock(_machine(lock_dir), "gengar-1", "apply"):
        holder = (lock_dir / "holder").read_text()
        assert "(apply) since=" in holder and "\n" not in holder
    assert not lock_dir.exists()


def test_a_held_lock_refuses_naming_the_holder_and_its_age(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    (lock_dir / "holder").write_text("bob@fe pid 7 (apply) since=1000")
    with pytest.raises(LockError) as info:
        with cluster_lock(_machine(lock_dir), "gengar-1", "destroy"):
            pytest.fail("the block ran under another holder's lock")
    message = str(info.value)
    assert "holds the job's lock on gengar-1: bob@fe pid 7 (apply), taken " in message
    assert "oar-p2p force-unlock" in message
    assert (lock_dir / "holder").read_text() == "bob@fe pid 7 (apply) since=1000"


def test_a_holder_written_over_several_lines_reads_as_one(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    (lock_dir / "holder").write_text("an older tool\nwrote this\n")
    with pytest.raises(LockError, match="lock on m: an older tool wrote this;"):
        with cluster_lock(_machine(lock_dir), "m", "apply"):
            pass


def test_a_lock_without_holder_file_is_still_held(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    with pytest.raises(LockError, match="lock on m: unknown holder;"):
        with cluster_lock(_machine(lock_dir), "m", "apply"):
            pass


def test_garbage_instead_of_an_answer_is_not_an_acquired_lock() -> None:
    fake = FakeTransport({}, handler=lambda call: Reply("acquired-ish\n"))
    with pytest.raises(LockError, match="unknown holder"):
        with cluster_lock(fake, "m", "apply"):
            pass
    assert len(fake.calls) == 1  # nothing released: it was never taken


def test_force_unlock_names_the_holder_and_removes_the_lock(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    (lock_dir / "holder").write_text(holder_text("apply", 5.0))
    assert force_unlock(_machine(lock_dir), "m").endswith("(apply) since=5")
    assert not lock_dir.exists()
    assert force_unlock(_machine(lock_dir), "m") == ""


def test_the_acquire_script_answers_in_the_documented_format(tmp_path: Path) -> None:
    script = acquire_script("me (apply) since=1").replace(LOCK_DIR, str(tmp_path / "l"))
    first = subprocess.run(["sh", "-c", script], capture_output=True, check=True)
    second = subprocess.run(["sh", "-c", script], capture_output=True, check=True)
    assert (first.stdout, second.stdout) == (b"acquired\n", b"held me (apply) since=1\n")


def test_a_broken_lock_taken_again_survives_the_old_holders_release(tmp_path: Path) -> None:
    lock_dir = tmp_path / "lock"
    machine = _machine(lock_dir)
    with cluster_lock(machine, "m", "apply"):
        old_token = (lock_dir / "token").read_text()
        holder = (lock_dir / "holder").read_text()
        assert force_unlock(machine, "m") == holder
        assert not lock_dir.exists()
        with cluster_lock(machine, "m", "destroy"):
            new_token = (lock_dir / "token").read_text()
            assert new_token != old_token
        # the new holder released its own lock; take it once more by hand, then let the
        # old holder's block end: its release must leave the newer lock alone
        script = acquire_script("carol (net up) since=9", "c0ffee").replace(LOCK_DIR, str(lock_dir))
        subprocess.run(["sh", "-c", script], check=True, capture_output=True)
    assert (lock_dir / "holder").read_text() == "carol (net up) since=9"
    release = release_script("c0ffee").replace(LOCK_DIR, str(lock_dir))
    subprocess.run(["sh", "-c", release], check=True)
    assert not lock_dir.exists()


def test_force_unlock_that_cannot_remove_the_lock_says_so() -> None:
    fake = FakeTransport(
        handler=lambda call: Reply(
            "bob@fe pid 7 (apply) since=1",
            "rm: cannot remove '/tmp/oar-p2p.lock/holder': Operation not permitted\n",
            1,
        )
    )
    with pytest.raises(LockError) as info:
        force_unlock(fake, "gengar-1")
    assert str(info.value) == (
        "could not remove the job's lock /tmp/oar-p2p.lock on gengar-1: rm: cannot remove "
        "'/tmp/oar-p2p.lock/holder': Operation not permitted (made by another user? remove it "
        "as that user, or as root)"
    )
