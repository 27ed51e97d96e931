"""Every field of `MachineState`, listed once, with what each consumer does with it.

`FIELDS` is the one declaration the diff, the saved-plan fingerprint and `show` (text
and JSON) derive from; a unit test fails when a `MachineState` field has no entry, so a
new resource cannot silently miss a consumer. Per field:

    diff         (desired, observed) -> changes; None for identity and meta fields and
                 for the pair map (compared by `diff.diff_pairs`, with `table_rebuilt`)
    fingerprint  its part of the digest of an observed state that a saved plan records
                 (None: not part of it; `OMIT`: left out for this state)
    show_json    its value in `show --json` (None: not shown; `OMIT`: left out)
    summary      its fragment of the `show` head line (None: none)
    lines        its body lines under the `show` head line (None: none)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from oar_p2p import differs
from oar_p2p import fields_show as show
from oar_p2p.containers_diff import diff_containers
from oar_p2p.differs_caps import diff_caps
from oar_p2p.plan import Change
from oar_p2p.state import MachineState

__all__ = ["FIELDS", "OMIT", "StateField", "field_names"]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()

Differ = Callable[[MachineState, MachineState], list[Change]]
Serialiser = Callable[[MachineState], object]


@dataclass(frozen=True)
class StateField:
    name: str
    diff: Differ | None = None
    fingerprint: Serialiser | None = None
    show_json: Serialiser | None = None
    summary: Callable[[MachineState], str | None] | None = None
    lines: Callable[[MachineState], Iterable[str]] | None = None


def _tc(s: MachineState) -> object:
    return {k: v.model_dump() for k, v in sorted(s.tc.items())}


def _pairs_fp(s: MachineState) -> object:
    return [s.pairs.size, s.pairs.digest] if s.pairs else None


def _pairs_json(s: MachineState) -> object:
    return None if s.pairs is None else {"size": s.pairs.size, "digest": s.pairs.digest}


def _containers_fp(s: MachineState) -> object:
    if s.containers is None:
        return OMIT
    return sorted([c.name, c.run_digest, c.config_digest] for c in s.containers)


def _containers_json(s: MachineState) -> object:
    if s.containers is None:
        return OMIT
    keep = {"name", "image", "address", "status", "exit_code", "run_digest"}
    return [c.model_dump(include=keep | {"started_at", "finished_at"}) for c in s.containers]


def _caps(s: MachineState) -> object:
    return OMIT if s.caps is None else s.caps.model_dump()


FIELDS: tuple[StateField, ...] = (
    StateField("hostname", show_json=lambda s: s.hostname),
    StateField("interface", show_json=lambda s: s.interface),
    StateField(
        "addresses",
        diff=differs.diff_addresses,
        fingerprint=lambda s: sorted(s.addresses),
        show_json=lambda s: list(s.addresses),
        summary=show.addresses_summary,
        lines=show.address_lines,
    ),
    StateField(
        "route",
        diff=differs.diff_route,
        fingerprint=lambda s: s.route,
        show_json=lambda s: s.route,
        summary=show.route_summary,
    ),
    StateField(
        "tc",
        diff=differs.diff_tc,
        fingerprint=_tc,
        show_json=lambda s: {k: v.model_dump() for k, v in s.tc.items()},
        summary=show.tc_summary,
        lines=show.tc_lines,
    ),
    # the chains are shown by nothing yet: they are the tool's own, fixed text
    StateField(
        "nft",
        diff=differs.diff_table,
        fingerprint=lambda s: s.nft.model_dump() if s.nft else None,
    ),
    # after nft: a class removed goes once its element is gone (make before break)
    StateField(
        "caps",
        diff=diff_caps,
        fingerprint=_caps,
        show_json=_caps,
        summary=show.caps_summary,
        lines=show.cap_lines,
    ),
    StateField("pairs", fingerprint=_pairs_fp, show_json=_pairs_json, summary=show.pairs_summary),
    StateField(
        "sysctls",
        diff=differs.diff_sysctls,
        fingerprint=lambda s: s.sysctls,
        show_json=lambda s: s.sysctls,
    ),
    StateField(
        "containers",
        diff=diff_containers,
        fingerprint=_containers_fp,
        show_json=_containers_json,
        summary=show.containers_summary,
        lines=show.container_lines,
    ),
    StateField("notes", show_json=lambda s: list(s.notes), lines=show.note_lines),
)


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS)
