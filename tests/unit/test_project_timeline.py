"""Loading the timeline's `network:` steps (`oar_p2p.project_timeline`): matrices read and
checked like the base keys, errors located in the matrix file or at the step's key, and
`Project.timeline` filled wherever the links are."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import InputError, MatrixError, SpecError
from oar_p2p.inputs import FILES, Input, InputFormat
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.project import load_project
from oar_p2p.project_links import bandwidth_at, build_bandwidth
from oar_p2p.project_timeline import TimelineInputs, load_timeline
from oar_p2p.revision import open_revision
from oar_p2p.spec.load import load_spec
from tests.gitrepo import HAVE_GIT, GitRepo

BASE = "0 1 2\n1 0 1\n2 1 0\n"


def _spec(tmp_path: Path, timeline: str, **files: str) -> Path:
    (tmp_path / "latency.txt").write_text(BASE)
    for name, text in files.items():
        (tmp_path / f"{name}.txt").write_text(text)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: t\nnetwork:\n  addresses: '3'\n  latency_matrix: latency.txt\n"
        "timeline:\n" + timeline
    )
    return spec


def test_without_a_timeline_the_project_has_empty_inputs(tmp_path: Path) -> None:
    project = load_project(_spec(tmp_path, "  []\n"))
    assert project.timeline == TimelineInputs()
    assert not project.timeline


def test_every_key_of_a_network_step_is_loaded_by_step_index(tmp_path: Path) -> None:
    steps = (
        "  - {at: 1, signal: go}\n"
        "  - at: 2\n    network: {latency_matrix: far.txt, jitter: 0.5, loss: lossy.txt}\n"
        "  - at: 3\n    network: {bandwidth: {default: 10mbit}, loss: 2}\n"
        "  - {at: 4, network: {latency_matrix: far.txt}}\n"
    )
    far = "0 9 9\n9 0 9\n9 9 0\n"
    project = load_project(_spec(tmp_path, steps, far=far, lossy="0 100 0\n1 0 0\n0 0 0\n"))
    got = project.timeline
    assert sorted(got.latency) == [1, 3] and got.latency[1][0, 1] == 9
    assert got.latency[3] is got.latency[1]  # a file named twice is read once
    assert got.jitter == {1: 0.5}
    assert isinstance(got.loss[1], LatencyMatrix) and got.loss[2] == 2
    assert got.bandwidth[2].default == "10mbit"
    assert sorted(got.files) == [(1, "latency_matrix"), (1, "loss"), (3, "latency_matrix")]
    assert got.files[(1, "latency_matrix")].path.endswith("far.txt")


def test_a_step_matrix_of_another_dimension_names_both(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  - {at: 1, network: {latency_matrix: big.txt}}\n", big="0 1\n1 0\n")
    with pytest.raises(SpecError) as info:
        load_project(spec)
    assert (info.value.line, info.value.col) == (7, 39)
    assert "'big.txt' is 2x2 but the base latency matrix 'latency.txt' is 3x3" in str(info.value)


def test_a_bad_value_in_a_step_matrix_is_located_in_the_file(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, "  - {at: 1, network: {latency_matrix: b.txt}}\n", b="0 1 2\n1 0 x\n2 1 0\n"
    )
    with pytest.raises(MatrixError) as info:
        load_project(spec)
    assert info.value.file is not None and info.value.file.endswith("b.txt")
    assert (info.value.line, info.value.col) == (2, 5)


def test_a_step_latency_beyond_the_resolution_is_located_in_the_file(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, "  - {at: 1, network: {latency_matrix: b.txt}}\n", b="0 1 2\n1 0 1\n2 9999 0\n"
    )
    with pytest.raises(MatrixError) as info:
        load_project(spec)
    assert (info.value.line, info.value.col) == (3, 3)
    assert "latency 9999 ms (row 2, column 1) is too large" in info.value.message


def test_a_missing_step_matrix_and_a_loss_above_100_are_errors(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  - {at: 1, network: {jitter: gone.txt}}\n")
    with pytest.raises(SpecError, match=r"spec.yaml:7:31: jitter matrix 'gone.txt' not found"):
        load_project(spec)
    spec = _spec(tmp_path, "  - {at: 1, network: {loss: l.txt}}\n", l="0 1 1\n1 0 101\n1 1 0\n")
    with pytest.raises(MatrixError) as info:
        load_project(spec)
    assert (info.value.line, info.value.col) == (2, 5) and "loss 101%" in info.value.message


def test_a_jitter_number_too_large_is_at_the_step_key(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  - {at: 1, network: {jitter: 100000}}\n")
    with pytest.raises(SpecError) as info:
        load_project(spec)
    assert str(info.value).startswith(
        f"{spec}:7:31: timeline.0.network.jitter: 100000 ms is too large"
    )


def test_a_bad_step_rate_is_at_its_key(tmp_path: Path) -> None:
    steps = "  - at: 1\n    network:\n      bandwidth: {default: 10mbit, machine_total: 9zbit}\n"
    with pytest.raises(InputError) as info:
        load_project(_spec(tmp_path, steps))
    assert (info.value.line, info.value.col) == (9, 51)
    assert "timeline.0.network.bandwidth.machine_total: " in info.value.message


def test_bandwidth_at_builds_a_step_section_and_locates_its_overrides(tmp_path: Path) -> None:
    steps = (
        "  - at: 1\n    network:\n      bandwidth:\n        default: 10mbit\n"
        "        overrides: [{addresses: '1-2', rate: 1mbit}]\n"
    )
    loaded = load_spec(_spec(tmp_path, steps))
    caps = bandwidth_at(loaded, ("timeline", 0, "network", "bandwidth"), 3)
    assert caps is not None and caps.caps(range(3)) == [10_000_000, 1_000_000, 1_000_000]
    assert build_bandwidth(loaded, 3) is None  # the base network has no caps
    with pytest.raises(SpecError) as info:
        bandwidth_at(loaded, ("timeline", 0, "network", "bandwidth"), 2)
    assert (info.value.line, info.value.col) == (11, 33)


def test_load_timeline_reads_through_the_given_reader(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  - {at: 1, network: {latency_matrix: b.txt}}\n", b=BASE)
    loaded = load_spec(spec)
    read: list[str] = []

    class Spy:
        def read(self, path: Path, fmt: InputFormat) -> Input:
            read.append(path.name)
            return FILES.read(path, fmt)

        def is_file(self, path: Path) -> bool:
            return path.is_file()

        def name(self, path: Path) -> str:
            return str(path)

    base = load_project(spec).matrix
    got = load_timeline(loaded, base, Spy())
    assert read == ["b.txt"] and got.latency[0].dimension == 3


@pytest.mark.skipif(not HAVE_GIT, reason="git is not installed")
def test_step_matrices_are_read_at_a_git_revision(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    spec_text = (
        "version: 1\nname: t\nnetwork:\n  addresses: '3'\n  latency_matrix: latency.txt\n"
        "timeline:\n  - {at: 1, network: {latency_matrix: far.txt}}\n"
    )
    far = "0 9 9\n9 0 9\n9 9 0\n"
    files = {"exp/spec.yaml": spec_text, "exp/latency.txt": BASE, "exp/far.txt": far}
    repo.commit(files, "first")
    repo.commit({"exp/far.txt": "0 1\n1 0\n"}, "second")
    spec = repo.root / "exp/spec.yaml"
    old = load_project(spec, open_revision(spec, "HEAD~1"))
    assert old.timeline.latency[0].file == "HEAD~1:exp/far.txt"
    assert old.timeline.latency[0][0, 1] == 9
    with pytest.raises(SpecError, match=r"^HEAD:exp/spec.yaml:7:39: the latency matrix 'far.txt'"):
        load_project(spec, open_revision(spec, "HEAD"))
