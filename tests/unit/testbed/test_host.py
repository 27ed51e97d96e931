from __future__ import annotations

from pathlib import Path

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
