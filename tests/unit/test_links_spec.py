"""`network.jitter`, `network.loss`, `network.bandwidth`: loading, every error located, the
`Network` built with them, and matrix files read through the caller's reader (git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.desired.link import Bandwidth, LinkTuple
from oar_p2p.errors import InputError, MatrixError, SpecError
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.project import build_project_network, load_project, project_machines
from oar_p2p.project_links import describe_links
from oar_p2p.revision import open_revision
from oar_p2p.spec.load import parse_spec_text
from tests.gitrepo import GitRepo

LATENCY = "0 10 20 30\n10 0 15 25\n20 15 0 12\n30 25 12 0\n"
HEAD = """\
version: 1
name: t
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "4"
  latency_matrix: latency.txt
"""


def _write(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "latency.txt").write_text(LATENCY)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + body)
    return spec


def _error(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> InputError:
    spec = _write(tmp_path, body, files)
    with pytest.raises(InputError) as info:
        project = load_project(spec)
        build_project_network(project, project_machines(project, ["gengar-1", "gengar-2"]))
    return info.value


def _shown(exc: InputError, tmp_path: Path) -> str:
    return str(exc).removeprefix(f"{tmp_path}/")


def test_a_spec_without_the_keys_has_none_of_them(tmp_path: Path) -> None:
    project = load_project(_write(tmp_path, ""))
    net = project.spec.network
    assert (net.jitter, net.loss, net.bandwidth) == (None, None, None)
    network = build_project_network(project, project_machines(project, ["gengar-1"]))
    assert (network.jitter, network.loss, network.bandwidth) == (None, None, None)


def test_numbers_matrices_and_caps_reach_the_network(tmp_path: Path) -> None:
    body = (
        "  jitter: jitter.txt\n  loss: 0.5\n  bandwidth:\n    default: 100mbit\n"
        "    overrides:\n      - {addresses: '0-1', rate: 10mbit}\n"
        "      - {addresses: [3], rate: 2.5gbit}\n    machine_total: 1gbit\n"
    )
    jitter = "0 1 2 3\n1 0 1.5 2.5\n2 1.5 0 1.2\n3 2.5 1.2 0\n"
    project = load_project(_write(tmp_path, body, {"jitter.txt": jitter}))
    assert isinstance(project.links.jitter, LatencyMatrix)
    assert project.links.loss == 0.5
    assert project.links.jitter_file is not None and project.links.loss_file is None
    network = build_project_network(project, project_machines(project, ["gengar-1", "gengar-2"]))
    assert network.link(0, 3) == LinkTuple(300, 30, 500, 100)
    assert network.link(3, 2) == LinkTuple(120, 12, 500, 100)
    assert network.bandwidth == Bandwidth(
        100_000_000,
        ((frozenset({0, 1}), 10_000_000), (frozenset({3}), 2_500_000_000)),
        1_000_000_000,
    )
    assert [network.cap_bps(i) for i in range(4)] == [
        10_000_000,
        10_000_000,
        100_000_000,
        2_500_000_000,
    ]


def test_describe_links_is_one_line() -> None:
    spec, _ = parse_spec_text(
        HEAD + "  jitter: j.txt\n  loss: 1\n  bandwidth:\n    default: 100000kbit\n"
        "    overrides: [{addresses: all, rate: 1mbit}, {addresses: '1', rate: 2mbit}]\n"
        "    machine_total: 1000mbit\n",
        "s.yaml",
    )
    n = spec.network
    assert describe_links(n.jitter, n.loss, n.bandwidth) == (
        "jitter: matrix j.txt; loss: 1%; caps: 100mbit default, 2 overrides, 1gbit per machine"
    )
    assert describe_links(2.5, None, None) == "jitter: 2.5 ms"
    assert describe_links(None, None, None) == ""


SPEC_ERRORS = [
    ("  jitter: -1\n", "spec.yaml:8:11", "network.jitter: jitter -1 is not a finite, non-negative"),
    ("  jitter: .nan\n", "spec.yaml:8:11", "network.jitter: jitter nan is not a finite"),
    ("  jitter: .inf\n", "spec.yaml:8:11", "network.jitter: jitter inf is not a finite"),
    ("  jitter: true\n", "spec.yaml:8:11", "network.jitter: Input should be a valid integer"),
    ("  loss: 100.5\n", "spec.yaml:8:9", "network.loss: loss 100.5 is not a percentage (allowed:"),
    ("  loss: -0.1\n", "spec.yaml:8:9", "network.loss: loss -0.1 is not a percentage"),
    ("  loss: ''\n", "spec.yaml:8:9", "network.loss: an empty path (allowed: a matrix file"),
    (
        "  bandwidth: {default: 100}\n",
        "spec.yaml:8:24",
        "network.bandwidth.default: 100 is not a rate (allowed: a rate with kbit, mbit or gbit",
    ),
    ("  bandwidth: {}\n", "spec.yaml:8:14", "missing required key 'network.bandwidth.default'"),
    (
        "  bandwidth: {default: 1mbit, ceil: 2mbit}\n",
        "spec.yaml:8:31",
        "unknown key 'ceil' (allowed: default, machine_total, overrides)",
    ),
    (
        "  bandwidth: {default: 1mbit, overrides: [{addresses: '3-1', rate: 1mbit}]}\n",
        "spec.yaml:8:55",
        "network.bandwidth.overrides.0.addresses: bad address range '3-1': end before start",
    ),
    (
        "  bandwidth: {default: 1mbit, overrides: [{addresses: [-1], rate: 1mbit}]}\n",
        "spec.yaml:8:55",
        "network.bandwidth.overrides.0.addresses: address indices must be from 0 to",
    ),
]


@pytest.mark.parametrize(("body", "where", "message"), SPEC_ERRORS)
def test_spec_errors_are_located_at_the_key(
    tmp_path: Path, body: str, where: str, message: str
) -> None:
    exc = _error(tmp_path, body)
    assert isinstance(exc, SpecError)
    assert _shown(exc, tmp_path).startswith(f"{where}: {message}"), str(exc)


RANGE_ERRORS = [
    (
        "  jitter: 7000\n",
        "spec.yaml:8:11",
        "network.jitter: 7000 ms is too large (allowed: at most 6553.2 ms at a 0.1 ms "
        "resolution; raise `latency_resolution_ms` for larger values)",
    ),
    (
        "  bandwidth: {default: 100mb}\n",
        "spec.yaml:8:24",
        "network.bandwidth.default: '100mb' is not a rate (allowed: a number with kbit, mbit "
        "or gbit, e.g. 100mbit or 2.5gbit)",
    ),
    (
        "  bandwidth:\n    default: 1mbit\n    overrides: [{addresses: all, rate: 11gbit}]\n",
        "spec.yaml:10:40",
        "network.bandwidth.overrides.0.rate: '11gbit' is out of range (allowed: from 8kbit "
        "to 10gbit)",
    ),
    (
        "  bandwidth: {default: 1mbit, machine_total: 4kbit}\n",
        "spec.yaml:8:46",
        "network.bandwidth.machine_total: '4kbit' is out of range (allowed: from 8kbit to 10gbit)",
    ),
    (
        "  bandwidth: {default: 1mbit, overrides: [{addresses: '2-9', rate: 1mbit}]}\n",
        "spec.yaml:8:55",
        "address index 4 does not exist (allowed: 0..3, the network has 4 addresses; the "
        "range 2-9 goes beyond it)",
    ),
    (
        "  jitter: nope.txt\n",
        "spec.yaml:8:11",
        "jitter matrix 'nope.txt' not found (looked at",
    ),
]


@pytest.mark.parametrize(("body", "where", "message"), RANGE_ERRORS)
def test_rates_ranges_and_files_are_located_at_the_key(
    tmp_path: Path, body: str, where: str, message: str
) -> None:
    exc = _error(tmp_path, body)
    assert isinstance(exc, SpecError)
    assert _shown(exc, tmp_path).startswith(f"{where}: {message}"), str(exc)


MATRIX_ERRORS = [
    (
        "jitter",
        "0 1 2 3\n1 0 1 1\n1 1 0 1\n1 1 x 0\n",
        "m.txt:4:5",
        "value 'x' is not a number (allowed: finite, non-negative milliseconds)",
    ),
    (
        "loss",
        "0 1 2 3\n1 0 1 1\n1 1 0 -1\n1 1 1 0\n",
        "m.txt:3:7",
        "value '-1' is negative (allowed: finite, non-negative percent)",
    ),
    (
        "loss",
        "0 1 2 3\n\n1 0 1 1\n1 1 0 100.5\n1 1 1 0\n",
        "m.txt:4:7",
        "loss 100.5% (row 2, column 3) is too large (allowed: a percentage from 0 to 100)",
    ),
    (
        "jitter",
        "0 1 2 3\n1 0 1 1\n1 1 0 1\n1 9999 1 0\n",
        "m.txt:4:3",
        "jitter 9999 ms (row 3, column 1) is too large (allowed: at most 6553.2 ms",
    ),
    (
        "jitter",
        "0 1 2 3\n1 0 1\n",
        "m.txt:2:1",
        "row has 3 values but the first row (line 1) has 4",
    ),
    (
        "loss",
        "inf 0\n0 0\n",
        "m.txt:1:1",
        "value 'inf' is not finite (allowed: finite, non-negative percent)",
    ),
]


@pytest.mark.parametrize(("key", "text", "where", "message"), MATRIX_ERRORS)
def test_matrix_values_are_located_at_their_line_and_column(
    tmp_path: Path, key: str, text: str, where: str, message: str
) -> None:
    exc = _error(tmp_path, f"  {key}: m.txt\n", {"m.txt": text})
    assert isinstance(exc, MatrixError)
    assert str(exc).startswith(f"{tmp_path / where}: {message}"), str(exc)


def test_an_empty_matrix_names_its_kind(tmp_path: Path) -> None:
    exc = _error(tmp_path, "  loss: m.txt\n", {"m.txt": "\n"})
    assert str(exc) == f"{tmp_path / 'm.txt'}: the loss matrix is empty (allowed: a square matrix)"


@pytest.mark.parametrize("key", ["jitter", "loss"])
def test_a_dimension_other_than_the_latency_matrix_names_both(tmp_path: Path, key: str) -> None:
    exc = _error(tmp_path, f"  {key}: m.txt\n", {"m.txt": "0 1 2\n1 0 1\n2 1 0\n"})
    assert isinstance(exc, SpecError)
    assert str(exc) == (
        f"spec.yaml:8:{len(key) + 5}: the {key} matrix 'm.txt' is 3x3 but the latency matrix "
        "'latency.txt' is 4x4 (allowed: the same dimension as the latency matrix)"
    ).replace("spec.yaml", str(tmp_path / "spec.yaml"))


def test_matrix_wrap_applies_to_jitter_and_loss(tmp_path: Path) -> None:
    body = "  matrix_wrap: true\n  jitter: j.txt\n  loss: l.txt\n"
    j = "0 1 2 3\n1 0 1.5 2.5\n2 1.5 0 1.2\n3 2.5 1.2 0\n"
    spec = _write(tmp_path, body.replace('"4"', '"6"'), {"j.txt": j, "l.txt": j})
    spec.write_text(spec.read_text().replace('addresses: "4"', 'addresses: "6"'))
    project = load_project(spec)
    network = build_project_network(project, project_machines(project, ["gengar-1", "gengar-2"]))
    assert len(network.addresses) == 6
    assert network.link(5, 4) == network.link(1, 0) == LinkTuple(100, 10, 1000, 100)


def test_matrices_load_through_the_revision_reader(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    spec_text = HEAD + "  jitter: jitter.txt\n  loss: loss.txt\n"
    files = {"exp/spec.yaml": spec_text, "exp/latency.txt": LATENCY}
    ones = "0 1 1 1\n1 0 1 1\n1 1 0 1\n1 1 1 0\n"
    repo.commit({**files, "exp/jitter.txt": ones, "exp/loss.txt": ones}, "first")
    repo.commit({"exp/loss.txt": ones.replace("1", "2")}, "second")
    spec = repo.root / "exp/spec.yaml"
    old = load_project(spec, open_revision(spec, "HEAD~1"))
    assert isinstance(old.links.loss, LatencyMatrix)
    assert old.links.loss.file == "HEAD~1:exp/loss.txt"
    assert old.links.loss[0, 1] == 1.0
    assert load_project(spec).links.loss == LatencyMatrix(
        load_project(spec).links.loss.rows,  # type: ignore[union-attr]
        str(repo.root / "exp/loss.txt"),
    )
    repo.commit({"exp/loss.txt": "0 1\n1 0\n"}, "third")
    with pytest.raises(
        SpecError, match=r"HEAD:exp/spec.yaml:9:9: the loss matrix 'loss.txt' is 2x2"
    ):
        load_project(spec, open_revision(spec, "HEAD"))
