"""Container templates: a small grammar, checked where the spec enters and rendered safely.

A template is text with `{field}` placeholders (`{{` and `}}` for literal braces). Only
plain field names are allowed, each template kind with its own fields:

    name     {index} {address} {machine}                       e.g. "peer-{index}"
    value    {index} {address} {machine} {addresses} {name}    env values, command args

No attribute or index access (`{address.__class__}`, `{index[0]}`), no conversion
(`{index!r}`), no format spec (`{index:03d}`: not documented, not used by any example):
rendering never calls `str.format`, it substitutes the parsed fields.

Every rendered container name must follow the docker rule (`CONTAINER_NAME_RULE`);
`check_container_name` is called for every address, not only for a probe.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

__all__ = [
    "CONTAINER_NAME_RULE",
    "NAME_FIELDS",
    "VALUE_FIELDS",
    "check_container_name",
    "check_template",
    "render",
    "template_fields",
]

NAME_FIELDS = frozenset({"index", "address", "machine"})
VALUE_FIELDS = frozenset({"index", "address", "machine", "addresses", "name"})
CONTAINER_NAME_RULE = (
    "letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 characters"
)
_CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_KIND = {NAME_FIELDS: "a container name", VALUE_FIELDS: "env values and command arguments"}


def _allowed(fields: frozenset[str]) -> str:
    return ", ".join(f"{{{f}}}" for f in sorted(fields))


def _parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(
            f"bad template {text!r}: {exc}; write '{{{{' for a literal brace"
        ) from None


def check_template(text: str, fields: frozenset[str]) -> None:
    """Raise `ValueError` (the rule in its text) unless `text` uses only plain `fields`."""
    for _, field, spec, conversion in _parse(text):
        if field is None:
            continue
        shown = (
            "{"
            + field
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if field not in VALUE_FIELDS and re.fullmatch(r"[A-Za-z_]\w*", field):
            raise ValueError(f"unknown template field {shown}: allowed: {_allowed(fields)}")
        if field not in VALUE_FIELDS:
            raise ValueError(
                f"template field {shown} is not a plain field name (no attribute, index or "
                f"positional fields): allowed: {_allowed(fields)}"
            )
        if field not in fields:
            raise ValueError(
                f"template field {shown} is not allowed in {_KIND.get(fields, 'this template')}"
                f": allowed: {_allowed(fields)}"
            )
        if conversion is not None or spec:
            raise ValueError(
                f"template field {shown} has a conversion or format spec: allowed: "
                f"{_allowed(fields)} alone, e.g. {{{field}}}"
            )


def template_fields(text: str) -> frozenset[str]:
    """The fields a (checked) template uses: ``template_fields("p-{index}")`` is
    ``frozenset({'index'})``."""
    return frozenset(field for _, field, _, _ in _parse(text) if field is not None)


def render(text: str, values: Mapping[str, object], fields: frozenset[str]) -> str:
    """`text` with its fields replaced by `values` (checked first: never `str.format`)."""
    check_template(text, fields)
    out: list[str] = []
    for literal, field, _, _ in _parse(text):
        out.append(literal)
        if field is not None:
            out.append(str(values[field]))
    return "".join(out)


def check_container_name(name: str) -> bool:
    """True when docker accepts `name` as a container name."""
    return _CONTAINER_NAME.fullmatch(name) is not None
