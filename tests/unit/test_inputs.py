"""The input boundary (`oar_p2p.inputs`), templates and selections, unit by unit."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from oar_p2p.errors import MatrixError, ScheduleError, SpecError
from oar_p2p.inputs import MATRIX, SCHEDULE, SPEC, InputFormat, decode, read_input
from oar_p2p.matrix_file import load_matrix
from oar_p2p.schedule import load_schedule, parse_schedule
from oar_p2p.spec.selection import OutOfRange, parse_ranges, select_indices
from oar_p2p.spec.templates import NAME_FIELDS, VALUE_FIELDS, check_template, render

# --- read_input / decode ------------------------------------------------------------


def test_each_format_raises_its_own_error(tmp_path: Path) -> None:
    for fmt, error in ((SPEC, SpecError), (MATRIX, MatrixError), (SCHEDULE, ScheduleError)):
        with pytest.raises(error) as err:
            decode(b"ok\n\xff", "f", fmt)
        assert (err.value.file, err.value.line, err.value.col) == ("f", 2, 1)
        assert err.value.message == (
            f"the {fmt.what} is not text: byte 0xff is not UTF-8 (allowed: UTF-8 encoded text)"
        )


def test_the_column_of_a_bad_byte_counts_characters_not_bytes() -> None:
    with pytest.raises(SpecError) as err:
        decode("name: éé".encode() + b"\xe9\n", "s", SPEC)
    assert (err.value.line, err.value.col) == (1, 9)


@pytest.mark.parametrize(
    ("data", "line", "col", "code"),
    [
        (b"a\x00", 1, 2, "0000"),
        (b"a\nb\x7f", 2, 2, "007F"),
        ("é\u0085ok\n\u0080".encode(), 2, 1, "0080"),  # NEL is printable, C1 0x80 is not
        ("x\ufffe".encode(), 1, 2, "FFFE"),
    ],
)
def test_control_characters_are_located(data: bytes, line: int, col: int, code: str) -> None:
    with pytest.raises(MatrixError) as err:
        decode(data, "m", MATRIX)
    assert (err.value.line, err.value.col) == (line, col)
    assert err.value.message.startswith(f"control character U+{code} in the latency matrix")


def test_tabs_newlines_crlf_and_a_bom_are_text() -> None:
    assert decode(b"0\t1\r\n1\t0\n", "m", MATRIX) == "0\t1\r\n1\t0\n"
    assert decode("\ufeffname: x\n".encode(), "s", SPEC) == "name: x\n"


def test_reading_is_bounded_by_the_format_size(tmp_path: Path) -> None:
    tiny = InputFormat("spec", SpecError, 8)
    path = tmp_path / "big"
    path.write_bytes(b"x" * 9)
    with pytest.raises(SpecError, match=r"larger than 8 bytes \(allowed: at most 8 bytes\)"):
        read_input(path, tiny)
    path.write_bytes(b"x" * 8)
    assert read_input(path, tiny).text() == "x" * 8


def test_an_endless_file_is_refused_without_reading_it_all() -> None:
    with pytest.raises(SpecError, match="larger than 4 MiB"):
        read_input(Path("/dev/zero"), SPEC)


def test_a_missing_file_or_a_directory_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="cannot read latency matrix: No such file"):
        load_matrix(tmp_path / "absent")
    with pytest.raises(ScheduleError, match="cannot read schedule: Is a directory"):
        load_schedule(tmp_path)


def test_json_depth_ignores_brackets_inside_strings() -> None:
    text = '[{"address": "10.16.0.1", "image": "a", "name": "n", "env": {"K": "' + "[" * 100
    text += '\\"]"}}]'
    entries = parse_schedule(text, "s.json")
    assert entries[0].env == {"K": "[" * 100 + '"]'}
    with pytest.raises(ScheduleError, match=r"^s.json:1:33: the schedule nests more than 32"):
        parse_schedule("[" * 40, "s.json")


def test_a_schedule_from_stdin_bytes_is_decoded_at_the_boundary() -> None:
    stdin = io.BytesIO(b'[{"address": "10.16.0.1", "image": "a", "name": "caf\xe9"}]')
    with pytest.raises(ScheduleError) as err:
        load_schedule(None, stdin)
    assert (err.value.file, err.value.line, err.value.col) == ("<stdin>", 1, 53)


# --- templates ----------------------------------------------------------------------


def test_render_substitutes_fields_and_keeps_literal_braces() -> None:
    values = {"index": 3, "address": "10.16.0.2", "machine": "m", "addresses": "a,b", "name": "n"}
    assert render("{{x}} {name}@{address}:{index}", values, VALUE_FIELDS) == "{x} n@10.16.0.2:3"


@pytest.mark.parametrize(
    "template",
    ["{index.real}", "{index[0]}", "{}", "{0}", "{index!s}", "{index:>9}", "{index:{index}}"],
)
def test_anything_but_a_plain_field_is_refused(template: str) -> None:
    with pytest.raises(ValueError, match=r"template field \{.*\} "):
        check_template(template, VALUE_FIELDS)


def test_a_value_field_is_refused_in_a_name_template() -> None:
    with pytest.raises(ValueError, match=r"\{addresses\} is not allowed in a container name"):
        check_template("p{addresses}", NAME_FIELDS)
    check_template("p{addresses}", VALUE_FIELDS)


# --- selections ---------------------------------------------------------------------


def test_ranges_parse_to_spans_without_materialising() -> None:
    assert parse_ranges("0-3, 7") == [(0, 3), (7, 7)]
    with pytest.raises(ValueError, match="bad address range"):
        parse_ranges("0-" + "9" * 5000)  # past int()'s digit limit: refused by length


def test_a_huge_range_fails_before_any_index_is_built() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(OutOfRange) as err:
            select_indices("0-2,3-49999999", 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert str(err.value) == (
        "address index 4 does not exist (allowed: 0..3, the network has 4 addresses; the "
        "range 3-49999999 goes beyond it)"
    )


def test_overlapping_ranges_give_each_index_once_in_order() -> None:
    assert select_indices("5-7,0-9,6", 10) == [5, 6, 7, 0, 1, 2, 3, 4, 8, 9]
    assert select_indices(",".join(["0-99999"] * 2000), 100_000) == list(range(100_000))
