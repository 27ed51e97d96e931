"""Field-level detail of a `~` change, computed with deepdiff (pure).

``field_detail({"image": "a", "env": {"X": "1"}}, {"image": "b", "env": {"X": "2"}})``
-> ``(Detail("env.X", "1", "2"), Detail("image", "a", "b"))``. Only small structured
values go through here (a container's config, a tc class); the pair map, with up to
1.28 M elements per machine, is compared with set arithmetic in `diff`.

Env values whose key looks secret (its name contains SECRET, PASSWORD, PASSWD, TOKEN, KEY
or CREDENTIAL, any case) or is listed in `secret_keys` are shown as ``"***"`` on both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from oar_p2p.plan import Action, Change, Detail, JsonValue
from oar_p2p.resources import Resource
from oar_p2p.state import CapClass, TcClass

_Class = TypeVar("_Class", TcClass, CapClass)


def class_change(
    rid: Resource, want: _Class | None, have: _Class | None, describe: Callable[[_Class], str]
) -> Change:
    """The change of one class (a link-stage `TcClass` or a cap-stage `CapClass`) from
    `have` to `want` (one of them may be None): added, removed, or changed with the
    detail of every field but its `minor` (its identity, in `rid`)."""
    if want is None:
        assert have is not None
        return Change(rid, Action.REMOVE, before=describe(have), have=have)
    if have is None:
        return Change(rid, Action.ADD, after=describe(want), want=want)
    detail = field_detail(have.model_dump(exclude={"minor"}), want.model_dump(exclude={"minor"}))
    return Change(
        rid,
        Action.CHANGE,
        before=describe(have),
        after=describe(want),
        detail=detail,
        have=have,
        want=want,
    )


__all__ = ["MASK", "class_change", "field_detail", "is_secret", "show_value"]

MASK = "***"
_SECRET = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)


def is_secret(key: str, secret_keys: Collection[str] = ()) -> bool:
    """True when an env key's value must not be shown."""
    return key in secret_keys or _SECRET.search(key) is not None


def field_detail(
    before: Mapping[str, Any], after: Mapping[str, Any], *, secret_keys: Collection[str] = ()
) -> tuple[Detail, ...]:
    """Every leaf that differs between two JSON-like documents, sorted by path."""
    out: list[Detail] = []
    for levels in DeepDiff(dict(before), dict(after), view="tree").values():
        for level in levels:
            path = [str(p) for p in level.path(output_format="list")]
            old, new = _json(level.t1), _json(level.t2)
            if path[0] == "env" and is_secret(path[-1], secret_keys):
                old, new = _mask(old), _mask(new)
            out.append(Detail(".".join(path), old, new))
    return tuple(sorted(out, key=lambda d: d.path))


def show_value(value: JsonValue) -> str:
    """A detail value for people: JSON text (strings quoted), ``absent`` for None."""
    return "absent" if value is None else json.dumps(value, ensure_ascii=False)


def _json(value: object) -> JsonValue:
    if isinstance(value, NotPresent) or value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _mask(value: JsonValue) -> JsonValue:
    return None if value is None else MASK
