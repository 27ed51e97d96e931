from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import InputError
from oar_p2p.remote.sshconfig import Hop, SshConfig, parse_proxy_jump

HOME = Path("/home/alice")

CONFIG = """\
Host dicluster
    HostName cluster.di.fct.unl.pt
    User alice42
    Port 2222
    IdentityFile /keys/id_cluster
    IdentityFile /keys/id_backup
    IdentitiesOnly yes
    UserKnownHostsFile /kh/cluster /kh/other
    GlobalKnownHostsFile /dev/null

Host gengar-* !gengar-9
    ProxyJump dicluster
    HostKeyAlias gengar-key

Host behind
    ProxyJump bob@bastion:2200,gw

Host *
    User fallback
"""


def config(text: str = CONFIG) -> SshConfig:
    return SshConfig(text, path=Path("/cfg"), home=HOME, local_user="localme")


def test_alias_resolves_hostname_user_port_identities_and_known_hosts() -> None:
    cfg = config().resolve("dicluster")
    assert cfg.hostname == "cluster.di.fct.unl.pt"
    assert cfg.user == "alice42"
    assert cfg.port == 2222
    assert cfg.identity_files == (Path("/keys/id_cluster"), Path("/keys/id_backup"))
    assert cfg.identities_explicit and cfg.identities_only
    assert cfg.known_hosts_files == (Path("/kh/cluster"), Path("/kh/other"))
    assert cfg.global_known_hosts_files == (Path("/dev/null"),)
    assert cfg.proxy_jump == ()
    assert cfg.known_hosts_name == "[cluster.di.fct.unl.pt]:2222"
    assert cfg.config_file == Path("/cfg")


def test_unknown_alias_uses_its_name_defaults_and_wildcard_user() -> None:
    cfg = config().resolve("somewhere")
    assert (cfg.hostname, cfg.port, cfg.user) == ("somewhere", 22, "fallback")
    assert cfg.identity_files == tuple(
        HOME / ".ssh" / n
        for n in ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk")
    )
    assert not cfg.identities_explicit and not cfg.identities_only
    assert cfg.known_hosts_files == (HOME / ".ssh/known_hosts", HOME / ".ssh/known_hosts2")
    assert cfg.global_known_hosts_files == (
        Path("/etc/ssh/ssh_known_hosts"),
        Path("/etc/ssh/ssh_known_hosts2"),
    )
    assert cfg.known_hosts_name == "somewhere"


def test_no_user_anywhere_means_the_local_user() -> None:
    assert config("Host x\n  Port 1\n").resolve("x").user == "localme"


def test_explicit_user_and_port_override_the_file() -> None:
    cfg = config().resolve("dicluster", user="cluster-user", port=2022)
    assert (cfg.user, cfg.port) == ("cluster-user", 2022)


def test_patterns_negation_proxyjump_and_host_key_alias() -> None:
    c = config()
    gengar = c.resolve("gengar-1")
    assert gengar.proxy_jump == (Hop("dicluster"),)
    assert gengar.known_hosts_name == "gengar-key"
    assert c.resolve("gengar-9").proxy_jump == ()
    assert c.resolve("gengar-1", port=2222).known_hosts_name == "gengar-key"  # no [..]:port


def test_proxyjump_chain_with_user_and_port() -> None:
    assert config().resolve("behind").proxy_jump == (Hop("bastion", "bob", 2200), Hop("gw"))


@pytest.mark.parametrize(
    ("text", "hops"),
    [
        ("none", ()),
        ("", ()),
        ("a", (Hop("a"),)),
        ("u@a:2", (Hop("a", "u", 2),)),
        ("ssh://u@a:2", (Hop("a", "u", 2),)),
        ("[::1]:2200", (Hop("::1", None, 2200),)),
        ("a, b@c", (Hop("a"), Hop("c", "b"))),
    ],
)
def test_parse_proxy_jump(text: str, hops: tuple[Hop, ...]) -> None:
    assert parse_proxy_jump(text) == hops


def test_proxy_jump_with_bad_port_is_an_input_error() -> None:
    with pytest.raises(
        InputError, match=r"invalid ProxyJump hop 'a:xx': the port must be a number"
    ):
        parse_proxy_jump("a:xx")


def test_tilde_in_identity_file_and_known_hosts_expands_to_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(HOME))
    cfg = config("Host h\n  IdentityFile ~/.ssh/k\n  UserKnownHostsFile ~/kh\n").resolve("h")
    assert cfg.identity_files == (HOME / ".ssh/k",)
    assert cfg.known_hosts_files == (HOME / "kh",)


def test_include_is_inlined(tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    (ssh / "conf.d").mkdir(parents=True)
    (ssh / "conf.d" / "cluster.conf").write_text("Host inc\n  HostName included.example\n")
    cfg = SshConfig("Include conf.d/*.conf\n", home=tmp_path, local_user="me").resolve("inc")
    assert cfg.hostname == "included.example"


def test_load_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        SshConfig.load(tmp_path / "nope")
    assert str(err.value) == (
        f"ssh config {tmp_path / 'nope'} does not exist; fix --ssh-config / OAR_P2P_SSH_CONFIG"
    )


def test_load_defaults_to_home_config_or_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert SshConfig.load().path is None
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host z\n  HostName zz\n")
    loaded = SshConfig.load()
    assert loaded.path == tmp_path / ".ssh" / "config"
    assert loaded.resolve("z").hostname == "zz"
