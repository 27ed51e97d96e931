"""`verify --step N`: the Network handed to `run_verify` is the one in force after event N
(a fake session and a fake `run_verify` record it); N out of range is refused with the
allowed range, before any session is opened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.cli import verify as cli_verify
from oar_p2p.desired.network import Network
from oar_p2p.project import load_project, machines_from_names
from oar_p2p.verify import VerifyReport

CASE = Path(__file__).parents[2] / "fixtures" / "timeline" / "plan"
MACHINES = ["gengar-1", "gengar-2", "gengar-3"]


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[Network]:
    """The networks `run_verify` was called with; sessions opened are counted as None."""
    got: list[Any] = []

    @contextmanager
    def session(*_: object, **__: object) -> Iterator[SimpleNamespace]:
        got.append(None)
        yield SimpleNamespace(machines=machines_from_names(MACHINES, {}))

    def run_verify(_: object, network: Network, **__: object) -> VerifyReport:
        got.append(network)
        return VerifyReport([], 0.1, 1.0, 10.0)

    monkeypatch.setattr(cli_verify, "spec_session", session)
    monkeypatch.setattr(cli_verify, "run_verify", run_verify)
    return got


def _verify(*extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(build_app(), ["verify", str(CASE / "spec.yaml"), *extra])


def _ms(network: Network, i: int, j: int) -> float:
    return network.link(i, j).delay_steps * network.quantizer.resolution_us / 1000


def test_no_step_and_step_0_verify_the_base(handed: list[Any]) -> None:
    assert _verify().exit_code == 0
    assert _verify("--step", "0").exit_code == 0
    base, step0 = handed[1], handed[3]
    assert base is step0 or base == step0
    assert (_ms(base, 0, 1), _ms(base, 0, 3)) == (11, 10)  # a.txt


@pytest.mark.parametrize(
    ("step", "want"),
    [
        (1, (41, 40, 0)),  # the swap: b.txt
        (2, (41, 0, 100_000)),  # the partition of 0-2 from 3-5 (loss 100 %, no delay)
        (3, (41, 0, 100_000)),  # a container stop: the partition still in force
        (4, (41, 40, 0)),  # healed: b.txt again
        (5, (41, 40, 0)),  # a start and a signal: the last network stays
    ],
)
def test_step_n_verifies_the_network_in_force_after_it(
    handed: list[Any], step: int, want: tuple[float, float, int]
) -> None:
    result = _verify("--step", str(step))
    assert result.exit_code == 0, result.output
    network = handed[-1]
    assert (_ms(network, 0, 1), _ms(network, 0, 3), network.link(0, 3).loss_milli) == want


@pytest.mark.parametrize("step", ["6", "-1"])
def test_a_step_out_of_range_names_the_allowed_range(handed: list[Any], step: str) -> None:
    result = _verify("--step", step)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: --step {step} is out of range: the timeline has 5 event(s) "
        "(allowed: 0 to 5; 0 is the spec's base network)"
    )
    assert handed == []  # refused before connecting


def test_a_spec_without_timeline_allows_only_step_0(tmp_path: Path, handed: list[Any]) -> None:
    spec = (CASE / "spec.yaml").read_text().split("timeline:")[0]
    (tmp_path / "spec.yaml").write_text(spec)
    (tmp_path / "a.txt").write_text((CASE / "a.txt").read_text())
    assert load_project(tmp_path / "spec.yaml").spec.timeline == []
    args = ["verify", str(tmp_path / "spec.yaml"), "--step"]
    assert CliRunner().invoke(build_app(), [*args, "0"]).exit_code == 0
    result = CliRunner().invoke(build_app(), [*args, "1"])
    assert "allowed: 0 only: the spec has no timeline" in result.stderr
