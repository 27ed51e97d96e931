"""Opening and closing a session: machines, lock and stats in one place, through a fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.cluster.location import Location, Place
from oar_p2p.errors import LockError, OarP2PError
from oar_p2p.settings import resolve_settings
from oar_p2p.workflows.connect import Connector, SshOptions, Target, session_scope
from tests.fakes import FakeTransport, Reply

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
