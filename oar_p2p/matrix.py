"""Latency matrices: one row per line, whitespace-separated milliseconds.

Rows are stored as `array('d')` (8 bytes per value), so a 5,000 x 5,000 matrix takes
about 200 MB (files are loaded by `matrix_file`, which caches large ones). Errors name
the 1-based line and column of the offending value.

Value semantics (as the original tool): m[i][j] is the one-way delay, in ms, applied on
the egress of address i towards address j; the RTT between i and j is m[i][j] + m[j][i].
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

from oar_p2p.errors import MatrixError

__all__ = ["LatencyMatrix", "RowAssembler", "first_above", "parse_matrix", "value_position"]


@dataclass(frozen=True)
class LatencyMatrix:
    """A square matrix of finite, non-negative one-way latencies in ms."""

    rows: tuple[Sequence[float], ...]  # arrays, or views of a cached copy (matrix_file)
    file: str = "<matrix>"

    @property
    def dimension(self) -> int:
        return len(self.rows)

    def row(self, i: int) -> Sequence[float]:
        return self.rows[i]

    def __getitem__(self, ij: tuple[int, int]) -> float:
        return self.rows[ij[0]][ij[1]]


def parse_matrix(
    text: str, file: str = "<matrix>", *, what: str = "latency matrix", unit: str = "milliseconds"
) -> LatencyMatrix:
    """Parse matrix text; the matrix must be square, finite and non-negative (`what` and
    `unit` name the matrix and its values in errors: a jitter or loss matrix too)."""
    rows = RowAssembler(file, unit)
    rows.parse(text)
    return rows.finish(what)


class RowAssembler:
    """A matrix assembled line after line, in the file's order, with `parse_matrix`'s
    checks and errors: `parse(text)` parses the next lines (a whole file, or a block of
    whole lines), `add(lineno, row)` takes a row parsed earlier (`matrix_file`'s cached
    blocks), `finish` checks the shape. `line` is the last line seen so far."""

    def __init__(self, file: str, unit: str) -> None:
        self.file, self.unit = file, unit
        self.rows: list[Sequence[float]] = []
        self.width = 0
        self.first_line = 0
        self.line = 0

    def parse(self, text: str) -> tuple[list[int], int]:
        """Parse `text` (whole lines following those seen); returns the line numbers of
        its rows and its line count, both relative to the text."""
        start, linenos = self.line, []
        lines = text.splitlines()
        for lineno, line in enumerate(lines, start=1):
            if line.strip():
                self.add(start + lineno, _parse_row(line, start + lineno, self.file, self.unit))
                linenos.append(lineno)
        self.line = start + len(lines)
        return linenos, len(lines)

    def add_block(self, rows: Sequence[Sequence[float]], linenos: Sequence[int], n: int) -> None:
        """Rows parsed earlier from `n` lines (`linenos`: theirs, relative to the block)."""
        for row, lineno in zip(rows, linenos, strict=True):
            self.add(self.line + lineno, row)
        self.line += n

    def add(self, lineno: int, row: Sequence[float]) -> None:
        if not self.rows:
            self.width, self.first_line = len(row), lineno
        elif len(row) != self.width:
            raise MatrixError(
                f"row has {len(row)} values but the first row (line {self.first_line}) has "
                f"{self.width} (allowed: every row as long as the first)",
                file=self.file,
                line=lineno,
                col=1,
            )
        self.rows.append(row)

    def finish(self, what: str) -> LatencyMatrix:
        rows, width, file = self.rows, self.width, self.file
        if not rows:
            raise MatrixError(f"the {what} is empty (allowed: a square matrix)", file=file)
        if len(rows) != width:
            raise MatrixError(
                f"the matrix is not square: {len(rows)} rows of {width} values "
                "(allowed: as many rows as columns)",
                file=file,
                line=self.first_line,
                col=1,
            )
        return LatencyMatrix(rows=tuple(rows), file=file)


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield lineno, line


def first_above(
    matrix: LatencyMatrix, limit: float, used: int | None = None
) -> tuple[int, int] | None:
    """(row, column) of the first value above `limit` among the first `used` rows and
    columns (all by default), or None."""
    n = matrix.dimension if used is None else min(used, matrix.dimension)
    for i in range(n):
        row = matrix.row(i)
        if max(row[:n], default=0.0) > limit:
            return i, next(j for j in range(n) if row[j] > limit)
    return None


def value_position(text: str, i: int, j: int) -> tuple[int, int]:
    """1-based (line, column) of the value at row `i`, column `j` of matrix text (rows are
    its non-blank lines), to locate an error found after parsing."""
    for row, (lineno, line) in enumerate(_numbered_lines(text)):
        if row == i:
            col = 0
            for k, token in enumerate(line.split()):
                col = line.index(token, col)
                if k == j:
                    return lineno, col + 1
                col += len(token)
    return 1, 1


def _parse_row(line: str, lineno: int, file: str, unit: str) -> array[float]:
    try:
        row = array("d", map(float, line.split()))
    except ValueError:
        row = None
    # fast path: a finite sum rules out nan and inf, then min() is reliable
    if row is not None and math.isfinite(sum(row)) and min(row, default=0.0) >= 0.0:
        return row
    if row is not None and all(0.0 <= v < math.inf for v in row):  # sum overflowed
        return row
    _raise_bad_value(line, lineno, file, unit)


def _raise_bad_value(line: str, lineno: int, file: str, unit: str) -> NoReturn:
    col = 0
    for token in line.split():
        col = line.index(token, col) + 1
        what = ""
        try:
            value = float(token)
        except ValueError:
            what = "is not a number"
        else:
            if math.isnan(value) or math.isinf(value):
                what = "is not finite"
            elif value < 0:
                what = "is negative"
        if what:
            raise MatrixError(
                f"value {token!r} {what} (allowed: finite, non-negative {unit})",
                file=file,
                line=lineno,
                col=col,
            )
        col += len(token) - 1
    raise AssertionError("unreachable: a bad row without a bad value")  # pragma: no cover
