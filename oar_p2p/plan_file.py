"""Saved plans: `plan --out FILE`, then `apply FILE` applies exactly that plan.

A saved plan records the spec (path and digest of spec + matrix text) and a fingerprint of
every machine's observed state. `apply FILE` re-reads the machines, and refuses when the
spec or any machine changed since the plan was made; otherwise the recomputed plan is the
saved one (the diff is a pure function of desired and observed state).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from oar_p2p.errors import PlanStaleError, SpecError
from oar_p2p.plan import Plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.state import MachineState

__all__ = ["check_saved_plan", "fingerprint", "load_saved_plan", "save_plan", "spec_digest"]

KIND = "oar-p2p-saved-plan"


def fingerprint(state: MachineState) -> str:
    """Digest of an observed state (addresses, route, tc, nft chains, pair map)."""
    pairs = state.pairs
    doc = {
        "addresses": sorted(state.addresses),
        "route": state.route,
        "tc": {k: v.model_dump() for k, v in sorted(state.tc.items())},
        "nft": state.nft.model_dump() if state.nft else None,
        "pairs": [pairs.size, pairs.digest] if pairs else None,
        "sysctls": state.sysctls,
    }
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
    doc = {
        "kind": KIND,
        "format_version": 1,
        "spec": str(spec.resolve()),
        "spec_digest": spec_digest(spec),
        "refresh": plan.refresh,
        "fingerprints": {m.hostname: fingerprint(m.observed) for m in plan.machines},
        "plan": json.loads("".join(render_plan_json(plan))),
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


def load_saved_plan(path: Path) -> dict[str, Any] | None:
    """The saved plan in `path`, or None when `path` is not a saved plan (e.g. a spec)."""
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
    return doc if isinstance(doc, dict) and doc.get("kind") == KIND else None


def check_saved_plan(saved: dict[str, Any], spec: Path, plan: Plan) -> None:
    """Refuse when the spec or any machine changed since the plan was saved."""
    if spec_digest(spec) != saved["spec_digest"]:
        raise PlanStaleError(
            f"the spec or its matrix changed since the plan was saved ({spec}); "
            "run `oar-p2p plan --out` again"
        )
    old: dict[str, str] = saved["fingerprints"]
    now = {m.hostname: fingerprint(m.observed) for m in plan.machines}
    changed = sorted(h for h in set(old) | set(now) if old.get(h) != now.get(h))
    if changed:
        raise PlanStaleError(
            f"the machines changed since the plan was saved: {', '.join(changed)}; "
            "run `oar-p2p plan --out` again"
        )
