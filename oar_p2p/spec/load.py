"""Load a spec from YAML, with every error located at `file:line:col`.

The YAML is composed into nodes first so that each value keeps its start mark; pydantic
error locations (`("network", "addresses")`) are then mapped back to those marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from oar_p2p.errors import SpecError
from oar_p2p.inputs import FILES, SPEC, Reader, check_text
from oar_p2p.spec.models import Spec
from oar_p2p.validation import validated

__all__ = ["LoadedSpec", "load_spec", "parse_spec_text", "Locator"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Locator:
    """Maps a path inside the document to its (line, col), 1-based."""

    file: str
    marks: dict[Path_, tuple[int, int]]

    def at(self, path: Path_) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return (1, 1)

    def error(self, path: Path_, message: str) -> SpecError:
        line, col = self.at(path)
        return SpecError(message, file=self.file, line=line, col=col)


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, where it came from, and how to locate its parts."""

    spec: Spec
    path: Path
    locator: Locator
    data: bytes = b""  # the file's bytes as read (a run directory keeps a copy)

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_spec(path: Path, reader: Reader = FILES) -> LoadedSpec:
    """Read and validate a spec file (through the input boundary: `oar_p2p.inputs`);
    errors name the file as `reader` does (``HEAD~1:spec.yaml:3:5`` for a git revision)."""
    source = reader.read(path, SPEC)
    spec, locator = parse_spec_text(source.text(), source.file)
    return LoadedSpec(spec=spec, path=path, locator=locator, data=source.data)


def parse_spec_text(text: str, file: str) -> tuple[Spec, Locator]:
    """Parse and validate spec text; errors name `file:line:col`."""
    check_text(text, file, SPEC)  # control characters, depth: before the recursive composer
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise SpecError(f"invalid YAML: {exc.problem}", file=file, line=line, col=col) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=file) from None
    if node is None:
        raise SpecError(
            "the spec is empty (allowed: a mapping with name, network, ...)",
            file=file,
            line=1,
            col=1,
        )
    marks: dict[Path_, tuple[int, int]] = {}
    try:
        data = _to_python(node, (), marks)
    except _NodeError as exc:
        raise SpecError(exc.message, file=file, line=exc.line, col=exc.col) from None
    except yaml.MarkedYAMLError as exc:  # e.g. an unknown tag: `!foo x`, `=`
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError(f"invalid YAML: {exc.problem}", file=file, line=line, col=col) from None
    locator = Locator(file, marks)
    if not isinstance(data, dict):
        raise locator.error((), "the spec must be a mapping (allowed keys: see schemas/)")
    spec = validated(lambda: Spec.model_validate(data), lambda exc: _first_error(exc, locator))
    return spec, locator


class _NodeError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        self.message, self.line, self.col = message, line, col


MAX_NODES = 200_000


def _to_python(node: yaml.Node, path: Path_, marks: dict[Path_, tuple[int, int]]) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if len(path) > SPEC.max_depth:  # an alias inside its own anchor (`&a [*a]`) recurses
        raise _NodeError(
            f"the spec nests more than {SPEC.max_depth} levels (allowed: at most "
            f"{SPEC.max_depth}; check for a YAML alias used inside its own anchor)",
            *_mark(node),
        )
    if len(marks) > MAX_NODES:  # aliases can expand exponentially ("billion laughs")
        raise _NodeError(
            f"the spec expands to more than {MAX_NODES} values (allowed: a spec of normal "
            "size; check for recursive YAML aliases)",
            *_mark(node),
        )
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise _NodeError("keys must be strings", *_mark(key_node))
            if key in out:
                raise _NodeError(f"duplicate key {_shown(key)}", *_mark(key_node))
            marks[(*path, key, "__key__")] = _mark(key_node)
            out[key] = _to_python(value_node, (*path, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(n, (*path, i), marks) for i, n in enumerate(node.value)]
    try:
        return yaml.SafeLoader(" ").construct_object(node)
    except ValueError:  # `1111...` past Python's 4,300-digit limit for int()
        raise _NodeError(
            "this number is too long (allowed: at most 4300 digits; quote it for a string)",
            *_mark(node),
        ) from None


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _first_error(exc: ValidationError, locator: Locator) -> SpecError:
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc: Path_ = tuple(p for p in err["loc"] if not _is_union_tag(p))
    kind = err["type"]
    # a union (e.g. `job: int | "infer"`) fails once per member: say every allowed form
    alternatives = [
        str(e["msg"]).removeprefix("Input should be ").split(", ")[0]
        for e in errors
        if tuple(p for p in e["loc"] if not _is_union_tag(p)) == loc and e["loc"] != loc
    ]
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc[:-1])
        mark = locator.marks.get((*loc, "__key__")) or locator.at(loc)
        return SpecError(
            f"unknown key {_shown(key)} (allowed: {', '.join(allowed)})",
            file=locator.file,
            line=mark[0],
            col=mark[1],
        )
    where = ".".join(str(p) for p in loc) or "spec"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if len(alternatives) > 1:
        msg = "Input should be " + " or ".join(alternatives)
    if kind == "missing":
        line, col = locator.at(loc[:-1])
        return SpecError(f"missing required key {where!r}", file=locator.file, line=line, col=col)
    if kind.startswith(("literal_error", "enum")) or kind.endswith(("_type", "_parsing")):
        msg = f"{msg}, got {_shown(err.get('input'))}"
    return locator.error(loc, f"{where}: {msg}")


def _shown(value: object, limit: int = 80) -> str:
    """`repr(value)`, shortened; an int too long for `repr` (0x and 5,000 digits) by size."""
    try:
        text = repr(value)
    except ValueError:
        return f"<an integer of {int.bit_length(value) if isinstance(value, int) else 0} bits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_union_tag(part: str | int) -> bool:
    # pydantic puts union member names like "list[int]" or "literal['all']" into locations
    return isinstance(part, str) and ("[" in part or part in {"int", "str", "float", "bool"})


def _allowed_keys(loc: Path_) -> list[str]:
    from pydantic import BaseModel

    model: type[BaseModel] | None = Spec
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is not None:  # otherwise `part` is a key of a dict field: same model
            model = _model_of(field.annotation)
    return sorted(model.model_fields) if model else []


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
