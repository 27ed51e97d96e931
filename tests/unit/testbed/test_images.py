from __future__ import annotations

import tarfile
from pathlib import Path

from oar_p2p.testbed.images import (
    Rootfs,
    busybox_links,
    demo_rootfs,
    helper_rootfs,
    parse_ldd,
    write_tarball,
)

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f4e)
\tlibgone.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f4e)
"""


def test_parse_ldd_keeps_resolved_libraries_and_the_loader() -> None:
    assert parse_ldd(LDD) == [
        Path("/lib/x86_64-linux-gnu/libmnl.so.0"),
        Path("/lib64/ld-linux-x86-64.so.2"),
    ]


def test_busybox_links_skip_names_a_real_binary_provides() -> None:
    links = busybox_links(["sh", "ip", "ping", "cat"], taken=["bin/sh", "usr/sbin/ip"])
    assert links == {"bin/cat": "busybox", "bin/ping": "busybox"}


def test_demo_rootfs_is_busybox_with_its_applets() -> None:
    rootfs = demo_rootfs(["sh", "ping", "sleep"])
    assert rootfs.files == {"bin/busybox": Path("/bin/busybox")}
    assert rootfs.links == {"bin/ping": "busybox", "bin/sh": "busybox", "bin/sleep": "busybox"}


def test_helper_rootfs_uses_bash_as_sh_and_real_network_tools() -> None:
    rootfs = helper_rootfs(["sh", "ip", "tc", "ping"], [Path("/lib64/ld-linux-x86-64.so.2")])
    assert rootfs.links["bin/sh"] == "bash"
    assert rootfs.links["usr/sbin/ip"] == "/bin/ip"
    assert rootfs.links["bin/ping"] == "busybox"
    assert "bin/ip" in rootfs.files and "bin/tc" not in rootfs.links
    assert rootfs.files["lib64/ld-linux-x86-64.so.2"] == Path("/lib64/ld-linux-x86-64.so.2")


def test_tarball_has_parent_dirs_links_and_texts(tmp_path: Path) -> None:
    source = tmp_path / "tool"
    source.write_bytes(b"#!/bin/sh\n")
    rootfs = Rootfs(
        files={"usr/sbin/tool": source},
        links={"bin/t": "/usr/sbin/tool"},
        texts={"etc/hostname": "x\n"},
        dirs={"tmp"},
    )
    write_tarball(rootfs, tmp_path / "r.tar")
    with tarfile.open(tmp_path / "r.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert {"usr", "usr/sbin", "bin", "etc", "tmp"} <= set(members)
        assert members["tmp"].mode == 0o1777
        assert members["bin/t"].issym() and members["bin/t"].linkname == "/usr/sbin/tool"
        hostname = tar.extractfile("etc/hostname")
        assert hostname is not None and hostname.read() == b"x\n"
