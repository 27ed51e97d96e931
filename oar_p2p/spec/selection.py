"""Address selections of container groups: `all`, a list of indices, or ranges `0-9,20`.

Ranges are parsed into spans and checked against the network's size before any index is
produced, so `0-49999999` over 4 addresses is an error naming the range and the bound,
not two gigabytes of integers; overlapping spans (`0-999,0-999,...`) produce each index
once, in selection order, in time proportional to the result.
"""

from __future__ import annotations

__all__ = [
    "RANGE_RULE",
    "OutOfRange",
    "Span",
    "format_ranges",
    "parse_ranges",
    "select_indices",
]

RANGE_RULE = "`all`, or like `0-9,20`"
_MAX_DIGITS = 9  # far beyond any network (at most 254 * 256 addresses per machine)

Span = tuple[int, int]  # inclusive


class OutOfRange(ValueError):
    """Indices beyond the network: `bad` (the first ones), the `span` they came from."""

    def __init__(self, bad: list[int], span: Span | None, n: int) -> None:
        self.bad, self.span, self.n = bad[:10], span, n
        where = f"; the range {span[0]}-{span[1]} goes beyond it" if span else ""
        super().__init__(
            f"address index {bad[0]} does not exist (allowed: {self.allowed('..')}, the "
            f"network has {n} addresses{where})"
        )

    def allowed(self, sep: str = "-") -> str:
        return f"0{sep}{self.n - 1}" if self.n else "none"


def parse_ranges(text: str) -> list[Span]:
    """`"0-3,7"` -> [(0, 3), (7, 7)]; `ValueError` (with the rule) on anything else."""
    out: list[Span] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not _number(lo) or (sep and not _number(hi)):
            raise ValueError(f"bad address range {text!r}: allowed: {RANGE_RULE}")
        start, end = int(lo), int(hi) if sep else int(lo)
        if end < start:
            raise ValueError(f"bad address range {part.strip()!r}: end before start")
        out.append((start, end))
    return out


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS


def select_indices(selection: str | list[int], n: int) -> list[int]:
    """The indices a selection picks among `n` addresses, each once, in selection order.

    `OutOfRange` naming the offending indices (and range) and the allowed bound.
    """
    if selection == "all":
        return list(range(n))
    if isinstance(selection, list):
        bad = [i for i in selection if not 0 <= i < n]
        if bad:
            raise OutOfRange(bad, None, n)
        return list(dict.fromkeys(selection))
    spans = parse_ranges(selection)
    for start, end in spans:
        if end >= n:
            raise OutOfRange([max(start, n)], (start, end) if start != end else None, n)
    return _ordered_union(spans)


def _ordered_union(spans: list[Span]) -> list[int]:
    """Each index of the spans once, in order of first appearance; `nxt` skips taken runs."""
    nxt: dict[int, int] = {}

    def unseen(i: int) -> int:
        path = []
        while i in nxt:
            path.append(i)
            i = nxt[i]
        for p in path:
            nxt[p] = i
        return i

    out: list[int] = []
    for start, end in spans:
        i = unseen(start)
        while i <= end:
            out.append(i)
            nxt[i] = i + 1
            i = unseen(i + 1)
    return out


def format_ranges(indices: list[int] | set[int], limit: int = 8) -> str:
    """Indices as ranges, the inverse of `parse_ranges`: {0, 1, 2, 7} -> `0-2,7`; after
    `limit` ranges, `... (N in all)`."""
    spans: list[Span] = []
    for i in sorted(set(indices)):
        if spans and spans[-1][1] == i - 1:
            spans[-1] = (spans[-1][0], i)
        else:
            spans.append((i, i))
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in spans[:limit]]
    more = f",... ({len(set(indices))} in all)" if len(spans) > limit else ""
    return ",".join(parts) + more
