"""Reading input files at a git revision (`oar_p2p.revision`), and the loaders taking a reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import InputError, MatrixError, SpecError
from oar_p2p.inputs import FILES, MATRIX, SPEC, InputFormat
from oar_p2p.project import load_project
from oar_p2p.revision import RevisionReader, open_revision, reference_source
from tests.gitrepo import GitRepo

SPEC_TEXT = """\
version: 1
name: seed
cluster:
  machines: [gengar-1]
network:
  addresses: "2"
  latency_matrix: ../data/latency.txt
"""


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"exp/spec.yaml": SPEC_TEXT, "data/latency.txt": "0 1\n1 0\n"}, "first")
    repo.commit({"data/latency.txt": "0 2\n2 0\n"}, "second")
    return repo


def test_the_spec_and_its_matrix_are_read_at_the_revision(repo: GitRepo) -> None:
    spec = repo.root / "exp/spec.yaml"
    reader = open_revision(spec, "HEAD~1")
    old = load_project(spec, reader)
    assert old.matrix.rows[0][1] == 1.0 and old.matrix.file == "HEAD~1:data/latency.txt"
    assert old.loaded.locator.file == "HEAD~1:exp/spec.yaml"
    assert load_project(spec).matrix.rows[0][1] == 2.0  # the working tree is untouched


def test_the_revision_is_pinned_to_its_commit(repo: GitRepo) -> None:
    reader = open_revision(repo.root / "exp/spec.yaml", "main")
    assert reader.commit == repo.git("rev-parse", "HEAD").strip()
    assert reader.root == repo.root.resolve()
    repo.commit({"data/latency.txt": "0 3\n3 0\n"})  # the branch moves on; the reader does not
    data = reader.read(repo.root / "data/latency.txt", MATRIX).data
    assert data == b"0 2\n2 0\n"


def test_names_and_presence(repo: GitRepo, tmp_path: Path) -> None:
    reader = open_revision(repo.root / "exp/spec.yaml", "HEAD~1")
    assert reader.name(repo.root / "exp/../data/latency.txt") == "HEAD~1:data/latency.txt"
    assert reader.is_file(repo.root / "data/latency.txt")
    assert not reader.is_file(repo.root / "data")  # a tree, not a file
    assert not reader.is_file(repo.root / "data/absent.txt")
    assert not reader.is_file(tmp_path / "elsewhere.txt")
    assert reader.name(tmp_path / "x.txt") == f"{tmp_path / 'x.txt'} (outside the repository)"


def test_a_file_absent_at_the_revision(repo: GitRepo) -> None:
    reader = open_revision(repo.root / "exp/spec.yaml", "HEAD~1")
    with pytest.raises(InputError) as err:
        reader.read(repo.root / "exp/new.yaml", SPEC)
    assert str(err.value) == (
        "--against HEAD~1: HEAD~1:exp/new.yaml does not exist at HEAD~1 (allowed: a spec "
        "committed at that revision)"
    )


def test_a_file_larger_than_the_format_allows(repo: GitRepo) -> None:
    reader = open_revision(repo.root / "exp/spec.yaml", "HEAD")
    tiny = InputFormat("latency matrix", MatrixError, 4)
    with pytest.raises(MatrixError) as err:
        reader.read(repo.root / "data/latency.txt", tiny)
    assert str(err.value) == (
        "HEAD:data/latency.txt: the latency matrix is larger than 4 bytes at HEAD (allowed: "
        "at most 4 bytes)"
    )


def test_the_text_goes_through_the_input_boundary(repo: GitRepo) -> None:
    repo.commit({"exp/spec.yaml": SPEC_TEXT.replace("seed", "se\x01ed")})
    spec = repo.root / "exp/spec.yaml"
    with pytest.raises(SpecError) as err:
        load_project(spec, open_revision(spec, "HEAD"))
    assert str(err.value).startswith("HEAD:exp/spec.yaml:2:9: control character U+0001")


@pytest.mark.parametrize("ref", ["nope", "HEAD~9", "HEAD:exp"])
def test_unknown_revisions(repo: GitRepo, ref: str) -> None:
    with pytest.raises(InputError) as err:
        open_revision(repo.root / "exp/spec.yaml", ref)
    assert str(err.value).startswith(
        f"--against {ref}: not an existing file, and no revision {ref!r} in the repository at "
        f"{repo.root.resolve()} (allowed: an existing spec file, or a git revision"
    )


@pytest.mark.parametrize("ref", ["", "-p", "--output=x"])
def test_a_ref_that_could_be_an_option_is_refused(repo: GitRepo, ref: str) -> None:
    with pytest.raises(InputError, match=r"not a spec file nor a git revision"):
        open_revision(repo.root / "exp/spec.yaml", ref)


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC_TEXT)
    with pytest.raises(InputError) as err:
        open_revision(tmp_path / "spec.yaml", "HEAD")
    assert str(err.value).startswith(
        f"--against HEAD: not an existing file, and {tmp_path / 'spec.yaml'} is not in a git "
        "repository; git: fatal: not a git repository"
    )


def test_git_missing(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo.root))  # no git there
    with pytest.raises(InputError) as err:
        open_revision(repo.root / "exp/spec.yaml", "HEAD")
    assert "git is not installed to read a revision" in str(err.value)


def test_a_ref_naming_a_file_is_that_file(repo: GitRepo, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(SPEC_TEXT)
    assert reference_source(repo.root / "exp/spec.yaml", str(other)) == (other, FILES)
    path, reader = reference_source(repo.root / "exp/spec.yaml", "HEAD")
    assert path == repo.root / "exp/spec.yaml" and isinstance(reader, RevisionReader)
