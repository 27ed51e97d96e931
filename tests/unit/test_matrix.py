"""Latency matrices: square, finite, non-negative; errors at 1-based line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import MatrixError
from oar_p2p.matrix import parse_matrix
from oar_p2p.matrix_file import load_matrix

SEED = """\
0.0 25.5687 78.64806 83.50032 99.91315
25.5687 0.0 63.165894 66.74037 110.71518
78.64806 63.165894 0.0 2.4708898 93.90618
83.50032 66.74037 2.4708898 0.0 84.67561
99.91315 110.71518 93.90618 84.67561 0.0
"""


def _error(text: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        parse_matrix(text, "m.txt")
    return info.value


def test_seed_matrix() -> None:
    m = parse_matrix(SEED, "m.txt")
    assert m.dimension == 5
    assert m[0, 1] == 25.5687
    assert m[2, 3] == 2.4708898
    assert list(m.row(4)) == [99.91315, 110.71518, 93.90618, 84.67561, 0.0]
    assert m.file == "m.txt"


def test_blank_lines_and_whitespace_are_skipped() -> None:
    m = parse_matrix("\n  \n1\t2\n\n   3    4  \n\n", "m.txt")
    assert [list(r) for r in m.rows] == [[1.0, 2.0], [3.0, 4.0]]


def test_scientific_notation_and_integers() -> None:
    m = parse_matrix("0 1e-1\n2.5E1 0\n")
    assert m[0, 1] == 0.1 and m[1, 0] == 25.0


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            "1 2 3\n4 5 6\n",
            1,
            1,
            "the matrix is not square: 2 rows of 3 values (allowed: as many rows as columns)",
        ),
        ("\n\n1 2\n", 3, 1, "the matrix is not square: 1 rows of 2 values"),
        (
            "1 2\n3\n",
            2,
            1,
            "row has 1 values but the first row (line 1) has 2 (allowed: every "
            "row as long as the first)",
        ),
        ("\n1 2\n\n3 4 5\n", 4, 1, "row has 3 values but the first row (line 2) has 2"),
        (
            "0 1\n1 -2\n",
            2,
            3,
            "value '-2' is negative (allowed: finite, non-negative milliseconds)",
        ),
        ("0 1\n1 nan\n", 2, 3, "value 'nan' is not finite"),
        ("0 NaN\n1 0\n", 1, 3, "value 'NaN' is not finite"),
        ("0 1\ninf 0\n", 2, 1, "value 'inf' is not finite"),
        ("0 1\n1 -inf\n", 2, 3, "value '-inf' is not finite"),
        ("0 1\n1 1e999\n", 2, 3, "value '1e999' is not finite"),
        ("0 1 2\n1   0  abc\n2 2 0\n", 2, 8, "value 'abc' is not a number"),
        ("0\t1\n1\t1,5\n", 2, 3, "value '1,5' is not a number"),
        ("0 1 1\n1 0 1\n1 1 0 x\n", 3, 7, "value 'x' is not a number"),
        ("0 10\n10 0\n 0 1 0 x1\n", 3, 8, "value 'x1' is not a number"),
    ],
)
def test_error_is_located(text: str, line: int, col: int, message: str) -> None:
    err = _error(text)
    assert (err.file, err.line, err.col) == ("m.txt", line, col)
    assert err.message.startswith(message), err.message
    assert str(err).startswith(f"m.txt:{line}:{col}: ")


def test_repeated_token_column_is_the_bad_one() -> None:
    # "1" appears before the bad "-1": the column must be that of "-1", not of "1"
    err = _error("0 1 -1\n1 0 1\n1 1 0\n")
    assert (err.line, err.col) == (1, 5)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_matrix(text: str) -> None:
    err = _error(text)
    assert "the latency matrix is empty" in err.message
    assert err.file == "m.txt"


def test_load_matrix_from_file(tmp_path: Path) -> None:
    path = tmp_path / "latency.txt"
    path.write_text(SEED)
    m = load_matrix(path)
    assert m.dimension == 5 and m.file == str(path)


def test_load_matrix_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read latency matrix"):
        load_matrix(tmp_path / "nope.txt")


def test_huge_finite_values_whose_sum_overflows_are_accepted() -> None:
    m = parse_matrix("0 1e308 1e308\n1e308 0 1e308\n1e308 1e308 0\n")
    assert m[0, 1] == 1e308
