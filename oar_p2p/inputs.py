"""The one input boundary: every user file (spec, matrix, schedule, run manifest) is read here.

`read_input(path, FORMAT)` reads at most `FORMAT.max_bytes` (+1 to notice more), and
`Input.text()` decodes it, turning every failure into the format's located error
(`SpecError`, `MatrixError`, `ScheduleError`: ``file:line:col: what (allowed: ...)``):

    not readable            cannot read spec: No such file or directory
    too large               the spec is larger than 4 MiB (allowed: ...)
    not UTF-8               spec.yaml:2:10: the spec is not text: byte 0xe9 is not UTF-8 ...
    control character       spec.yaml:2:8: control character U+0001 (allowed: ...)
    nested too deeply       spec.yaml:1:70: the spec nests more than 64 levels (allowed: ...)

Depth is bounded before any recursive parser sees the text: YAML by its event stream
(PyYAML's parser is iterative, its composer is not), JSON by a scan of brackets outside
strings. `check_text(text, file, FORMAT)` applies the same checks to text that did not
come from a file (stdin already decoded, tests).

Loaders take a `Reader` (default `FILES`, the filesystem): `oar_p2p.revision` is the
other one, reading the same paths as they were at a git revision (`plan --against REF`),
so text from git passes exactly these checks and the loaders' validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import yaml

from oar_p2p.errors import InputError, MatrixError, ScheduleError, SpecError

__all__ = [
    "FILES",
    "JITTER_MATRIX",
    "LOSS_MATRIX",
    "MANIFEST",
    "MATRIX",
    "SCHEDULE",
    "SPEC",
    "Input",
    "InputFormat",
    "Reader",
    "check_text",
    "decode",
    "position",
    "read_input",
]

_MIB = 1 << 20
# YAML 1.1's printable set (what PyYAML accepts), used for every format: tab, LF, CR, the
# printable ASCII, NEL, and the BMP/astral ranges without surrogates and U+FFFE/U+FFFF.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_ASCII_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


@dataclass(frozen=True)
class InputFormat:
    """What one kind of input file is and its limits."""

    what: str  # "spec": used in messages
    error: type[InputError]
    max_bytes: int
    nesting: Literal["yaml", "json"] | None = None
    max_depth: int = 64
    unit: str = ""  # of a matrix's values, in errors


SPEC = InputFormat("spec", SpecError, 4 * _MIB, "yaml", 64)
MATRIX = InputFormat("latency matrix", MatrixError, 4096 * _MIB, unit="milliseconds")
JITTER_MATRIX = InputFormat("jitter matrix", MatrixError, 4096 * _MIB, unit="milliseconds")
LOSS_MATRIX = InputFormat("loss matrix", MatrixError, 4096 * _MIB, unit="percent")
SCHEDULE = InputFormat("schedule", ScheduleError, 256 * _MIB, "json", 32)
MANIFEST = InputFormat("run manifest", InputError, 256 * _MIB, "json", 32)  # `show`


@dataclass
class Input:
    """The bytes of one input file; `text()` decodes and checks them once."""

    file: str
    data: bytes
    format: InputFormat
    _text: str | None = field(default=None, repr=False)

    def text(self) -> str:
        if self._text is None:
            self._text = decode(self.data, self.file, self.format)
        return self._text


def read_input(path: Path | None, fmt: InputFormat, *, stdin: BinaryIO | None = None) -> Input:
    """Read `path` (None: `stdin`, named ``<stdin>``), at most ``fmt.max_bytes``."""
    file = "<stdin>" if path is None else str(path)
    try:
        if path is None:
            if stdin is None:
                raise fmt.error(f"no {fmt.what} given (allowed: a file, or standard input)")
            data = stdin.read(fmt.max_bytes + 1)
        else:
            with path.open("rb") as fh:
                data = fh.read(fmt.max_bytes + 1)
    except OSError as exc:
        raise fmt.error(f"cannot read {fmt.what}: {exc.strerror or exc}", file=file) from None
    if len(data) > fmt.max_bytes:
        raise fmt.error(
            f"the {fmt.what} is larger than {_size(fmt.max_bytes)} (allowed: at most "
            f"{_size(fmt.max_bytes)})",
            file=file,
        )
    return Input(file, data, fmt)


class Reader(Protocol):
    """Where input files come from; paths are filesystem paths, `name` is what errors say."""

    def read(self, path: Path, fmt: InputFormat) -> Input: ...

    def is_file(self, path: Path) -> bool: ...

    def name(self, path: Path) -> str: ...


class _Files:
    """The filesystem: `read_input`."""

    def read(self, path: Path, fmt: InputFormat) -> Input:
        return read_input(path, fmt)

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def name(self, path: Path) -> str:
        return str(path)


FILES: Reader = _Files()


def decode(data: bytes, file: str, fmt: InputFormat) -> str:
    """UTF-8 text without control characters and not nested too deeply, else located."""
    if data.isascii():  # the common case, and a 150 MB matrix: one scan of the bytes
        text = data.decode("ascii")
        bad = _ASCII_CONTROL.search(data)
        if bad is not None:
            raise _control(text, bad.start(), file, fmt)
        return _check_depth(text, file, fmt)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, col = position(data[: exc.start].decode("utf-8", "replace"), None)
            raise fmt.error(
                f"the {fmt.what} is not text: byte 0x{data[exc.start]:02x} is not UTF-8 "
                "(allowed: UTF-8 encoded text)",
                file=file,
                line=line,
                col=col,
            ) from None
        text = text.removeprefix("\ufeff")
    return check_text(text, file, fmt)


def check_text(text: str, file: str, fmt: InputFormat) -> str:
    """`text` when it has no control character and is not nested too deeply."""
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        raise _control(text, bad.start(), file, fmt)
    return _check_depth(text, file, fmt)


def _check_depth(text: str, file: str, fmt: InputFormat) -> str:
    if fmt.nesting is not None:
        _DEPTH[fmt.nesting](text, file, fmt)
    return text


def position(text: str, offset: int | None) -> tuple[int, int]:
    """1-based (line, col) of `offset` in `text` (None: the end)."""
    end = len(text) if offset is None else offset
    line = text.count("\n", 0, end) + 1
    return line, end - (text.rfind("\n", 0, end) + 1) + 1


def _control(text: str, offset: int, file: str, fmt: InputFormat) -> InputError:
    line, col = position(text, offset)
    return fmt.error(
        f"control character U+{ord(text[offset]):04X} in the {fmt.what} (allowed: printable "
        "UTF-8 text, tabs and newlines)",
        file=file,
        line=line,
        col=col,
    )


def _too_deep(fmt: InputFormat, file: str, line: int, col: int) -> InputError:
    return fmt.error(
        f"the {fmt.what} nests more than {fmt.max_depth} levels of lists/mappings (allowed: "
        f"at most {fmt.max_depth})",
        file=file,
        line=line,
        col=col,
    )


def _yaml_depth(text: str, file: str, fmt: InputFormat) -> None:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > fmt.max_depth:
                    mark = event.start_mark
                    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    raise _too_deep(fmt, file, line, col)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # the real parser reports it, located


def _json_depth(text: str, file: str, fmt: InputFormat) -> None:
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > fmt.max_depth:
                raise _too_deep(fmt, file, *position(text, token.start()))
        elif char in "]}":
            depth -= 1


_DEPTH: dict[str, Callable[[str, str, InputFormat], None]] = {
    "yaml": _yaml_depth,
    "json": _json_depth,
}


def _size(n: int) -> str:
    return f"{n // _MIB} MiB" if n % _MIB == 0 else f"{n} bytes"
