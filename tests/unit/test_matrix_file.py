"""Matrix files and their cache: the cached copy gives exactly what the parse gives."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from oar_p2p import matrix_file
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


def _rows(m: object) -> list[list[float]]:
    return [list(m.row(i)) for i in range(m.dimension)]  # type: ignore[attr-defined]


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "matrices").glob("*.f64"))


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
    (entry,) = _entries(tmp_path / "cache")
    entry.write_bytes(entry.read_bytes()[:-8])  # truncated
    assert _rows(load_matrix(path, env)) == _rows(parse_matrix(_text(12, 3)))
    assert entry.stat().st_size == 9 + 4 + 12 * 12 * 8  # written whole again


def test_only_the_newest_entries_are_kept(tmp_path: Path, small_min: None) -> None:
    env = {"OAR_P2P_CACHE_DIR": str(tmp_path / "cache")}
    for seed in range(KEEP + 2):
        path = tmp_path / f"m{seed}.txt"
        path.write_text(_text(5, seed))
        load_matrix(path, env)
        for old in _entries(tmp_path / "cache"):  # distinct mtimes whatever the clock
            os.utime(old, (old.stat().st_atime, old.stat().st_mtime - 10))
    assert len(_entries(tmp_path / "cache")) == KEEP


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
    assert _entries(tmp_path / "cache") == []


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
