"""Strategies for hostile input, one per class of issue 14's crashes.

- `spec_text`: a spec whose slots (name, frontend, interface, addresses, selection,
  templates, delays, timeline steps...) are each either a sane value or a hostile YAML
  snippet;
- `byte_damage`: non-UTF-8 bytes and control characters spliced into a text;
- `depth_bomb_yaml` / `depth_bomb_json`: nesting far past the bound, flow and block style;
- `template`: plain fields, attributes, indexing, conversions, (nested) format specs;
- `selection`: ranges with huge or endless bounds, overlapping spans, lists;
- `number`: infinities, NaN, huge and tiny floats, 5,000-digit integers;
- `ssh_config_text`, `known_hosts_text`: hostile ssh_config and known_hosts files.
"""

from __future__ import annotations

import base64
import json

from hypothesis import strategies as st

__all__ = [
    "byte_damage",
    "depth_bomb_json",
    "depth_bomb_yaml",
    "known_hosts_text",
    "number",
    "selection",
    "spec_text",
    "ssh_config_text",
    "template",
]

HOSTILE = [
    "",
    "-",
    "-oProxyCommand=touch /tmp/pwned",
    "$(id)",
    "`id`",
    "a;b",
    "a b",
    "'",
    '"',
    "\\",
    "%",
    "%d",
    "%h",
    "~",
    "{",
    "}",
    "{{",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\u0085",
    "\u2028",
    "\ufeff",
    "\udcff",
    "é",
    "a" * 300,
    "eth0; reboot",
    "eth0/1",
    "eth0:1",
    "..",
    "0123456789abcdef",
]
hostile_str = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON escapes are valid YAML escapes)."""
    return json.dumps(text)


number = st.one_of(
    st.sampled_from(
        [".inf", "-.inf", ".nan", ".NaN", "1e309", "-1e309", "1e-320", "-0", "0x10", "0o7"]
    ),
    st.sampled_from(["9" * 5000, "0x" + "f" * 5000, "1" * 4301, "604800", "604801", "1e9"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)

_FIELD = st.sampled_from(["index", "address", "machine", "addresses", "name", "", "0", "x"])
_CHAIN = st.lists(
    st.sampled_from([".__class__", ".__mro__", ".real", "[0]", "[index]", ".__globals__"]),
    max_size=3,
).map("".join)
_CONVERSION = st.sampled_from(["", "", "!r", "!s", "!a", "!x"])
_SPEC = st.one_of(
    st.just(""),
    st.sampled_from([":03d", ":>9", ":.{index}", ":{index}", ":{name}", ":{{", ":x<130"]),
    st.text(alphabet="0123456789<>^=.,:{}dxs", max_size=6).map(lambda s: ":" + s),
)


@st.composite
def _placeholder(draw: st.DrawFn) -> str:
    return "{" + draw(_FIELD) + draw(_CHAIN) + draw(_CONVERSION) + draw(_SPEC) + "}"


template = st.lists(
    st.one_of(_placeholder(), st.sampled_from(["peer-", "x", "{{", "}}", "{", "}", "-", " "])),
    min_size=1,
    max_size=5,
).map("".join)

_BOUND = st.one_of(
    st.integers(0, 8),
    st.integers(0, 10**12),
    st.sampled_from(["49999999", "9" * 5000, "", "-1", "x", "1.5"]),
)
selection = st.one_of(
    st.sampled_from(["all", "0-49999999", ",".join(["0-3"] * 500), "0-", "-", "3-1"]),
    st.sampled_from(["[0x" + "f" * 5000 + "]", "[1, 0x" + "f" * 300 + "]", "[.inf]", "[1e9]"]),
    st.lists(
        st.tuples(_BOUND, st.sampled_from(["-", "", "--"]), _BOUND).map(
            lambda t: f"{t[0]}{t[1]}{t[2] if t[1] else ''}"
        ),
        min_size=1,
        max_size=6,
    ).map(lambda parts: _quoted(",".join(map(str, parts)))),
    st.lists(st.integers(-3, 10**9), max_size=6).map(json.dumps),
)


_YAML_DEPTH = st.integers(1, 1500)
_JSON_DEPTH = st.integers(1, 3000)


def depth_bomb_yaml(depth: st.SearchStrategy[int] = _YAML_DEPTH) -> st.SearchStrategy[str]:
    """Nested flow lists/maps, or block lists, of a drawn depth."""

    def flow(n: int, kind: str) -> str:
        open_, close = ("[", "]") if kind == "list" else ("{a: ", "}")
        return open_ * n + "1" + close * n

    def block(n: int) -> str:
        return "\n" + "".join(" " * (i + 1) + "-\n" for i in range(n)) + " " * (n + 1) + "- 1"

    return st.tuples(depth, st.sampled_from(["list", "map", "block"])).map(
        lambda t: block(min(t[0], 300)) if t[1] == "block" else flow(*t)
    )


def depth_bomb_json(depth: st.SearchStrategy[int] = _JSON_DEPTH) -> st.SearchStrategy[str]:
    return st.tuples(depth, st.sampled_from(["[]", "{}", "mixed"])).map(lambda t: _json_nest(*t))


def _json_nest(n: int, kind: str) -> str:
    if kind == "[]":
        return "[" * n + "]" * n
    if kind == "{}":
        return '{"a":' * n + "1" + "}" * n
    return "[" + '{"env":[' * n + "]}" * n + "]"


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    """A spec whose every slot is sane or hostile (about half the slots hostile)."""

    def slot(sane: str, hostile: st.SearchStrategy[str]) -> str:
        return sane if draw(st.booleans()) else draw(hostile)

    q = hostile_str.map(_quoted)
    text = f"""\
version: 1
name: {slot("demo", q)}
cluster:
  machines: [gengar-1, gengar-2]
  frontend: {slot("dicluster", q)}
  username: {slot("alice", q)}
  overrides:
    gengar-1: {{interface: {slot("eth0", q)}, cpus: {slot("4", number)}}}
network:
  addresses: {slot('"4"', st.one_of(q, number, st.sampled_from(['"4/cpu"', '"3/machine"'])))}
  latency_matrix: latency.txt
  matrix_wrap: {slot("false", st.sampled_from(["true", "yes", "1", "null"]))}
  latency_resolution_ms: {slot("0.1", number)}
containers:
  - name: {slot('"peer-{index}"', template.map(_quoted))}
    addresses: {slot('"0-3"', selection)}
    image: alpine
    env: {{A: {slot('"{address}"', template.map(_quoted))}}}
    command: [sh, {slot('"{addresses}"', template.map(_quoted))}]
signals:
  - {{name: start, delay: {slot("5", number)}}}
timeline:
  - {{at: {slot("1", number)}, after: {slot("start", q)}, stop: {slot('"1-2"', selection)}}}
  - {{at: {slot("2", number)}, partition: [{slot('"0-1"', selection)}, {slot("2", selection)}]}}
  - at: {slot("3", number)}
    set: [{{from: {slot("0", selection)}, to: 3, loss: {slot("100", number)}}}]
    repeat: {{every: {slot("0.25", number)}, times: {slot("3", number)}}}
  - {{at: 4, network: {{loss: {slot("1", number)}, latency_matrix: {slot("latency.txt", q)}}}}}
  - {{at: 5, heal: true, start: "1-2", signal: {slot("end", q)}}}
"""
    if draw(st.integers(0, 9)) == 0:  # now and then a depth bomb in a value
        text = text.replace("image: alpine", "image: " + draw(depth_bomb_yaml()), 1)
    return text


@st.composite
def byte_damage(draw: st.DrawFn, text: str) -> bytes:
    """`text` encoded, with up to three splices of invalid UTF-8 or control bytes."""
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    junk = st.one_of(
        st.binary(min_size=1, max_size=4),
        st.sampled_from([b"\xe9", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1b"]),
        st.sampled_from([b"\x7f", b"\xc2\x80", b"\xef\xbf\xbe", b"\xef\xbb\xbf"]),
    )
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(junk)
    return bytes(data)


_SSH_KEYS = st.sampled_from(
    [
        "Host",
        "HostName",
        "Port",
        "User",
        "ProxyJump",
        "ProxyCommand",
        "IdentityFile",
        "IdentitiesOnly",
        "UserKnownHostsFile",
        "GlobalKnownHostsFile",
        "HostKeyAlias",
        "Include",
        "Match",
        "port",
        "PORT",
        "Bogus",
    ]
)
_SSH_VALUES = st.one_of(
    hostile_str,
    number,
    st.sampled_from(
        [
            "*",
            "!bad",
            "fe,gw",
            "a@b:c",
            "a@b:22,c",
            "[::1]:x",
            "%d/%u/%h/%%",
            "%Z",
            "~/kh",
            "config",
            "*.conf",
            "host fe",
            "all",
            "canonical",
            "user x",
            "=",
            "22",
            "65536",
            "0",
            "none",
        ]
    ),
)


@st.composite
def ssh_config_text(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        key, value = draw(_SSH_KEYS), draw(_SSH_VALUES)
        if key == "Match" and "exec" in value.lower():
            value = "all"  # `Match exec` runs a command: never generated
        sep = draw(st.sampled_from([" ", "=", " = ", "\t"]))
        indent = draw(st.sampled_from(["", "  "]))
        lines.append(f"{indent}{key}{sep}{value}")
    return "\n".join(lines) + "\n"


_PATTERN = st.one_of(
    st.sampled_from(
        ["*", "?", "*.example", "!bad.example", "[fe]:2222", "[*]:*", "fe", "|1|x|y", "|1|", "!"]
    ),
    hostile_str.filter(lambda s: s.strip() == s and " " not in s and s != ""),
)
_KEY_TYPES = st.sampled_from(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "bogus", ""])
_BLOBS = st.one_of(
    st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from(["%%%", "AAAA", "=", "not base64!"]),
)


@st.composite
def known_hosts_text(draw: st.DrawFn, real_lines: list[str]) -> str:
    """Hostile lines (markers, patterns, bad blobs) mixed with some real key lines."""
    lines = []
    for _ in range(draw(st.integers(0, 10))):
        marker = draw(st.sampled_from(["", "", "@revoked ", "@cert-authority ", "@bogus ", "@"]))
        patterns = ",".join(draw(st.lists(_PATTERN, min_size=1, max_size=3)))
        fields = [patterns, draw(_KEY_TYPES), draw(_BLOBS)][: draw(st.integers(1, 3))]
        lines.append(marker + " ".join(fields))
    if real_lines:
        lines += draw(st.lists(st.sampled_from(real_lines), max_size=3))
    draw(st.randoms()).shuffle(lines)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
