"""Matrix files and their cache: the cached copy gives exactly what the parse gives, and
an edit re-parses only the blocks of lines it touched."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from oar_p2p import matrix_blocks, matrix_file
from oar_p2p.errors import MatrixError
from oar_p2p.matrix import parse_matrix
from oar_p2p.matrix_file import KEEP, cache_dir, load_matrix


def _text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    rows = [
        " ".join(
            "0" if i == j else repr(round(rng.uniform(0, 300), rng.randint(0, 7))) for j in range(n)
        )
        for i in range(n)
    ]
    return "\n".join(rows) + "\n"


@pytest.fixture
def small_min(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix_file, "MIN_BYTES", 0)
    monkeypatch.setattr(matrix_blocks, "BLOCK_LINES", 4)


def _rows(m: object) -> list[list[float]]:
    return [list(m.row(i)) for i in range(m.dimension)]  # type: ignore[attr-defined]


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "matrices").glob("*.idx"))


def _blocks(cache: Path) -> list[Path]:
    return sorted((cache / "matrices" / "blocks").glob("*.f64"))


def test_the_cached_copy_equals_the_parse(tmp_path: Path, small_min: None) -> None:
    path = tmp_path / "m.txt"
    path.write_text(_text(40, 1))
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    first = load_matrix(path, env)  # parsed, then written
    assert len(_entries(tmp_path / "cache")) == 1
    second = load_matrix(path, env)  # mapped from the cache
    assert not isinstance(second.row(0), type(first.row(0)))  # really the other path
    assert _rows(second) == _rows(first) == _rows(parse_matrix(path.read_text()))
    assert second[3, 7] == first[3, 7] and second.file == str(path)


def test_an_edited_matrix_is_a_new_entry(tmp_path: Path, small_min: None) -> None:
    path = tmp_path / "m.txt"
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    path.write_text(_text(10, 1))
    load_matrix(path, env)
    path.write_text(_text(10, 2))
    edited = load_matrix(path, env)
    assert _rows(edited) == _rows(parse_matrix(_text(10, 2)))
    assert len(_entries(tmp_path / "cache")) == 2


def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path, small_min: None) -> None:
    path = tmp_path / "m.txt"
    path.write_text(_text(12, 3))
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    load_matrix(path, env)
    blocks = _blocks(tmp_path / "cache")
    assert len(blocks) == 3  # 12 lines in blocks of 4
    size = blocks[1].stat().st_size
    blocks[1].write_bytes(blocks[1].read_bytes()[:-8])  # truncated
    assert _rows(load_matrix(path, env)) == _rows(parse_matrix(_text(12, 3)))
    assert blocks[1].stat().st_size == size  # written whole again
    (index,) = _entries(tmp_path / "cache")
    index.write_bytes(b"garbage")
    assert _rows(load_matrix(path, env)) == _rows(parse_matrix(_text(12, 3)))
    assert index.stat().st_size > len(b"garbage")


def test_only_the_newest_entries_are_kept(tmp_path: Path, small_min: None) -> None:
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    for seed in range(KEEP + 2):
        path = tmp_path / f"m{seed}.txt"
        path.write_text(_text(5, seed))
        load_matrix(path, env)
        for old in _entries(tmp_path / "cache"):  # distinct mtimes whatever the clock
            os.utime(old, (old.stat().st_atime, old.stat().st_mtime - 10))
    assert len(_entries(tmp_path / "cache")) == KEEP
    for block in _blocks(tmp_path / "cache"):  # old enough to be removed when unused
        os.utime(block, (0, 0))
    path.write_text(_text(5, 99))
    load_matrix(path, env)
    kept = {d for i in _entries(tmp_path / "cache") for d in matrix_blocks.index_digests(i)[0]}
    assert {b.stem for b in _blocks(tmp_path / "cache")} == kept


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path, small_min: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = tmp_path / "m.txt"
    path.write_text(_text(6, 4))
    m = load_matrix(path, {"OAR_P2P_CACHE_DIR": str(blocker / "cache")})
    assert _rows(m) == _rows(parse_matrix(_text(6, 4)))


def test_a_bad_matrix_is_never_cached(tmp_path: Path, small_min: None) -> None:
    path = tmp_path / "m.txt"
    path.write_text("0 1\n1 -2\n")
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):
        with pytest.raises(MatrixError, match="is negative"):
            load_matrix(path, env)
    assert _entries(tmp_path / "cache") == [] and _blocks(tmp_path / "cache") == []


def test_a_binary_file_is_a_matrix_error(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(b"0 1\n1 0\n\xff\xfe\n")
    with pytest.raises(MatrixError, match="not text") as err:
        load_matrix(path, {"OAR_P2P_CACHE_DIR": "off"})
    assert err.value.line == 3


def test_where_the_cache_lives(tmp_path: Path) -> None:
    assert cache_dir({"OAR_P2P_CACHE_DIR": "off"}) is None
    assert cache_dir({"OAR_P2P_CACHE_DIR": "/x"}) == Path("/x")
    assert cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/oar-p2p")
    assert cache_dir({}) == Path.home() / ".cache" / "oar-p2p"


def test_small_matrices_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text(_text(8, 5))
    load_matrix(path, {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")})
    assert not (tmp_path / "cache").exists()


def test_an_edited_cell_reparses_only_its_block(
    tmp_path: Path, small_min: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.txt"
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    path.write_text(_text(20, 6))
    load_matrix(path, env)
    lines = _text(20, 6).splitlines()
    lines[9] = lines[9].replace("0", "7", 1)  # row 9: the third block of 4 lines
    path.write_text("\n".join(lines) + "\n")
    parsed: list[str] = []
    real = matrix_file.RowAssembler.parse

    def parse(self: matrix_file.RowAssembler, text: str) -> tuple[list[int], int]:
        parsed.append(text)
        return real(self, text)

    monkeypatch.setattr(matrix_file.RowAssembler, "parse", parse)
    edited = load_matrix(path, env)
    assert parsed == ["\n".join(lines[8:12]) + "\n"]
    assert _rows(edited) == _rows(parse_matrix(path.read_text()))
    assert len(_blocks(tmp_path / "cache")) == 6  # 5 blocks + the edited one
    parsed.clear()
    assert _rows(load_matrix(path, env)) == _rows(edited) and parsed == []  # the index


@pytest.mark.parametrize(
    "bad",
    [
        "0 1 2 3\n" * 4 + "\n\r\n" + "0 1 2\n" + "0 1 2 3\n" * 3,  # width, cached first row
        "0 1 2 3\n" * 4 + "\u2028\n" + "0 1 2 3\n" + "0 1 -2 3\n",  # a value, lines counted
        "\n" + "0 1 2 3\n" * 5 + "\n",  # not square: named at the first row
        "0 1 2 3\n" * 4 + "0 1 \x01 3\n",  # a control character (the whole text's error)
    ],
)
def test_errors_after_an_edit_are_located_as_the_parse_locates_them(
    tmp_path: Path, small_min: None, bad: str
) -> None:
    path = tmp_path / "m.txt"
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    path.write_text("0 1 2 3\n" * 4)
    load_matrix(path, env)  # its block of 4 lines is now cached
    path.write_bytes(bad.encode())
    with pytest.raises(MatrixError) as cached:
        load_matrix(path, env)
    with pytest.raises(MatrixError) as plain:
        load_matrix(path, {"OAR_P2P_CACHE_DIR": "off"})
    assert (cached.value.line, cached.value.col, str(cached.value)) == (
        plain.value.line,
        plain.value.col,
        str(plain.value),
    )


def test_a_byte_order_mark_inside_is_not_cut_into_blocks(tmp_path: Path, small_min: None) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(("0 1\n" * 4 + "\ufeff0 1\n").encode())
    with pytest.raises(MatrixError, match="not a number") as err:
        load_matrix(path, {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")})
    assert err.value.line == 5
