"""Saved plans: `plan --out FILE`, then `apply FILE` applies exactly that plan.

A saved plan records the spec (path and digest of spec + matrix text) and a fingerprint of
every machine's observed state. `apply FILE` re-reads the machines, and refuses when the
spec or any machine changed since the plan was made; otherwise the recomputed plan is the
saved one (the diff is a pure function of desired and observed state).

The fingerprint covers every field `oar_p2p.fields.FIELDS` gives a fingerprint part, so a
new resource cannot be left out by forgetting this module. A file that says it is a saved
plan is validated as `SavedPlan`; a missing key or a wrong type is an `InputError` naming
the file, never a `KeyError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from oar_p2p.errors import InputError, PlanStaleError, SpecError
from oar_p2p.fields import FIELDS, OMIT
from oar_p2p.plan import Plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.state import MachineState
from oar_p2p.validation import validated

__all__ = [
    "SavedPlan",
    "check_saved_plan",
    "fingerprint",
    "load_saved_plan",
    "save_plan",
    "spec_digest",
]

KIND = "oar-p2p-saved-plan"


class SavedPlan(BaseModel):
    """The document `plan --out` writes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["oar-p2p-saved-plan"]
    format_version: Literal[1]
    spec: str
    spec_digest: str
    refresh: str
    fingerprints: dict[str, str]
    plan: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        """``saved["spec"]``, as when saved plans were plain dicts."""
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)


def fingerprint(state: MachineState) -> str:
    """Digest of an observed state: every field with a fingerprint part in `FIELDS`."""
    doc = {f.name: f.fingerprint(state) for f in FIELDS if f.fingerprint is not None}
    doc = {name: part for name, part in doc.items() if part is not OMIT}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def spec_digest(spec: Path) -> str:
    from oar_p2p.spec.load import load_spec

    loaded = load_spec(spec)
    h = hashlib.sha256(spec.read_bytes())
    matrix = loaded.base_dir / loaded.spec.network.latency_matrix
    if matrix.is_file():
        h.update(matrix.read_bytes())
    return h.hexdigest()[:32]


def save_plan(path: Path, spec: Path, plan: Plan) -> None:
    doc = SavedPlan(
        kind=KIND,
        format_version=1,
        spec=str(spec.resolve()),
        spec_digest=spec_digest(spec),
        refresh=plan.refresh,
        fingerprints={m.hostname: fingerprint(m.observed) for m in plan.machines},
        plan=json.loads("".join(render_plan_json(plan))),
    )
    path.write_text(json.dumps(doc.model_dump(), indent=1) + "\n")


def load_saved_plan(path: Path) -> SavedPlan | None:
    """The saved plan in `path`, or None when `path` is not a saved plan (e.g. a spec).

    A JSON object whose "kind" is a saved plan's must be a valid one: otherwise an
    `InputError` located in `path` says which key is missing or wrong.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not text.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        return None
    return _validate(doc, str(path))


def _validate(doc: Mapping[str, Any], file: str | None) -> SavedPlan:
    return validated(lambda: SavedPlan.model_validate(doc), lambda exc: _not_a_plan(exc, file))


def _not_a_plan(exc: ValidationError, file: str | None) -> InputError:
    problems = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()
    )
    return InputError(
        f"not a valid saved plan: {problems} (allowed: a file written by "
        "`oar-p2p plan --out`; make it again)",
        file=file,
    )


def check_saved_plan(saved: SavedPlan | Mapping[str, Any], spec: Path, plan: Plan) -> None:
    """Refuse when the spec or any machine changed since the plan was saved."""
    if not isinstance(saved, SavedPlan):
        saved = _validate(saved, None)
    if spec_digest(spec) != saved.spec_digest:
        raise PlanStaleError(
            f"the spec or its matrix changed since the plan was saved ({spec}); "
            "run `oar-p2p plan --out` again"
        )
    old = saved.fingerprints
    now = {m.hostname: fingerprint(m.observed) for m in plan.machines}
    changed = sorted(h for h in set(old) | set(now) if old.get(h) != now.get(h))
    if changed:
        raise PlanStaleError(
            f"the machines changed since the plan was saved: {', '.join(changed)}; "
            "run `oar-p2p plan --out` again"
        )
