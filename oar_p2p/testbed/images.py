"""Container images for the testbed, built from host files (no registry is reachable).

Two root filesystems are written as tarballs that each machine's dockerd imports at boot:

- the demo image (`oar-p2p/demo:latest`): busybox-static and its applets (`sh`, `ping`,
  `sleep`, `cat`, ...), and the host's iputils ping as `iputils-ping` (with its libraries:
  `-D` prints a timestamp per reply, which the timeline's e2e test reads);
- the helper image (`local/oar-p2p-networking:testbed`): the host's real `ip`, `tc` and
  `nft` with their libraries, `/etc/iproute2` and tc's netem distribution tables, bash as
  `sh` (busybox's `sh` would run its own `ip` applet), busybox for everything else.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from oar_p2p.errors import TestbedError

__all__ = [
    "DEMO_IMAGE",
    "HELPER_IMAGE",
    "Rootfs",
    "build_images",
    "busybox_links",
    "demo_rootfs",
    "helper_rootfs",
    "parse_ldd",
]

DEMO_IMAGE = "oar-p2p/demo:latest"
HELPER_IMAGE = "local/oar-p2p-networking:testbed"
BUSYBOX = Path("/bin/busybox")
_BASE_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "root", "run")
_ETC_TEXT = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hostname": "container\n",
}
DEMO_PING = ("usr/bin/iputils-ping", "/usr/bin/ping")  # in the image, on the host
_HELPER_TOOLS = ("/bin/bash", "/bin/ip", "/sbin/tc", "/usr/sbin/nft")
_HELPER_LINKS = {
    "bin/sh": "bash",
    "usr/bin/bash": "/bin/bash",
    "usr/sbin/ip": "/bin/ip",
    "sbin/ip": "/bin/ip",
    "usr/sbin/tc": "/sbin/tc",
    "sbin/nft": "/usr/sbin/nft",
}
_HELPER_TREES = ("/etc/iproute2", "/usr/lib/x86_64-linux-gnu/tc")
_HELPER_ETC = ("/etc/protocols", "/etc/services", "/etc/ethertypes")


@dataclass
class Rootfs:
    """A root filesystem to write as a tarball: copied host files, symlinks, text files."""

    files: dict[str, Path] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)


def parse_ldd(text: str) -> list[Path]:
    """Library paths from `ldd` output (vdso and "not found" lines dropped).

    >>> parse_ldd("\\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\\n"
    ...           "\\t/lib64/ld-linux-x86-64.so.2 (0x2)\\n\\tlinux-vdso.so.1 (0x3)\\n")
    [PosixPath('/lib/x86_64-linux-gnu/libc.so.6'), PosixPath('/lib64/ld-linux-x86-64.so.2')]
    """
    paths: list[Path] = []
    for line in text.splitlines():
        words = line.split()
        if "=>" in words:
            words = words[words.index("=>") + 1 :]
        if words and words[0].startswith("/"):
            paths.append(Path(words[0]))
    return paths


def busybox_links(applets: Iterable[str], taken: Iterable[str]) -> dict[str, str]:
    """`bin/<applet> -> busybox` for every applet not already provided by a real binary."""
    names = {PurePosixPath(path).name for path in taken}
    return {f"bin/{a}": "busybox" for a in sorted(set(applets)) if a and a not in names}


def demo_rootfs(applets: Iterable[str], libraries: Iterable[Path] = ()) -> Rootfs:
    """The demo image: busybox, and iputils ping when `libraries` (its own) are given."""
    rootfs = Rootfs(files={"bin/busybox": BUSYBOX}, texts=dict(_ETC_TEXT))
    rootfs.links = busybox_links(applets, taken=["busybox"])
    libs = list(libraries)
    if libs:
        rootfs.files[DEMO_PING[0]] = Path(DEMO_PING[1])
        for lib in libs:
            rootfs.files[str(lib).lstrip("/")] = lib
    rootfs.dirs = {*_BASE_DIRS, "tmp"}
    return rootfs


def helper_rootfs(applets: Iterable[str], libraries: Iterable[Path]) -> Rootfs:
    """The helper image: real ip/tc/nft and bash, busybox for the rest."""
    rootfs = demo_rootfs(applets)
    for tool in _HELPER_TOOLS:
        rootfs.files[tool.lstrip("/")] = Path(tool)
    for lib in libraries:
        rootfs.files[str(lib).lstrip("/")] = lib
    for extra in _HELPER_ETC:
        if Path(extra).is_file():
            rootfs.files[extra.lstrip("/")] = Path(extra)
    for tree in _HELPER_TREES:
        for path in sorted(Path(tree).rglob("*")):
            if path.is_file():
                rootfs.files[str(path).lstrip("/")] = path
    links = {**_HELPER_LINKS, "usr/lib/tc": "/usr/lib/x86_64-linux-gnu/tc"}
    rootfs.links = {**busybox_links(applets, taken=[*rootfs.files, *links]), **links}
    return rootfs


def write_tarball(rootfs: Rootfs, dest: Path) -> None:
    """Write `rootfs` to `dest` (a plain tar archive, as `docker import` reads it)."""
    with tarfile.open(dest, "w") as tar:
        for directory in sorted(_all_dirs(rootfs)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        for name, src in sorted(rootfs.files.items()):
            tar.add(str(src.resolve()), arcname=name, recursive=False)
        for name, target in sorted(rootfs.links.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
        for name, text in sorted(rootfs.texts.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def _all_dirs(rootfs: Rootfs) -> set[str]:
    dirs = set(rootfs.dirs)
    for name in [*rootfs.files, *rootfs.links, *rootfs.texts]:
        dirs.update(str(parent) for parent in PurePosixPath(name).parents if str(parent) != ".")
    return dirs


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise TestbedError(f"building testbed images: `{' '.join(argv)}` failed: {exc}") from exc


def build_images(dest_dir: Path) -> dict[str, str]:
    """Write the demo and helper tarballs into `dest_dir`; return {tarball name: tag}."""
    missing = [tool for tool in (str(BUSYBOX), *_HELPER_TOOLS) if not Path(tool).is_file()]
    if missing:
        raise TestbedError(f"building testbed images: missing {', '.join(missing)}")
    applets = _output([str(BUSYBOX), "--list"]).split()
    libraries = {lib for tool in _HELPER_TOOLS for lib in parse_ldd(_output(["ldd", tool]))}
    dest_dir.mkdir(parents=True, exist_ok=True)
    ping_libs = parse_ldd(_output(["ldd", DEMO_PING[1]])) if Path(DEMO_PING[1]).is_file() else []
    write_tarball(demo_rootfs(applets, ping_libs), dest_dir / "demo.tar")
    write_tarball(helper_rootfs(applets, sorted(libraries)), dest_dir / "helper.tar")
    return {"demo.tar": DEMO_IMAGE, "helper.tar": HELPER_IMAGE}
