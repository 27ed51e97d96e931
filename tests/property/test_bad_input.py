"""Property tests: every generated input loads or fails with the tool's own error.

Never a traceback (any exception other than OarP2PError fails the test), never a hang
(pytest-timeout). These five take 3,100 of the property tier's 10,000 CI cases
(`tests/property/profile.py`).
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from oar_p2p.errors import InputError, OarP2PError
from oar_p2p.matrix import parse_matrix
from oar_p2p.schedule import parse_schedule
from oar_p2p.spec.load import parse_spec_text
from oar_p2p.spec.values import AddressPolicy, SignalSpec
from tests.property.profile import cases, counted

pytestmark = pytest.mark.timeout(900)

nasty = st.sampled_from(
    [
        "",
        " ",
        "-",
        "--x",
        "'",
        '"',
        "$(touch /tmp/pwned)",
        "`id`",
        ";",
        "\n",
        "{",
        "}",
        "{index}",
        "{bogus}",
        "0",
        "-1",
        "1.5",
        "nan",
        "inf",
        "1e309",
        "10/cpu",
        "4/core",
        "a" * 70,
        "ünïcode",
        "\x00",
        "null",
        "true",
        "[]",
        "{}",
        "10.16.0.1",
        "@",
        ":",
        "#",
    ]
)
scalar = st.one_of(
    nasty,
    st.text(max_size=12),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(nasty, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)

BASE = {
    "version": 1,
    "name": "demo",
    "cluster": {"machines": ["gengar-1"]},
    "network": {"addresses": "4", "latency_matrix": "m.txt"},
    "containers": [{"name": "p-{index}", "image": "demo:latest", "env": {"A": "{address}"}}],
    "signals": [{"name": "start", "delay": 5}],
    "timeline": [{"at": 1, "stop": "0-1"}, {"at": 2, "network": {"loss": 1}}],
}
PATHS = [
    ("version",),
    ("name",),
    ("cluster",),
    ("cluster", "machines"),
    ("cluster", "job"),
    ("network",),
    ("network", "addresses"),
    ("network", "latency_matrix"),
    ("network", "matrix_wrap"),
    ("network", "latency_resolution_ms"),
    ("containers",),
    ("signals",),
    ("timeline",),
    ("bogus",),
    ("network", "bogus"),
]


def _mutate(doc: dict, path: tuple[str, ...], new: object) -> dict:
    import copy

    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return out


@cases(1000)
@given(st.sampled_from(PATHS), value)
@counted
def test_spec_mutations_load_or_fail_cleanly(path, new):
    text = yaml.safe_dump(_mutate(BASE, path, new), allow_unicode=True)
    try:
        parse_spec_text(text, "spec.yaml")
    except InputError as exc:
        assert exc.file == "spec.yaml" and exc.line is not None and exc.col is not None


@cases(700)
@given(st.text(max_size=300))
@counted
def test_spec_raw_text(text):
    try:
        parse_spec_text(text, "spec.yaml")
    except InputError as exc:
        assert exc.file == "spec.yaml"


@cases(500)
@given(
    st.lists(
        st.lists(
            st.one_of(nasty, st.floats(), st.integers(-3, 500).map(str)), min_size=0, max_size=5
        ),
        max_size=5,
    ),
    st.sampled_from([" ", "\t", "  "]),
)
@counted
def test_matrix_text(rows, sep):
    text = "\n".join(sep.join(str(v) for v in row) for row in rows)
    try:
        m = parse_matrix(text, "m.txt")
    except InputError as exc:
        assert exc.file == "m.txt"
    else:
        assert all(len(r) == m.dimension for r in m.rows)


@cases(500)
@given(st.one_of(st.text(max_size=200), value.map(lambda v: __import__("json").dumps(v))))
@counted
def test_schedule_text(text):
    try:
        parse_schedule(text, "schedule.json")
    except InputError as exc:
        assert exc.file == "schedule.json"


@cases(400)
@given(st.one_of(nasty, st.text(max_size=20), st.from_regex(r"[0-9]{1,4}(/(cpu|machine|core))?")))
@counted
def test_policy_and_signal_strings(text):
    for parse in (AddressPolicy.parse, SignalSpec.parse):
        try:
            parse(text)
        except OarP2PError as exc:
            assert "allowed" in str(exc)
