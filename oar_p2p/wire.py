"""The reader of what the scripts print back: sections and tagged lines. Pure.

Every script the tool sends prints its answer on stdout in one of two shapes.

**Sections.** A mark line ``### oar-p2p:<name> ###`` (name: letters, digits, ``_ : . @ -``)
opens a section; its body is every byte up to the next mark line (or the end), taken
verbatim (JSON, tool text, base64). Text before the first mark is the preamble.

    read script     hostname, ip, tc-listing (batches, split by `observe/listings.py`
                    into ip-addr, ip-route, tc-class:<if>, tc-filter:<if>),
                    tc-qdisc:<if>, sysctl, record, nft, nft-error, rows, end;
                    need-privilege alone when the user cannot run ip/tc
                    (`observe/read_script.py`)
    preflight       tagged lines (below) as preamble, then ``containers``: one
                    ``docker ps --format json`` line per container (`experiment/scripts.py`)
    verify          ``pair:<src ip>:<dst ip>`` and ``pair:base:<hostname>``: the output
                    of one ``ping -q``, or of one ``ping`` with every reply when the
                    network has jitter or loss (`verify/`); ``iperf3:<src ip>:<dst ip>``:
                    one ``iperf3 -J`` report (`verify/bandwidth.py`)

**Tagged lines.** One record per line: a tag, then fields separated by single spaces.
Fields are non-empty and carry no spaces, except a last field whose name ends in ``*``
(the rest of the line, spaces included, possibly empty). Nothing is escaped: values are
machine-made words (numbers, indices, step names, container names, which docker
restricts to ``[a-zA-Z0-9][a-zA-Z0-9_.-]``).

    write script    oar-p2p-timing <step> <ns>      (`render/commands.py`; a step may
                                                     repeat: `timings` adds them up)
    preflight       signal-dir ok|unwritable
                    image <index> present|absent|pulled|pull-failed
    prepare         created <name> | failed <name>
    lock            acquired | held <holder*>       (`lock.py`)
    discovery       cpus <n> | peer-route <route*> | default-route <route*>
                    (`cluster/inventory.py::DISCOVERY_SCRIPT`, read by its own
                    `parse_discovery` so far)

Plain lists, one value per line, are docker's own output, not ours: ``docker wait`` exit
codes, the names the destroy script prints.

Reading rules, the same for every script: only complete lines count (a last line with no
newline was cut in transit and is dropped, so a cut ``oar-p2p-timing nft 12`` never reads
as 12 ns); a line whose first word is not a known tag, or with the wrong number of fields,
is not a record (shell noise, a ``docker pull`` message on stdout) and is skipped; so is a
mark line cut before its closing ``###``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["REST", "Line", "mark", "read_lines", "sections", "timings"]

REST = "*"
_MARK = re.compile(r"^### oar-p2p:(?P<name>[\w:.@-]+) ###$", re.M)


@dataclass(frozen=True)
class Line:
    """One tagged line: its tag and its fields."""

    tag: str
    fields: tuple[str, ...]


def mark(name: str) -> str:
    """The mark line that opens section `name` (without the newline).

    >>> mark("containers")
    '### oar-p2p:containers ###'
    """
    if not _MARK.fullmatch(f"### oar-p2p:{name} ###"):
        raise ValueError(f"invalid section name {name!r}")
    return f"### oar-p2p:{name} ###"


def sections(text: str) -> dict[str, str]:
    """Marked text -> {name: body}; a preamble (text before the first mark) under ``""``.

    A name marked twice keeps its last body.

    >>> sections("hi\\n### oar-p2p:a ###\\nx\\n### oar-p2p:b ###\\n")
    {'': 'hi\\n', 'a': 'x\\n', 'b': ''}
    """
    marks = list(_MARK.finditer(text))
    out: dict[str, str] = {}
    head = text[: marks[0].start()] if marks else text
    if head:
        out[""] = head
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group("name")] = text[m.end() + 1 : end]
    return out


def read_lines(text: str, formats: Mapping[str, Sequence[str]]) -> list[Line]:
    """The complete lines of `text` that match a format, as records, in order.

    `formats` maps a tag to its field names; a last name ending in `REST` (``"*"``) takes
    the rest of the line.

    >>> read_lines("image 0 pulled\\nnoise\\nimage 1\\nimage 2 pre", {"image": ("i", "st")})
    [Line(tag='image', fields=('0', 'pulled'))]
    """
    out: list[Line] = []
    for line in text.split("\n")[:-1]:
        tag, _, rest = line.partition(" ")
        names = formats.get(tag)
        if names is not None:
            fields = _fields(rest, len(names), bool(names) and names[-1].endswith(REST))
            if fields is not None:
                out.append(Line(tag, fields))
    return out


def _fields(rest: str, count: int, last_is_rest: bool) -> tuple[str, ...] | None:
    """`count` fields, each non-empty but a `REST` one; None when they do not fit."""
    if last_is_rest:
        fields = rest.split(" ", count - 1) if count > 1 else [rest]
        fixed = fields[:-1]
    else:
        fields = fixed = rest.split(" ") if rest else []
    if len(fields) != count or not all(fixed):
        return None
    return tuple(fields)


_TIMING = "oar-p2p-timing"


def timings(text: str) -> dict[str, int]:
    """``oar-p2p-timing <step> <ns>`` lines of the write script -> {step: total ns}.

    >>> timings("oar-p2p-timing tc 5\\nok\\noar-p2p-timing tc 7\\noar-p2p-timing nft x\\n")
    {'tc': 12}
    """
    out: dict[str, int] = {}
    for line in read_lines(text, {_TIMING: ("step", "ns")}):
        step, ns = line.fields
        if ns.isdigit():
            out[step] = out.get(step, 0) + int(ns)
    return out
