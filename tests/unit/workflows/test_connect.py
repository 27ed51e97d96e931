"""Opening and closing a session: machines, lock and stats in one place, through a fake."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from oar_p2p.cluster.location import Location, Place
from oar_p2p.errors import LockError, OarP2PError
from oar_p2p.settings import resolve_settings
from oar_p2p.workflows.connect import Connector, SshOptions, Target, session_scope
from tests.fakes import Call, FakeTransport, Reply

HOSTS = ["gengar-2", "gengar-1"]
RELEASE = 'if [ "$(cat /tmp/oar-p2p.lock/token 2>/dev/null)" = '
DISCOVERY = "cpus 8\ndefault-route default via 172.16.0.1 dev bond0\n"


def _fake(lock_answer: str = "acquired\n") -> FakeTransport:
    fake = FakeTransport()
    fake.on("sh -s", Reply(DISCOVERY))
    fake.on("release", handler=lambda call: Reply() if call.command.startswith(RELEASE) else None)
    fake.on(
        "lock",
        handler=lambda call: (
            Reply(lock_answer) if "mkdir /tmp/oar-p2p.lock" in call.command else None
        ),
    )
    return fake


def _connector(fake: FakeTransport, seen: list[SshOptions], **kw: object) -> Connector:
    def transport(options: SshOptions) -> FakeTransport:
        seen.append(options)
        return fake

    return Connector(
        transport=transport,
        locate=lambda: Location(Place.FRONTEND, "frontend"),
        local=lambda: fake,
        **kw,  # type: ignore[arg-type]
    )


def _settings(**env: str) -> object:
    return resolve_settings({}, {"OAR_P2P_EXECUTOR": "root", **env})


def test_a_session_reads_the_machines_takes_and_releases_the_lock(tmp_path: Path) -> None:
    fake, seen = _fake(), []
    stats = tmp_path / "stats.json"
    connector = _connector(fake, seen, stats_path=str(stats))
    with session_scope(_settings(), connector, Target(fixed=HOSTS), lock="apply") as s:  # type: ignore[arg-type]
        assert s.hosts == HOSTS
        assert [m.interface for m in s.machines] == ["bond0", "bond0"]
        assert fake.commands("gengar-1")[-1].startswith("if mkdir /tmp/oar-p2p.lock")
    assert fake.commands("gengar-1")[-1].startswith(RELEASE)
    assert fake.closed
    assert seen[0].jump is False and seen[0].host_key_policy == "strict"
    counts = json.loads(stats.read_text())
    assert set(counts["machines"]) == set(HOSTS)
    # both machines are in the packaged table (no discovery); the lock lives on the first
    # in name order, whatever order they were given in
    assert counts["machines"]["gengar-2"]["round_trips"] == 0
    assert counts["machines"]["gengar-1"]["round_trips"] == 2  # lock taken, lock released


def test_the_lock_is_released_and_the_connections_closed_when_the_block_fails() -> None:
    fake = _fake()
    with pytest.raises(OarP2PError, match="boom"):
        with session_scope(_settings(), _connector(fake, []), Target(fixed=HOSTS), lock="x"):  # type: ignore[arg-type]
            raise OarP2PError("boom")
    assert fake.commands("gengar-1")[-1].startswith(RELEASE)
    assert fake.closed


def test_a_held_lock_refuses_and_closes() -> None:
    fake = _fake(lock_answer="held alice@laptop pid 7 (apply) since=1\n")
    with pytest.raises(LockError, match="pid 7 \\(apply\\)"):
        with session_scope(_settings(), _connector(fake, []), Target(fixed=HOSTS), lock="net up"):  # type: ignore[arg-type]
            pytest.fail("the block must not run without the lock")
    assert not any(c.startswith(RELEASE) for c in fake.commands())
    assert fake.closed


def test_no_job_and_no_machines_is_an_error_before_any_connection() -> None:
    fake, seen = _fake(), []
    with pytest.raises(OarP2PError, match="no job given"):
        with session_scope(_settings(), _connector(fake, seen), Target()):  # type: ignore[arg-type]
            pass
    assert seen == [] and fake.calls == []


OARSTAT = json.dumps(
    {"4242": {"Job_Id": 4242, "state": "Running", "assigned_network_address": HOSTS}}
)


class _AheadFake(FakeTransport):
    """A fake that records each `connect_ahead` with how many commands had run before."""

    def __init__(self) -> None:
        super().__init__()
        self.ahead: list[tuple[list[str], int]] = []

    def connect_ahead(self, hosts: list[str], limit: int = 0) -> None:
        self.ahead.append((list(hosts), len(self.calls)))


def _job_session(fake: FakeTransport, cache: Path | None) -> list[str]:
    connector = _connector(fake, [], cache=lambda: cache)
    settings = _settings(OAR_JOB_ID="4242")
    with session_scope(settings, connector, Target(), lock=None) as s:  # type: ignore[arg-type]
        return s.hosts


def _ahead_fake() -> _AheadFake:
    fake = _AheadFake()
    fake.on("oarstat -j 4242 -J", Reply(OARSTAT))
    return fake


def test_the_job_machines_of_the_last_command_connect_while_oarstat_runs(
    tmp_path: Path,
) -> None:
    first = _ahead_fake()
    assert _job_session(first, tmp_path) == HOSTS
    # nothing kept yet: the machines connect once oarstat listed them
    assert first.ahead == [(HOSTS, 1)] and first.commands() == ["oarstat -j 4242 -J"]
    kept = json.loads((tmp_path / "jobs" / "localhost.json").read_text())
    assert kept == {"version": 1, "frontend": "", "job": 4242, "hosts": HOSTS}

    second = _ahead_fake()
    assert _job_session(second, tmp_path) == HOSTS
    # the kept machines start connecting before oarstat's answer; none is tried twice
    assert second.ahead == [(HOSTS, 0)]


def test_a_guess_is_never_the_answer_and_is_replaced_by_oarstat(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    kept = {"version": 1, "frontend": "", "job": 4242, "hosts": ["gengar-9", "gengar-1"]}
    (tmp_path / "jobs" / "localhost.json").write_text(json.dumps(kept))
    fake = _ahead_fake()
    assert _job_session(fake, tmp_path) == HOSTS  # oarstat's machines, not the guess
    assert fake.ahead == [(["gengar-9", "gengar-1"], 0), (["gengar-2"], 1)]
    assert json.loads((tmp_path / "jobs" / "localhost.json").read_text())["hosts"] == HOSTS


def test_no_guess_for_a_fixed_list_or_with_the_cache_off(tmp_path: Path) -> None:
    fake = _ahead_fake()
    assert _job_session(fake, None) == HOSTS  # OAR_P2P_CACHE_DIR=off
    assert fake.ahead == [(HOSTS, 1)]
    fixed = _AheadFake()
    fixed.on("sh -s", Reply(DISCOVERY))
    connector = _connector(fixed, [], cache=lambda: tmp_path)
    with session_scope(_settings(), connector, Target(fixed=HOSTS), lock=None):  # type: ignore[arg-type]
        pass
    assert fixed.ahead == [(HOSTS, 0)] and not (tmp_path / "jobs").exists()


def test_an_inferred_job_connects_its_kept_machines_once_named(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    kept = {"version": 1, "frontend": "", "job": 4242, "hosts": HOSTS}
    (tmp_path / "jobs" / "localhost.json").write_text(json.dumps(kept))
    fake = _ahead_fake()
    fake.on("oarstat -u -J", Reply(OARSTAT))
    connector = _connector(fake, [], cache=lambda: tmp_path)
    settings = _settings(OAR_P2P_INFER_JOB_ID="true")
    with session_scope(settings, connector, Target(), lock=None) as s:  # type: ignore[arg-type]
        assert s.hosts == HOSTS
    # `oarstat -u` named the job; its kept machines connect while `oarstat -j` runs
    assert fake.commands() == ["oarstat -u -J", "oarstat -j 4242 -J"]
    assert fake.ahead == [(HOSTS, 1)]


def _kept(tmp_path: Path, hosts: list[str]) -> None:
    (tmp_path / "jobs").mkdir(exist_ok=True)
    kept = {"version": 1, "frontend": "", "job": 4242, "hosts": hosts}
    (tmp_path / "jobs" / "localhost.json").write_text(json.dumps(kept))


def _locking_fake(lock_answer: str = "acquired\n") -> tuple[_AheadFake, list[bool]]:
    """oarstat answers only once a lock was asked for (or after 5 s); the list says, for
    each oarstat, whether a lock had been asked for while it ran."""
    asked, overlapped = threading.Event(), []
    fake = _AheadFake()

    def oarstat(call: Call) -> Reply:
        overlapped.append(asked.wait(5))
        return Reply(OARSTAT)

    def lock(call: Call) -> Reply | None:
        if "mkdir /tmp/oar-p2p.lock" not in call.command:
            return None
        asked.set()
        return Reply(lock_answer)

    fake.on("lock", handler=lock)
    fake.on("release", handler=lambda call: Reply() if call.command.startswith(RELEASE) else None)
    fake.on("oarstat -j 4242 -J", handler=oarstat)
    return fake, overlapped


def _locked_session(fake: FakeTransport, tmp_path: Path) -> None:
    connector = _connector(fake, [], cache=lambda: tmp_path)
    with session_scope(_settings(OAR_JOB_ID="4242"), connector, Target(), lock="apply") as s:  # type: ignore[arg-type]
        assert s.hosts == HOSTS
        assert sum("mkdir /tmp/oar-p2p.lock" in c for c in fake.commands()) == 1


def test_the_job_lock_is_taken_while_oarstat_runs_on_the_kept_lock_machine(
    tmp_path: Path,
) -> None:
    _kept(tmp_path, HOSTS)
    fake, overlapped = _locking_fake()
    _locked_session(fake, tmp_path)
    assert overlapped == [True]  # oarstat was still running when the lock was asked for
    lock, release = [c for c in fake.calls if c.host != "localhost"]
    assert lock.host == "gengar-1" and "mkdir /tmp/oar-p2p.lock" in lock.command
    assert release.host == "gengar-1" and release.command.startswith(RELEASE)
    # the token released is the one taken
    assert lock.command.split("printf '%s' ")[1].split()[0] in release.command


def test_a_lock_taken_on_a_wrong_guess_is_released_and_taken_on_the_lock_machine(
    tmp_path: Path,
) -> None:
    _kept(tmp_path, ["gengar-9", "gengar-8"])  # the job has other machines now
    fake, _ = _locking_fake()
    connector = _connector(fake, [], cache=lambda: tmp_path)
    with session_scope(_settings(OAR_JOB_ID="4242"), connector, Target(), lock="apply"):  # type: ignore[arg-type]
        assert [c.host for c in fake.calls if "mkdir /tmp" in c.command] == ["gengar-8", "gengar-1"]
        assert fake.commands("gengar-8")[-1].startswith(RELEASE)  # released before the block
    assert fake.commands("gengar-1")[-1].startswith(RELEASE)


def test_a_lock_held_on_the_kept_lock_machine_refuses(tmp_path: Path) -> None:
    _kept(tmp_path, HOSTS)
    fake, _ = _locking_fake("held alice@laptop pid 7 (apply) since=1\n")
    connector = _connector(fake, [], cache=lambda: tmp_path)
    with pytest.raises(LockError, match="pid 7 \\(apply\\)"):
        with session_scope(_settings(OAR_JOB_ID="4242"), connector, Target(), lock="apply"):  # type: ignore[arg-type]
            pytest.fail("the block must not run without the lock")
    assert not any(c.startswith(RELEASE) for c in fake.commands()) and fake.closed
    assert sum("mkdir /tmp/oar-p2p.lock" in c for c in fake.commands()) == 1  # not asked twice
