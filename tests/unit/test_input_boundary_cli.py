"""Issue 14's reproducers through the command line: one located `error:` line, exit 1.

Each case is a file (or flag) that crashed the tool with a traceback, or passed `validate`
and failed later; now `validate` (and `plan --offline` where the crash was there) print
`error: FILE:LINE:COL: what is wrong (allowed: ...)` and exit 1.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p import cli

# the CLI is being restructured: `build_app()` (the package) or `app` after `_register()`
APP = cli.build_app() if hasattr(cli, "build_app") else (cli._register(), cli.app)[1]
ROOT = Path(__file__).resolve().parents[2]
MATRIX = "0 1 2 3 4\n1 0 1 2 3\n2 1 0 1 2\n3 2 1 0 1\n4 3 2 1 0\n"
BASE = """\
version: 1
name: demo
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "4"
  latency_matrix: latency.txt
"""
GROUP = 'containers:\n  - name: "{name}"\n    image: alpine\n'


def _invoke(*args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(APP, list(args), input=stdin)


def _error(result) -> str:  # type: ignore[no-untyped-def]
    """The one `error:` line of a failed command (exit 1, no traceback, nothing else)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0]).removeprefix("error: ")


def _spec(tmp_path: Path, body: bytes | str) -> Path:
    (tmp_path / "latency.txt").write_text(MATRIX)
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(body.encode() if isinstance(body, str) else body)
    return spec


def _located(tmp_path: Path, body: bytes | str, *args: str) -> tuple[str, str]:
    """(line:col, message) of the error `validate` (or `args`) reports for a spec."""
    spec = _spec(tmp_path, body)
    text = _error(_invoke(*(args or ("validate",)), str(spec)))
    match = re.fullmatch(rf"{re.escape(str(spec))}:(\d+:\d+): (.*)", text)
    assert match, text
    return match.group(1), match.group(2)


# --- the input boundary: encoding, control characters, depth --------------------------


def test_a_spec_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    where, msg = _located(tmp_path, b"version: 1\nname: caf\xe9\n")
    assert where == "2:10"
    assert msg == "the spec is not text: byte 0xe9 is not UTF-8 (allowed: UTF-8 encoded text)"


def test_a_spec_that_is_not_utf8_through_the_real_entry_point(tmp_path: Path) -> None:
    spec = _spec(tmp_path, b"version: 1\nname: caf\xe9\n")
    proc = subprocess.run(
        [sys.executable, "-m", "oar_p2p", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: {spec}:2:10: the spec is not text: byte 0xe9 is not UTF-8 " + (
        "(allowed: UTF-8 encoded text)\n"
    )


@pytest.mark.parametrize(("char", "code"), [("\x00", "0000"), ("\x01", "0001"), ("\x1b", "001B")])
def test_a_control_character_in_a_spec_is_located(tmp_path: Path, char: str, code: str) -> None:
    where, msg = _located(tmp_path, f"version: 1\nname: a{char}b\n")
    assert where == "2:8"
    assert msg == f"control character U+{code} in the spec (allowed: printable UTF-8 text, " + (
        "tabs and newlines)"
    )


def test_a_deeply_nested_spec_is_located(tmp_path: Path) -> None:
    where, msg = _located(tmp_path, "x: " + "[" * 490 + "]" * 490 + "\n")
    assert where == "1:67"  # the 65th level: the mapping, then the 64th '['
    assert msg == "the spec nests more than 64 levels of lists/mappings (allowed: at most 64)"


def test_an_alias_inside_its_own_anchor_is_located(tmp_path: Path) -> None:
    where, msg = _located(tmp_path, BASE + "containers: &a [*a]\n")
    assert where.startswith("8:")
    assert "nests more than 64 levels" in msg and "alias" in msg


def test_a_number_past_the_int_digit_limit_is_located(tmp_path: Path) -> None:
    where, msg = _located(tmp_path, BASE.replace("demo", "0x" + "1" * 5000))
    assert where == "2:7"
    assert msg == "name: Input should be a valid string, got <an integer of 19997 bits>"


def test_a_deeply_nested_schedule_is_located(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_text("[" * 990 + "]" * 990)
    text = _error(_invoke("run", str(schedule)))
    assert text == f"{schedule}:1:33: the schedule nests more than 32 levels of lists/" + (
        "mappings (allowed: at most 32)"
    )


def test_a_schedule_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_bytes(b'[{"name": "caf\xe9"}]')
    assert _error(_invoke("run", str(schedule))).startswith(f"{schedule}:1:")


# --- templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "p{name}",
            "containers.0.name: template field {name} is not allowed in a container name: "
            "allowed: {address}, {index}, {machine}",
        ),
        (
            "{address.__class__:{index}}",
            "containers.0.name: template field {address.__class__:{index}} is not a plain "
            "field name (no attribute, index or positional fields): allowed: {address}, "
            "{index}, {machine}",
        ),
        (
            "{address.__class__.__mro__:{name}}",
            "containers.0.name: template field {address.__class__.__mro__:{name}} is not a "
            "plain field name",
        ),
        (
            "p{index.__class__.__mro__!s:.{index}}",
            "containers.0.name: template field {index.__class__.__mro__!s:.{index}} is not a "
            "plain field name",
        ),
        ("p{index[0]}", "containers.0.name: template field {index[0]} is not a plain field name"),
        ("p{0}", "containers.0.name: template field {0} is not a plain field name"),
        (
            "p{index:03d}",
            "containers.0.name: template field {index:03d} has a conversion or format spec: "
            "allowed: {address}, {index}, {machine} alone, e.g. {index}",
        ),
        (
            "p{index!r}",
            "containers.0.name: template field {index!r} has a conversion or format spec",
        ),
        (
            "p{addresses}",
            "containers.0.name: template field {addresses} is not allowed in a container name",
        ),
    ],
)
def test_a_bad_name_template_is_located(tmp_path: Path, template: str, message: str) -> None:
    where, msg = _located(tmp_path, BASE + GROUP.replace("{name}", template))
    assert where == "9:11"
    assert msg.startswith(message), msg


def test_a_nested_spec_in_an_env_template_is_located(tmp_path: Path) -> None:
    body = BASE + GROUP.replace("{name}", "p{index}") + "    env: {A: '{address.__class__}'}\n"
    where, msg = _located(tmp_path, body)
    assert where == "11:10"
    assert msg.startswith("containers.0.env: template field {address.__class__} is not a plain")


def test_every_rendered_name_is_checked_not_only_the_first(tmp_path: Path) -> None:
    # 119 x + "10.16.0.1" is 128 characters (valid); address 18 is 10.16.0.10 (129)
    body = BASE.replace('"4"', '"20"').replace("latency.txt", "latency.txt\n  matrix_wrap: true")
    where, msg = _located(tmp_path, body + GROUP.replace("{name}", "x" * 119 + "{address}"))
    assert where == "10:11"
    assert msg == (
        f"container name '{'x' * 119}10.16.0.10' (address 18) is invalid: allowed: letters, "
        "digits, '_', '.', '-', starting with a letter or digit, at most 128 characters"
    )


# --- ranges, interfaces, signals, frontend ----------------------------------------------


def test_a_huge_address_range_is_refused_before_it_is_built(tmp_path: Path) -> None:
    body = BASE + GROUP.replace("{name}", "p{index}") + '    addresses: "0-49999999"\n'
    where, msg = _located(tmp_path, body)
    assert where == "11:16"
    assert msg == (
        "address index 4 does not exist (allowed: 0..3, the network has 4 addresses; the "
        "range 0-49999999 goes beyond it)"
    )


def test_a_hex_index_past_the_digit_limit_is_located(tmp_path: Path) -> None:
    body = BASE + GROUP.replace("{name}", "p{index}") + f"    addresses: [0x{'f' * 5000}]\n"
    where, msg = _located(tmp_path, body)
    assert (where, msg) == (
        "11:16",
        "containers.0.addresses: address indices must be at most 999999999",
    )


@pytest.mark.parametrize("args", [("validate",), ("plan", "--offline", "--show-commands")])
def test_an_interface_override_that_is_not_a_name_is_located(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    body = BASE.replace(
        "  machines: [gengar-1, gengar-2]\n",
        "  machines: [gengar-1, gengar-2]\n  overrides:\n"
        "    gengar-1: {interface: 'eth0; reboot'}\n",
    )
    where, msg = _located(tmp_path, body, *args)
    assert where == "6:27"
    assert msg == (
        "cluster.overrides.gengar-1.interface: interface 'eth0; reboot' is invalid: allowed: "
        "1-15 of letters, digits, '_', '.', '-', not '.' or '..' (a Linux interface name)"
    )


@pytest.mark.parametrize("delay", [".inf", "-.inf", ".nan", "604801", "1e300"])
def test_a_signal_delay_that_is_not_finite_or_too_long_is_located(
    tmp_path: Path, delay: str
) -> None:
    where, msg = _located(tmp_path, BASE + f"signals: [{{name: start, delay: {delay}}}]\n")
    assert where == "8:32"
    assert msg.startswith("signals.0.delay: "), msg
    assert "604800" in msg or "greater than or equal to 0" in msg


def test_a_signal_flag_past_one_week_is_one_error_line(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_text('[{"address": "10.16.0.1", "image": "alpine"}]')
    text = _error(_invoke("run", str(schedule), "--signal", "start:99999999999999999999"))
    assert text.startswith("invalid signal 'start:99999999999999999999': bad delay")
    text = _error(_invoke("run", str(schedule), "--signal", "start:604801"))
    assert text == (
        "invalid signal 'start:604801': signal delay 604801 is out of range (allowed: finite "
        "seconds from 0 to 604800, one week)"
    )


@pytest.mark.parametrize("frontend", ["-oProxyCommand=touch /tmp/x", "fe;id", "fe host", "$(id)"])
def test_a_frontend_that_is_not_an_ssh_alias_is_located(tmp_path: Path, frontend: str) -> None:
    body = BASE.replace("cluster:\n", f"cluster:\n  frontend: '{frontend}'\n")
    where, msg = _located(tmp_path, body)
    assert where == "4:13"
    assert msg.startswith(f"cluster.frontend: invalid ssh alias {frontend!r}: allowed: an ssh")
