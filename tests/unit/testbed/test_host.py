from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.testbed import host
from oar_p2p.testbed.host import uml_argv
from oar_p2p.testbed.layout import Layout


def test_uml_boots_in_the_client_namespace_with_hostfs_root_and_our_init() -> None:
    argv = uml_argv(Path("/k/linux"), Layout.named("tb", 2), Path("/run/tb"), mem_mb=2048)
    assert argv[:5] == ["ip", "netns", "exec", "tb-client", "/k/linux"]
    assert "rootfstype=hostfs" in argv and "rootflags=/" in argv
    assert "init=/run/tb/guest/init.sh" in argv
    assert "umid=tb-testbed" in argv and "uml_dir=/run/tb/uml" in argv
    assert "vec0:transport=tap,ifname=tb-tap0,gro=1" in argv
    assert "mem=2048M" in argv


class _Child:
    def __init__(self, code: int | None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


def test_a_kernel_we_started_is_alive_until_reaped_whatever_its_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at boot the kernel execs itself: its command line reads empty for a moment
    monkeypatch.setattr(host, "_cmdline", lambda pid: b"")
    monkeypatch.setitem(host._STARTED, 999_991, _Child(None))
    assert host.is_uml_alive(999_991, Layout.named("tb"))
    monkeypatch.setitem(host._STARTED, 999_991, _Child(0))
    assert not host.is_uml_alive(999_991, Layout.named("tb"))
    assert 999_991 not in host._STARTED
