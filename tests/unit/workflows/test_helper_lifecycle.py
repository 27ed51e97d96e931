"""The docker executor's helpers over a whole command: nothing at connect, one helper per
machine from its first privileged script, removed at the end (success, failure, Ctrl-C)
before the lock goes, and none at all on a no-op whose record is trusted."""

from __future__ import annotations

import pytest

from oar_p2p.apply import apply_plan, diff_states, plan_network
from oar_p2p.cluster.location import Location, Place
from oar_p2p.errors import OarP2PError
from oar_p2p.remote.counting import CountingTransport
from oar_p2p.remote.executors import DockerExecutor
from oar_p2p.remote.helper import HelperPool
from oar_p2p.session import Session
from oar_p2p.settings import resolve_settings
from oar_p2p.workflows.connect import Connector, Target, session_scope
from tests.fakes import Call, FakeTransport, Reply
from tests.unit.test_apply_partial import MACHINES, _network

HOSTS = ["gengar-1", "gengar-2"]
RELEASE = 'if [ "$(cat /tmp/oar-p2p.lock/token 2>/dev/null)" = '
ENV = {"OAR_P2P_EXECUTOR": "docker", "OAR_P2P_HELPER_IMAGE": "local/helper:given"}


def _answer(call: Call) -> Reply:
    return Reply("acquired\n") if "mkdir /tmp/oar-p2p.lock" in call.command else Reply()


def _scope(fake: FakeTransport, lock: str | None = "apply"):  # type: ignore[no-untyped-def]
    connector = Connector(
        transport=lambda _o: fake,
        locate=lambda: Location(Place.FRONTEND, "frontend"),
        local=lambda: fake,
    )
    settings = resolve_settings({}, ENV)
    return session_scope(settings, connector, Target(fixed=HOSTS), lock=lock)


def _kinds(fake: FakeTransport, host: str) -> list[str]:
    def kind(command: str) -> str:
        for marker, name in (
            ("mkdir /tmp/oar-p2p.lock", "lock"),
            (RELEASE, "unlock"),
            ("docker run -d", "start+exec"),
            ("docker exec", "exec"),
            ("docker rm -f oar-p2p-helper-", "remove"),  # in the background
        ):
            if marker in command:
                return name
        return command

    return [kind(c.command) for c in fake.calls if c.host == host]


def test_connect_runs_nothing_and_the_helper_lives_from_first_script_to_the_end() -> None:
    fake = FakeTransport(handler=_answer)
    with _scope(fake) as session:
        assert fake.calls[0].command.startswith("if mkdir")  # the lock, nothing else
        assert session.helpers is not None and session.helpers.locked
        session.run_privileged("gengar-1", "tc qdisc show\n")
        session.run_privileged("gengar-1", "ip -br addr\n")
        assert "oar-p2p.helper.locked=1" in fake.calls[1].command
    assert _kinds(fake, "gengar-1") == ["lock", "start+exec", "exec", "remove", "unlock"]
    assert _kinds(fake, "gengar-2") == []  # never privileged there: no helper, no check
    assert fake.closed


def test_the_helper_is_removed_when_the_command_fails() -> None:
    fake = FakeTransport(handler=_answer)
    with pytest.raises(OarP2PError, match="boom"):
        with _scope(fake) as session:
            session.run_privileged("gengar-2", "true\n")
            raise OarP2PError("boom")
    assert _kinds(fake, "gengar-2") == ["start+exec", "remove"]
    assert _kinds(fake, "gengar-1")[-1] == "unlock"


def test_the_helper_is_removed_on_ctrl_c_during_a_write() -> None:
    def answer(call: Call) -> Reply:
        if "docker exec" in call.command and b"the write" in call.stdin:
            raise KeyboardInterrupt  # Ctrl-C while the write runs
        return _answer(call)

    fake = FakeTransport(handler=answer)
    with pytest.raises(KeyboardInterrupt):
        with _scope(fake) as session:
            session.run_privileged("gengar-1", "the read\n")
            session.run_privileged("gengar-1", "the write\n")
    assert _kinds(fake, "gengar-1") == ["lock", "start+exec", "exec", "remove", "unlock"]
    assert fake.closed


def test_a_command_without_the_lock_starts_unlocked_helpers_and_removes_them() -> None:
    fake = FakeTransport(handler=_answer)
    with _scope(fake, lock=None) as session:
        session.run_privileged("gengar-1", "true\n")
    assert "oar-p2p.helper.locked=0" in fake.calls[0].command
    assert _kinds(fake, "gengar-1") == ["start+exec", "remove"]


TRUSTED = "### oar-p2p:nft ###\nskipped\n### oar-p2p:end ###\n"
LISTED = "### oar-p2p:nft ###\n### oar-p2p:end ###\n"


def _session(read: str) -> tuple[FakeTransport, Session]:
    fake = FakeTransport(handler=lambda call: Reply(read))
    executor, counted = DockerExecutor("local/helper:1"), CountingTransport(fake)
    session = Session(counted, executor, list(MACHINES), helpers=HelperPool(counted, executor))
    return fake, session


def test_a_trusted_no_op_runs_no_docker_at_all() -> None:
    fake, session = _session(TRUSTED)
    network = _network()
    plan = plan_network(session, network)
    desired = {mp.hostname: mp.desired for mp in plan.machines}
    no_op = diff_states(session, desired, desired, 100, "auto")
    assert not no_op.has_network_changes
    calls = len(fake.calls)
    assert apply_plan(session, no_op, network).machines == []
    assert len(fake.calls) == calls  # nothing written
    assert not any("docker" in c.command for c in fake.calls)
    assert session.helpers is not None and session.helpers.started == {}
    counts = session.stats()["machines"]
    assert isinstance(counts, dict)
    assert {(c["docker_runs"], c["docker_execs"]) for c in counts.values()} == {(0, 0)}


def test_an_untrusted_read_counts_its_throw_away_listing_and_a_write_its_helper() -> None:
    fake, session = _session(LISTED)
    network = _network()
    plan = plan_network(session, network)  # empty machines: everything to add
    written = {r.hostname for r in apply_plan(session, plan, network).machines}
    assert written
    counts = session.stats()["machines"]
    assert isinstance(counts, dict)
    for host, c in counts.items():
        # one `docker run` of the listing; where written, one of the helper and the write
        # in it (one exec)
        expected = (2, 1) if host in written else (1, 0)
        assert (c["docker_runs"], c["docker_execs"]) == expected, host


def test_a_streamed_write_runs_in_the_helper_with_its_chunks_in_order() -> None:
    # `apply` streams its write scripts (`Session.run_privileged` of byte chunks): they go
    # through the machine's helper like any privileged script, the chunks sent as one stdin
    fake = FakeTransport(handler=_answer)
    with _scope(fake) as session:
        session.run_privileged("gengar-1", "the read\n")
        session.run_privileged("gengar-1", iter([b"part one\n", b"part two\n"]))
    assert _kinds(fake, "gengar-1") == ["lock", "start+exec", "exec", "remove", "unlock"]
    write = [c for c in fake.calls if c.host == "gengar-1" and "docker exec" in c.command][-1]
    assert write.stdin == b"part one\npart two\n"
