"""Shared vocabulary, defined once: the choices users make and the names the tool owns.

Every model, setting, help text and generated script takes these from here, so a new
executor kind or a renamed table is one edit. Pure: no imports from the rest of the package.

>>> ExecutorKind("sudo") is ExecutorKind.SUDO
True
>>> choices(HostKeyPolicy)
'strict, accept-new, off'
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "HOST_SIGNAL_DIR",
    "CAPS_MAP",
    "LOCK_DIR",
    "MAP",
    "OWNED_PREFIX",
    "RECORD_DIR",
    "ROUTE",
    "SIGNAL_DIR",
    "TABLE",
    "ExecutorKind",
    "HostKeyPolicy",
    "RefreshMode",
    "choices",
]


class ExecutorKind(StrEnum):
    """How privileged work runs on a machine."""

    DOCKER = "docker"  # a privileged helper container with host networking
    SUDO = "sudo"  # `sudo -n`
    ROOT = "root"  # the SSH user is root (test machines)


class HostKeyPolicy(StrEnum):
    """What to do with a host key that is not in known_hosts."""

    STRICT = "strict"  # refuse
    ACCEPT_NEW = "accept-new"  # record it (a changed key is still refused)
    OFF = "off"  # accept anything (test clusters only)


class RefreshMode(StrEnum):
    """How much of the nft map a read lists."""

    AUTO = "auto"  # trust the apply record when the map is large and the record matches
    FULL = "full"  # always list the map from the kernel


def choices(enum: type[StrEnum]) -> str:
    """The allowed values, for help texts and error messages."""
    return ", ".join(member.value for member in enum)


# What the tool owns on a machine (see DESIGN: ownership).
OWNED_PREFIX = "10.0.0.0/8"  # the emulated addresses live here, /32 each
ROUTE = OWNED_PREFIX  # the route installed on the cluster interface
TABLE = "oar-p2p"  # nft table `ip oar-p2p`
MAP = "mark_pairs"  # its (source . destination) -> mark map
CAPS_MAP = "caps"  # its source -> cap class (classid) map, with per-address caps
RECORD_DIR = "/run/oar-p2p"  # the apply record (tmpfs: a reboot wipes it with the state)
SIGNAL_DIR = "/oar-p2p"  # inside containers: where signal files appear
HOST_SIGNAL_DIR = "/tmp/oar-p2p-signal"  # on the machines: mounted at SIGNAL_DIR
LOCK_DIR = "/tmp/oar-p2p.lock"  # the job lock on the lock machine
