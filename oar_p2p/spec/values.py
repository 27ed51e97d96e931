"""Small value types that state their rules in their errors.

`AddressPolicy` and `SignalSpec` parse exactly the forms the original tool accepts:

    AddressPolicy.parse("4")          -> 4 addresses in total, round-robin over machines
    AddressPolicy.parse("4/machine")  -> 4 on every machine
    AddressPolicy.parse("4/cpu")      -> 4 per cpu on every machine
    SignalSpec.parse("start:5")       -> signal `start` 5 s after all containers started
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from oar_p2p.errors import ValueParseError

__all__ = [
    "AddressPolicy",
    "PolicyKind",
    "SignalSpec",
    "parse_signal_name",
    "SIGNAL_NAME_RULE",
    "POLICY_RULE",
    "HOSTNAME_RULE",
    "IFACE_RULE",
    "MAX_SIGNAL_DELAY",
    "SSH_ALIAS_RULE",
    "check_ssh_alias",
    "is_hostname",
    "is_interface_name",
    "signal_delay_problem",
]

POLICY_RULE = (
    "allowed: N (total, round-robin over machines), N/machine or N/cpu, "
    "N a non-negative whole number, no spaces"
)
SIGNAL_NAME_RULE = "1-64 characters of letters, digits, '_' and '-'"
_SIGNAL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NUMBER = re.compile(r"[0-9]+")
# A machine's name reaches ssh (connections, the jump host's direct-tcpip channel) and the
# experiment's env templates: anything but a plain DNS name is refused where it enters
# (spec, oarstat, OAR_NODEFILE).
HOSTNAME_RULE = (
    "a DNS name: dot-separated labels of letters, digits and '-', each 1-63 long and not "
    "starting with '-', at most 253 characters"
)
_LABEL = r"[A-Za-z0-9][A-Za-z0-9-]{0,62}"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def is_hostname(name: str) -> bool:
    """True for a plain DNS name (`gengar-1`, `gengar-1.nova`); False for anything else."""
    return len(name) <= 253 and _HOSTNAME.fullmatch(name) is not None


# An interface name reaches `ip`, `tc` and nft scripts: Linux allows 1-15 bytes without '/',
# ':' or whitespace; we allow only the characters real names use.
IFACE_RULE = "1-15 of letters, digits, '_', '.', '-', not '.' or '..' (a Linux interface name)"
_IFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def is_interface_name(name: str) -> bool:
    """True for a plain Linux interface name (`eth0`, `bond0.100`); False for anything else."""
    return _IFACE.fullmatch(name) is not None and name not in (".", "..")


# The frontend alias reaches ssh_config lookups, `ProxyCommand ... %h` and the jump route:
# anything that could be read as an option (`-oProxyCommand=...`) or by a shell is refused.
SSH_ALIAS_RULE = (
    "an ssh host name or Host alias: letters, digits, '.', '_', '-', not starting with '-', "
    "at most 253 characters (an optional user@ prefix of the same characters)"
)
_SSH_ALIAS = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}@)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")


def check_ssh_alias(text: str, where: str) -> str:
    """`text` when it is a safe ssh alias/host name, else a `ValueParseError` naming `where`.

    ``check_ssh_alias("dicluster", "--frontend-hostname")`` -> ``"dicluster"``;
    ``check_ssh_alias("-oProxyCommand=x", "FRONTEND_HOSTNAME")`` raises.
    """
    if _SSH_ALIAS.fullmatch(text) is None:
        raise ValueParseError(f"{where}: invalid ssh alias {text!r}: allowed: {SSH_ALIAS_RULE}")
    return text


USER_RULE = "1-64 of letters, digits, '_', '.', '-', not starting with '.' or '-'"
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def check_user_name(text: str, where: str) -> str:
    """`text` when it is a plain remote user name, else a `ValueParseError` naming `where`."""
    if _USER.fullmatch(text) is None:
        raise ValueParseError(f"{where}: user name {text!r} is invalid: allowed: {USER_RULE}")
    return text


class PolicyKind(StrEnum):
    TOTAL = "total"
    PER_MACHINE = "machine"
    PER_CPU = "cpu"


@dataclass(frozen=True)
class AddressPolicy:
    """How many addresses each machine gets."""

    kind: PolicyKind
    count: int

    @classmethod
    def parse(cls, text: str) -> AddressPolicy:
        number, sep, suffix = text.partition("/")
        if not _NUMBER.fullmatch(number):
            raise ValueParseError(f"invalid address policy {text!r}: {POLICY_RULE}")
        count = int(number)
        if not sep:
            return cls(PolicyKind.TOTAL, count)
        if suffix == "machine":
            return cls(PolicyKind.PER_MACHINE, count)
        if suffix == "cpu":
            return cls(PolicyKind.PER_CPU, count)
        raise ValueParseError(
            f"invalid address policy {text!r}: unknown suffix '/{suffix}'; {POLICY_RULE}"
        )

    def __str__(self) -> str:
        if self.kind is PolicyKind.TOTAL:
            return str(self.count)
        return f"{self.count}/{self.kind.value}"


def parse_signal_name(text: str) -> str:
    """Validate a signal name (it becomes a file name under /oar-p2p/)."""
    if not _SIGNAL_NAME.fullmatch(text):
        raise ValueParseError(f"invalid signal name {text!r}: allowed: {SIGNAL_NAME_RULE}")
    return text


MAX_SIGNAL_DELAY = 7 * 24 * 3600  # seconds: one week


def signal_delay_problem(delay: float) -> str | None:
    """Why `delay` (seconds) is not a valid signal delay, or None when it is."""
    if not math.isfinite(delay) or not 0 <= delay <= MAX_SIGNAL_DELAY:
        return (
            f"signal delay {delay!r} is out of range (allowed: finite seconds from 0 to "
            f"{MAX_SIGNAL_DELAY}, one week)"
        )
    return None


@dataclass(frozen=True)
class SignalSpec:
    """`NAME:SECONDS`: fire signal NAME SECONDS after all containers started."""

    name: str
    delay: int

    @classmethod
    def parse(cls, text: str) -> SignalSpec:
        rule = (
            f"allowed: NAME:SECONDS, NAME {SIGNAL_NAME_RULE}, SECONDS a non-negative whole number "
            f"up to {MAX_SIGNAL_DELAY} (one week)"
        )
        name, sep, seconds = text.partition(":")
        if not sep:
            raise ValueParseError(f"invalid signal {text!r}: missing ':'; {rule}")
        if not _SIGNAL_NAME.fullmatch(name):
            raise ValueParseError(f"invalid signal {text!r}: bad name {name!r}; {rule}")
        if not _NUMBER.fullmatch(seconds) or len(seconds) > 9:
            raise ValueParseError(f"invalid signal {text!r}: bad delay {seconds!r}; {rule}")
        problem = signal_delay_problem(int(seconds))
        if problem:
            raise ValueParseError(f"invalid signal {text!r}: {problem}")
        return cls(name, int(seconds))

    def __str__(self) -> str:
        return f"{self.name}:{self.delay}"
