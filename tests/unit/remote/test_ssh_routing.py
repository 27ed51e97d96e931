"""Jump-host selection: which hops `SshTransport.route` takes (no connection is opened)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import ConnectError
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.sshconfig import SshConfig

CONFIG = """\
Host dicluster
    HostName cluster.example
    User alice
Host bastioned
    ProxyJump bastion
Host bastion
    HostName bastion.example
    User bob
Host chain
    ProxyJump carol@hop1:2201,hop2
Host loop1
    ProxyJump loop2
Host loop2
    ProxyJump loop1
Host gengar-*
    ProxyJump elsewhere-gw
"""


def transport(**kw: object) -> SshTransport:
    cfg = SshConfig(CONFIG, home=Path("/h"), local_user="me")
    return SshTransport(config=cfg, **kw)  # type: ignore[arg-type]


def names(t: SshTransport, host: str) -> list[tuple[str, str, int]]:
    return [(c.alias, c.user, c.port) for c in t.route(host)]


def test_from_elsewhere_machines_go_through_the_frontend() -> None:
    t = transport(frontend="dicluster", jump=True)
    assert names(t, "gengar-1") == [("dicluster", "alice", 22), ("gengar-1", "me", 22)]


def test_the_frontend_itself_is_direct() -> None:
    t = transport(frontend="dicluster", jump=True)
    assert names(t, "dicluster") == [("dicluster", "alice", 22)]


def test_on_the_frontend_machines_are_direct() -> None:
    assert names(transport(frontend="dicluster", jump=False), "node-7") == [("node-7", "me", 22)]


def test_the_frontend_jump_replaces_a_configured_proxyjump_of_a_machine() -> None:
    t = transport(frontend="dicluster", jump=True)
    assert [c.alias for c in t.route("gengar-2")] == ["dicluster", "gengar-2"]


def test_without_jump_a_configured_proxyjump_is_honoured() -> None:
    t = transport(frontend="dicluster", jump=False)
    assert names(t, "bastioned") == [("bastion", "bob", 22), ("bastioned", "me", 22)]


def test_the_frontends_own_proxyjump_is_honoured() -> None:
    cfg = SshConfig(CONFIG + "Host fe\n    ProxyJump bastion\n", home=Path("/h"), local_user="me")
    t = SshTransport(config=cfg, frontend="fe", jump=True)
    assert [c.alias for c in t.route("gengar-1")] == ["bastion", "fe", "gengar-1"]


def test_proxyjump_chain_in_order_with_user_and_port() -> None:
    t = transport(frontend=None, jump=True)
    assert names(t, "chain") == [("hop1", "carol", 2201), ("hop2", "me", 22), ("chain", "me", 22)]


def test_cluster_username_applies_to_every_hop_but_not_to_an_explicit_hop_user() -> None:
    t = transport(frontend="dicluster", username="u1", jump=True)
    assert names(t, "gengar-1") == [("dicluster", "u1", 22), ("gengar-1", "u1", 22)]
    t2 = transport(frontend=None, username="u1")
    assert names(t2, "chain") == [("hop1", "carol", 2201), ("hop2", "u1", 22), ("chain", "u1", 22)]


def test_proxyjump_loop_is_reported() -> None:
    t = transport(frontend=None, jump=False)
    with pytest.raises(ConnectError, match=r"more than 8 ProxyJump hops to reach loop\d"):
        t.route("loop1")
