"""Parse the tc tree of one interface from three read commands.

    tc -j qdisc show dev IF     JSON: the root qdisc and the netem children
    tc class show dev IF        text: iproute2 6.1 ignores ``-j`` for HTB classes
    tc filter show dev IF       text: ``tc -j filter show`` prints invalid JSON for fw

Root qdisc: a device starts with a kernel default root (``noqueue``, ``pfifo_fast``,
``fq_codel``, ``mq``, ...), always with handle ``0:``; a qdisc someone installed with
``tc qdisc add|replace ... root`` always has a nonzero handle (given, or allocated as
``8001:``...). So handle ``0:`` -> ``root=None`` ("nothing installed") whatever its kind,
and any other root -> ``RootQdisc(kind, handle, default_minor)``, which the diff sees as
foreign unless it is our ``htb 1: default fffe``.

Classes are read only under an HTB root (of any handle): the HTB classes of that major,
the netem qdisc whose parent is the class, and the ``fw`` filter attached to the root
that points to the class (its handle is the mark). Other filters (u32, ...) and qdiscs
(ingress, ...) are not ours and are ignored; a second fw filter for the same class is
ignored too (the first in tc's order wins).

Netem delays: iproute2 before 6.9 (Debian 12 has 6.1) sends and prints delays as 64 ns
psched ticks, truncating twice: ``delay 2500us`` is stored as 39,062 ticks (2,499.968 us)
and printed as ``0.002499``. `netem_delay_us` undoes this and returns the value tc was
given: exact for every delay that is not ``8k + 1`` us (so for every multiple of 2 us;
``8k + 1`` reads back as ``8k``). tc prints seconds with ``%g`` (six significant digits),
so delays of 1 s or more are exact only when a multiple of 10 us (100 us from 10 s).
Newer iproute2 prints the delay in nanoseconds: pass ``netem_ticks=False``.

Jitter is printed like the delay (``"delay": {"delay": s, "jitter": s}``, the same ticks);
loss as ``"loss-random": {"loss": fraction}`` (read back in steps of 0.001 %,
`loss_milli`); a netem ``rate`` as ``"rate": {"rate": bytes per second}``. A netem with
delay 0 and no jitter has no ``delay`` key; the jitter distribution is not printed at all
(the tool always writes ``distribution normal``), nor is a loss correlation read (the
tool never writes one). Zero jitter, loss or rate read as None, as the desired state has
them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from oar_p2p.desired.link import LOSS_STEPS_PER_PERCENT
from oar_p2p.observe import output_error
from oar_p2p.state import RootQdisc, TcClass, TcTree

__all__ = ["loss_milli", "netem_delay_us", "parse_rate", "parse_tc"]

_RATE = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<prefix>[KMGT]i?)?bit")
_SCALE = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SCALE |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Qdisc(_Lenient):
    kind: str
    handle: str
    root: bool = False
    parent: str | None = None
    options: dict[str, Any] = {}


class _HtbOptions(_Lenient):
    default: str = "0"


class _Delay(_Lenient):
    delay: float
    jitter: float = 0.0


class _Loss(_Lenient):
    loss: float


class _NetemRate(_Lenient):
    rate: int  # bytes per second in `tc -j`


class _NetemOptions(_Lenient):
    delay: _Delay | None = None
    loss_random: _Loss | None = Field(default=None, alias="loss-random")
    rate: _NetemRate | None = None


@dataclass(frozen=True)
class _Netem:
    major: int
    delay_us: int
    jitter_us: int | None = None
    loss_milli: int | None = None
    rate_bps: int | None = None


_QDISCS = TypeAdapter(list[_Qdisc])


def parse_tc(
    interface: str,
    qdisc_json: str,
    class_text: str,
    filter_text: str,
    *,
    netem_ticks: bool = True,
) -> TcTree:
    """The three outputs for `interface` -> its `TcTree`.

    Empty outputs (missing device) -> ``TcTree(interface)``, as does the kernel default:

    >>> parse_tc("lo", '[{"kind":"noqueue","handle":"0:","root":true,"options":{}}]', "", "")
    TcTree(interface='lo', root=None, classes=())

    Our tree (``qdisc``: htb 1: default 0xfffe plus ``{"kind":"netem","handle":"c:",
    "parent":"1:b","options":{"delay":{"delay":0.001}}}``; ``class``: ``class htb 1:b root
    leaf c: prio 0 rate 10Gbit ...``; ``filter``: ``filter parent 1: protocol ip pref 1 fw
    chain 0 handle 0xb classid 1:b``) -> ``TcClass(minor=11, rate_bps=10**10,
    delay_us=1000, netem_major=12, mark=11)``.
    """
    command, text = f"tc -j qdisc show dev {interface}", qdisc_json
    try:
        qdiscs = _QDISCS.validate_json(qdisc_json) if qdisc_json.strip() else []
        root = _root(qdiscs)
        if root is None or root.kind != "htb":
            return TcTree(interface=interface, root=root)
        major = _major(root.handle)
        netems = _netems(qdiscs, major, netem_ticks)
        command, text = f"tc class show dev {interface}", class_text
        rates = _htb_rates(class_text, major)
        command, text = f"tc filter show dev {interface}", filter_text
        marks = _fw_marks(filter_text, major)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise output_error(command, exc, getattr(exc, "line", text)) from exc
    classes = (
        _class(minor, rate, netems.get(minor), marks.get(minor))
        for minor, rate in sorted(rates.items())
    )
    return TcTree(interface=interface, root=root, classes=tuple(classes))


def _class(minor: int, rate: int, netem: _Netem | None, mark: int | None) -> TcClass:
    if netem is None:
        return TcClass(minor=minor, rate_bps=rate, mark=mark)
    return TcClass(
        minor=minor,
        rate_bps=rate,
        delay_us=netem.delay_us,
        netem_major=netem.major,
        mark=mark,
        jitter_us=netem.jitter_us,
        loss_milli=netem.loss_milli,
        netem_rate_bps=netem.rate_bps,
    )


def parse_rate(text: str) -> int:
    """A rate as tc prints it (decimal units, or binary ones with ``-iec``) -> bits/s.

    >>> parse_rate("10Gbit"), parse_rate("2500Kbit"), parse_rate("1Mibit"), parse_rate("800bit")
    (10000000000, 2500000, 1048576, 800)
    """
    m = _RATE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a tc rate: {text!r}")
    return round(float(m["num"]) * _SCALE[m["prefix"] or ""])


def netem_delay_us(seconds: float, *, ticks: bool = True) -> int:
    """The delay tc was given, in us, from the seconds ``tc -j qdisc show`` prints.

    >>> netem_delay_us(0.002499), netem_delay_us(0.001), netem_delay_us(9.9e-05)
    (2500, 1000, 100)
    >>> netem_delay_us(0.002499, ticks=False)
    2499
    """
    printed = round(seconds * 1e6)
    if not ticks or printed >= 1_000_000:  # from 1 s on, %g has already rounded it
        return printed
    return printed if _tick_roundtrip(printed) == printed else printed + 1


def _tick_roundtrip(us: int) -> int:
    """What iproute2 < 6.9 prints for ``delay {us}us``: 15.625 ticks per us, truncated."""
    return (us * 1000 // 64) * 64 // 1000


def _root(qdiscs: list[_Qdisc]) -> RootQdisc | None:
    root = next((q for q in qdiscs if q.root), None)
    if root is None or _major(root.handle) == 0:
        return None
    default = None
    if root.kind == "htb":
        default = int(_HtbOptions.model_validate(root.options).default, 16)
    return RootQdisc(kind=root.kind, handle=root.handle, default_minor=default)


def _netems(qdiscs: list[_Qdisc], major: int, ticks: bool) -> dict[int, _Netem]:
    """minor of the parent class -> its netem (delay, jitter, loss, rate)."""
    out: dict[int, _Netem] = {}
    for q in qdiscs:
        if q.kind != "netem" or q.parent is None or _classid(q.parent)[0] != major:
            continue
        opts = _NetemOptions.model_validate(q.options)
        delay, loss, rate = opts.delay, opts.loss_random, opts.rate
        jitter = 0 if delay is None else netem_delay_us(delay.jitter, ticks=ticks)
        out[_classid(q.parent)[1]] = _Netem(
            major=_major(q.handle),
            delay_us=0 if delay is None else netem_delay_us(delay.delay, ticks=ticks),
            jitter_us=jitter or None,
            loss_milli=(loss_milli(loss.loss) or None) if loss is not None else None,
            rate_bps=rate.rate * 8 if rate is not None and rate.rate else None,
        )
    return out


def loss_milli(fraction: float) -> int:
    """Netem's loss as `tc -j` prints it (a fraction, six significant digits) -> steps of
    0.001 % (`desired.link.LOSS_STEPS_PER_PERCENT`): exact for every step.

    >>> loss_milli(0.01), loss_milli(0.125), loss_milli(1e-05), loss_milli(1), loss_milli(0.99999)
    (1000, 12500, 1, 100000, 99999)
    """
    return round(fraction * 100 * LOSS_STEPS_PER_PERCENT)


def _htb_rates(text: str, major: int) -> dict[int, int]:
    """``class htb 1:1a root prio 0 rate 10Gbit ceil ...`` lines -> {minor: rate bps}."""
    out: dict[int, int] = {}
    for words in _records(text, "class"):
        if words[1] == "htb" and _classid(words[2])[0] == major:
            out[_classid(words[2])[1]] = parse_rate(_after(words, "rate"))
    return out


def _fw_marks(text: str, major: int) -> dict[int, int]:
    """``filter parent 1: ... pref 1 fw chain 0 handle 0x1a classid 1:1a`` -> {0x1a: 0x1a}."""
    out: dict[int, int] = {}
    for words in _records(text, "filter"):
        if _kind(words) != "fw" or "handle" not in words:
            continue  # another classifier, or the head line of a fw prio
        if _major(_after(words, "parent")) != major:
            continue
        mark = int(_after(words, "handle").split("/")[0], 16)
        cmajor, minor = _classid(_after(words, "classid" if "classid" in words else "flowid"))
        if cmajor == major:
            out.setdefault(minor, mark)
    return out


class _LineError(ValueError):
    def __init__(self, message: str, line: str) -> None:
        super().__init__(message)
        self.line = line


def _records(text: str, keyword: str) -> list[list[str]]:
    """The word lists of the lines starting with `keyword`; indented lines are details."""
    records = []
    for line in text.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        words = line.split()
        if words[0] != keyword or len(words) < 3:
            raise _LineError(f"expected a line starting with {keyword!r}", line)
        records.append(words)
    return records


def _kind(words: list[str]) -> str:
    """The classifier kind: the word after ``pref N``."""
    return words[words.index("pref") + 2] if "pref" in words else ""


def _after(words: list[str], key: str) -> str:
    if key not in words:
        raise ValueError(f"no {key!r} in the line")
    return words[words.index(key) + 1]


def _major(handle: str) -> int:
    """``"1:"`` -> 1 (hex)."""
    major, sep, _ = handle.partition(":")
    if not sep:
        raise ValueError(f"not a tc handle: {handle!r}")
    return int(major or "0", 16)


def _classid(text: str) -> tuple[int, int]:
    """``"1:1a"`` -> (1, 26)."""
    major, sep, minor = text.partition(":")
    if not sep:
        raise ValueError(f"not a tc class id: {text!r}")
    return int(major or "0", 16), int(minor or "0", 16)
