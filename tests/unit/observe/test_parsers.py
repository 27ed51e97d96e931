"""The observe parsers against real captures: tests/fixtures/observed/<tool>/<case>.json.

A fixture is ``{command, args?, parser?, source, setup, output, expected | raises}``:
`setup` lists the commands that built the captured state (in a throwaway network
namespace), `output` is what `command` printed, and `expected` the parser's result as
JSON (`raises`: a fragment of the `ObservedOutputError` message). One parametrized test
per tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.desired.latency import DEFAULT_MINOR, LatencyClass
from oar_p2p.desired.network import desired_chains
from oar_p2p.observe import ObservedOutputError
from oar_p2p.observe.ip import parse_ip_addr, parse_route
from oar_p2p.observe.nft import parse_nft_elements_text, parse_nft_table, render_rule
from oar_p2p.observe.sysctl import parse_sysctls
from oar_p2p.observe.tc import netem_delay_us, parse_rate, parse_tc
from oar_p2p.state import NftState, PairMap, RootQdisc, TcClass, TcTree

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "observed"
TOOLS = ("ip", "tc", "nft", "sysctl")


def load(tool: str) -> list[Any]:
    return [
        pytest.param(json.loads(p.read_text()), id=p.stem)
        for p in sorted((FIXTURES / tool).glob("*.json"))
    ]


def fixture(tool: str, case: str) -> dict[str, Any]:
    return json.loads((FIXTURES / tool / f"{case}.json").read_text())


def check(fx: dict[str, Any], run: Callable[[], Any]) -> None:
    if "raises" in fx:
        with pytest.raises(ObservedOutputError, match=fx["raises"]):
            run()
    else:
        assert run() == fx["expected"]


def pairs_json(pairs: PairMap | None) -> list[list[Any]] | None:
    return None if pairs is None else [list(e) for e in pairs.elements()]


def run_nft(fx: dict[str, Any]) -> dict[str, Any]:
    if fx["parser"] == "parse_nft_elements_text":
        return {"pairs": pairs_json(parse_nft_elements_text(fx["output"]))}
    state, pairs = parse_nft_table(fx["output"])
    return {
        "nft": None if state is None else state.model_dump(mode="json"),
        "pairs": pairs_json(pairs),
    }


# --- one parametrized test per tool -------------------------------------------------------


@pytest.mark.parametrize("fx", load("ip"))
def test_ip(fx: dict[str, Any]) -> None:
    if fx["parser"] == "parse_route":
        check(fx, lambda: parse_route(fx["output"], **fx["args"]))
    else:
        check(fx, lambda: parse_ip_addr(fx["output"], **fx["args"]).model_dump(mode="json"))


@pytest.mark.parametrize("fx", load("tc"))
def test_tc(fx: dict[str, Any]) -> None:
    out = fx["output"]
    iface = fx["args"]["interface"]
    check(
        fx,
        lambda: parse_tc(iface, out["qdisc"], out["class"], out["filter"]).model_dump(mode="json"),
    )


@pytest.mark.parametrize("fx", load("nft"))
def test_nft(fx: dict[str, Any]) -> None:
    check(fx, lambda: run_nft(fx))


@pytest.mark.parametrize("fx", load("sysctl"))
def test_sysctl(fx: dict[str, Any]) -> None:
    check(fx, lambda: parse_sysctls(fx["output"]))


# --- the fixtures themselves ---------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_fixtures_are_complete(tool: str) -> None:
    cases = list((FIXTURES / tool).glob("*.json"))
    assert len(cases) >= 3
    for path in cases:
        fx = json.loads(path.read_text())
        assert {"command", "source", "output"} <= fx.keys(), path.name
        assert ("expected" in fx) != ("raises" in fx), path.name
        assert "synthetic" not in fx["source"], f"{path.name}: replace with a real capture"


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_has_absent_and_garbage_cases(tool: str) -> None:
    names = [p.stem for p in (FIXTURES / tool).glob("*.json")]
    assert any(n.startswith("garbage") for n in names)
    if tool != "sysctl":
        assert any("absent" in n or "nothing" in n for n in names)


# --- observed == desired for what the tool itself installs ------------------------------------


def test_installed_tc_tree_is_the_desired_one() -> None:
    fx = fixture("tc", "installed")
    out = fx["output"]
    observed = parse_tc("bond0", out["qdisc"], out["class"], out["filter"])
    classes = [TcClass(minor=DEFAULT_MINOR)]
    for steps in (0, 10, 25, 12345):  # the steps `setup` installed, at 0.1 ms resolution
        k = LatencyClass(steps, 100)
        classes.append(
            TcClass(minor=k.minor, delay_us=k.delay_us, netem_major=k.netem_major, mark=k.mark)
        )
    want = TcTree(
        interface="bond0",
        root=RootQdisc(kind="htb", handle="1:", default_minor=DEFAULT_MINOR),
        classes=tuple(sorted(classes, key=lambda c: c.minor)),
    )
    assert observed == want


def test_installed_nft_table_is_the_desired_one() -> None:
    state, pairs = parse_nft_table(fixture("nft", "installed")["output"])
    assert state == NftState(chains=desired_chains())
    assert pairs is not None
    assert (
        pairs.digest
        == PairMap.from_elements(
            [
                ("10.16.0.1", "10.16.0.2", 11),
                ("10.16.0.1", "10.16.0.3", 26),
                ("10.16.0.2", "10.16.0.1", 1),
            ]
        ).digest
    )


def test_text_and_json_listings_give_the_same_pairs() -> None:
    _, from_json = parse_nft_table(fixture("nft", "installed")["output"])
    from_text = parse_nft_elements_text(fixture("nft", "text_map")["output"])
    assert from_json is not None and from_text is not None
    assert (from_json.size, from_json.digest) == (from_text.size, from_text.digest)


def test_nothing_installed_is_distinct_from_a_foreign_root() -> None:
    def tree(case: str) -> TcTree:
        out = fixture("tc", case)["output"]
        return parse_tc("bond0", out["qdisc"], out["class"], out["filter"])

    assert tree("nothing_installed") == TcTree(interface="bond0")
    assert tree("foreign_root_tbf").root == RootQdisc(kind="tbf", handle="8001:")


def test_a_foreign_rule_in_our_chain_shows_as_a_difference() -> None:
    state, _ = parse_nft_table(fixture("nft", "foreign_next_to_ours")["output"])
    assert state is not None
    extra = [r for r in state.chains["output"] if r not in desired_chains()["output"]]
    assert extra[0] == "tcp dport 22 accept"
    assert extra[1].startswith("json:") and '"log"' in extra[1]


# --- netem delays, rates, rule rendering ------------------------------------------------------

# (printed seconds, delay given to tc) captured on the testbed (iproute2 6.1, kernel 6.1)
TESTBED_NETEM = [
    (9.9e-05, 100),
    (0.000299, 300),
    (0.001, 1000),
    (0.001099, 1100),
    (0.002499, 2500),
    (0.0026, 2600),
    (0.012299, 12300),
    (0.065531, 65532),
    (0.099899, 99900),
    (0.65532, 655320),
    (1.2345, 1234500),
    (6.5532, 6553200),
]


@pytest.mark.parametrize(("seconds", "given"), TESTBED_NETEM)
def test_netem_delay_is_the_value_given_to_tc(seconds: float, given: int) -> None:
    assert netem_delay_us(seconds) == given


def _printed_by_iproute2_6_1(us: int) -> float:
    """tc 6.1: us -> 64 ns ticks (truncated) -> us (truncated) -> seconds with %g."""
    ticks = us * 1000 // 64
    return float("%g" % (int(ticks / 15.625) / 1e6))


@pytest.mark.parametrize("resolution_us", [2, 10, 50, 100, 1000])
def test_every_delay_of_an_even_resolution_survives_tc(resolution_us: int) -> None:
    wrong = [
        s
        for s in range(65533)
        if netem_delay_us(_printed_by_iproute2_6_1(s * resolution_us)) != s * resolution_us
    ]
    assert wrong == []


def test_only_8k_plus_1_microseconds_are_lost_by_tc() -> None:
    wrong = [us for us in range(200_000) if netem_delay_us(_printed_by_iproute2_6_1(us)) != us]
    assert wrong and all(us % 8 == 1 for us in wrong)


def test_exact_printing_tc_is_read_as_is() -> None:
    assert netem_delay_us(0.0025, ticks=False) == 2500
    assert netem_delay_us(0.002501, ticks=False) == 2501


@pytest.mark.parametrize(
    ("text", "bps"),
    [("10Gbit", 10**10), ("2500Kbit", 2_500_000), ("5Mbit", 5 * 10**6), ("1Kibit", 1024)],
)
def test_parse_rate(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize("text", ["10G", "fast", "10Gbps", ""])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a tc rate"):
        parse_rate(text)


def test_rule_fallback_is_stable_and_ignores_counter_values() -> None:
    a = [{"counter": {"packets": 1, "bytes": 2}}, {"log": {"prefix": "x"}}]
    b = [{"counter": {"packets": 9, "bytes": 9}}, {"log": {"prefix": "x"}}]
    assert render_rule(a) == render_rule(b) == 'json:[{"counter":null},{"log":{"prefix":"x"}}]'
