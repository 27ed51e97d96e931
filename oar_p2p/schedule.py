"""The original `run` schedule: a JSON array of containers, errors at `file:line:col`.

    [{"name": "a", "address": "10.16.0.1", "image": "demo:latest", "env": {"K": "V"}}, ...]

`name` defaults to the address; the machine is the one whose index is the address's second
octet.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from oar_p2p.errors import ScheduleError
from oar_p2p.inputs import SCHEDULE, check_text, position, read_input

__all__ = ["ScheduleEntry", "load_schedule", "load_schedule_bytes", "parse_schedule"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")
_KEYS = {"name", "address", "image", "env"}


@dataclass(frozen=True)
class ScheduleEntry:
    name: str
    address: str
    image: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def machine_index(self) -> int:
        return int(self.address.split(".")[1])


_pos = position


def load_schedule(path: Path | None, stdin: BinaryIO | None = None) -> list[ScheduleEntry]:
    """Read (the file at `path`, else `stdin`'s bytes), decode and parse a schedule."""
    return load_schedule_bytes(path, stdin)[0]


def load_schedule_bytes(
    path: Path | None, stdin: BinaryIO | None = None
) -> tuple[list[ScheduleEntry], bytes]:
    """`load_schedule`, and the bytes read (a run directory keeps a copy)."""
    source = read_input(path, SCHEDULE, stdin=stdin)
    return parse_schedule(source.text(), source.file), source.data


def parse_schedule(text: str, file: str = "<stdin>") -> list[ScheduleEntry]:
    """Parse and validate a schedule; every error names file, line and column."""
    check_text(text, file, SCHEDULE)  # control characters, nesting: before json's recursion
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if i >= len(text) or text[i] != "[":
        line, col = _pos(text, i)
        raise ScheduleError(
            "a schedule must be a JSON array of objects "
            '(allowed: [{"address", "image", "name"?, "env"?}, ...])',
            file=file,
            line=line,
            col=col,
        )
    i = _skip(text, i + 1)
    entries: list[ScheduleEntry] = []
    while i < len(text) and text[i] != "]":
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ScheduleError(
                f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, col=exc.colno
            ) from None
        except ValueError:  # an integer of more than 4,300 digits
            line, col = _pos(text, i)
            raise ScheduleError(
                "a number in this entry is too long (allowed: at most 4300 digits)",
                file=file,
                line=line,
                col=col,
            ) from None
        entries.append(_entry(value, text, i, file))
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
        elif i < len(text) and text[i] != "]":
            line, col = _pos(text, i)
            raise ScheduleError("invalid JSON: expected ',' or ']'", file=file, line=line, col=col)
    if i >= len(text):
        line, col = _pos(text, len(text))
        raise ScheduleError("invalid JSON: the array is not closed", file=file, line=line, col=col)
    if _skip(text, i + 1) < len(text):
        line, col = _pos(text, _skip(text, i + 1))
        raise ScheduleError("unexpected text after the array", file=file, line=line, col=col)
    _check_unique(entries, file)
    return entries


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _entry(value: object, text: str, offset: int, file: str) -> ScheduleEntry:
    line, col = _pos(text, offset)

    def fail(msg: str) -> ScheduleError:
        return ScheduleError(msg, file=file, line=line, col=col)

    if not isinstance(value, dict):
        raise fail("each schedule entry must be an object with address and image")
    extra = sorted(set(value) - _KEYS)
    if extra:
        raise fail(f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
    address = value.get("address")
    if not isinstance(address, str) or not _is_ours(address):
        raise fail(f"address {address!r} is invalid (allowed: an address 10.X.Y.Z of the network)")
    image = value.get("image")
    if not isinstance(image, str) or not _IMAGE.fullmatch(image):
        raise fail(f"image {image!r} is invalid (allowed: a docker image reference)")
    name = value.get("name", address)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail(
            f"name {name!r} is invalid (allowed: letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    env = value.get("env", {})
    if not isinstance(env, dict):
        raise fail("env must be an object of string values")
    for k, v in env.items():
        if not _ENV_KEY.fullmatch(k):
            raise fail(
                f"env key {k!r} is invalid (allowed: letters, digits, '_', not "
                "starting with a digit)"
            )
        if not isinstance(v, str):
            raise fail(f"env value of {k!r} must be a string, got {type(v).__name__}")
    return ScheduleEntry(name=name, address=address, image=image, env=dict(env))


def _is_ours(address: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return ip in ipaddress.IPv4Network("10.0.0.0/8") and str(ip) == address


def _check_unique(entries: list[ScheduleEntry], file: str) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise ScheduleError(
                f"container name {e.name!r} is used twice (allowed: unique "
                "names; give `name` explicitly)",
                file=file,
            )
        seen.add(e.name)
