"""The user-mode-linux kernel the testbed boots: built once, cached by configuration.

Debian's own `linux.uml` lacks the nf_tables ip/inet families, so the project builds one
with `scripts/build-uml-kernel.sh` (about 5-20 minutes) and caches it under
``${OAR_P2P_CACHE:-~/.cache/oar-p2p}/uml-<key>/linux``. `OAR_P2P_UML_KERNEL` overrides the
path (a kernel you built yourself).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from pathlib import Path

from oar_p2p.errors import TestbedError

__all__ = [
    "KERNEL_CONFIG",
    "SOURCE_TARBALL",
    "cache_dir",
    "cache_key",
    "ensure_kernel",
    "kernel_inputs",
]

KERNEL_CONFIG = Path(__file__).parent / "data" / "uml-kernel.config"
SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
_BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-uml-kernel.sh"


def cache_dir() -> Path:
    """Where built kernels (and testbed images) are cached, outside any repository."""
    return Path(os.environ.get("OAR_P2P_CACHE") or Path.home() / ".cache" / "oar-p2p")


def kernel_inputs() -> bytes:
    """What the build depends on besides the tarball: the options, then the patches."""
    patches = sorted(KERNEL_CONFIG.parent.glob("uml-*.patch"))
    return KERNEL_CONFIG.read_bytes() + b"".join(p.read_bytes() for p in patches)


def cache_key(inputs: bytes, tarball_size: int) -> str:
    """The cache key `build-uml-kernel.sh` computes (same digest, in Python) from
    `kernel_inputs()` and the tarball's size.

    >>> cache_key(b"", 1)[:4]
    'bc11'
    """
    inputs_digest = hashlib.sha256(inputs).hexdigest()[:16]
    return hashlib.sha256(f"{inputs_digest}\n{tarball_size}\n".encode()).hexdigest()[:16]


def _cached_kernel() -> Path | None:
    if not SOURCE_TARBALL.is_file():
        return None
    key = cache_key(kernel_inputs(), SOURCE_TARBALL.stat().st_size)
    path = cache_dir() / f"uml-{key}" / "linux"
    return path if os.access(path, os.X_OK) else None


def ensure_kernel(*, build: bool = True) -> Path:
    """Return the kernel to boot, building it with the project script when not cached."""
    override = os.environ.get("OAR_P2P_UML_KERNEL")
    if override:
        if not os.access(override, os.X_OK):
            raise TestbedError(f"OAR_P2P_UML_KERNEL={override} is not an executable file")
        return Path(override)
    cached = _cached_kernel()
    if cached is not None:
        return cached
    if not build or not _BUILD_SCRIPT.is_file():
        raise TestbedError(
            "no cached UML kernel for this configuration; build it with "
            "scripts/build-uml-kernel.sh from the oar-p2p repository "
            "(or set OAR_P2P_UML_KERNEL to a kernel with nf_tables ip/inet and netem)"
        )
    # One build at a time: concurrent callers (parallel test sessions) wait, then reuse.
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "uml-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _cached_kernel() or _build()


def _build() -> Path:
    proc = subprocess.run(["bash", str(_BUILD_SCRIPT)], stdout=subprocess.PIPE, check=False)
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        raise TestbedError(f"building the UML kernel failed ({_BUILD_SCRIPT}, see its output)")
    return Path(lines[-1])
