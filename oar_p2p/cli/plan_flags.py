"""`plan`'s flags that do not go together: each pair is a usage error with its reason."""

from __future__ import annotations

from collections.abc import Mapping

from oar_p2p.errors import FlagError

__all__ = ["check_plan_flags"]

_PLAN_RULES: tuple[tuple[str, str], ...] = (
    # (the flags that cannot go together, why): checked in this order
    (
        "destroy offline",
        "--destroy cannot be used with --offline: destroy removes what the "
        "machines hold, whatever the spec says, so only reading them can tell",
    ),
    (
        "destroy against",
        "--destroy cannot be used with --against: it previews what destroy "
        "removes from the machines, not a change between revisions",
    ),
    (
        "destroy out",
        "--destroy cannot be used with --out: a saved plan is for `apply FILE`, "
        "which applies a spec, not a destroy",
    ),
    (
        "out offline",
        "--out cannot be used with --offline: a saved plan records the machines' "
        "state for `apply FILE`, and an offline plan reads no machine",
    ),
    (
        "refresh offline",
        "--refresh cannot be used with --offline: it says how to read the "
        "machines, and an offline plan reads none",
    ),
    (
        "against online",
        "--against needs --offline: it plans against machines holding what "
        "REF asks for, not against the real ones",
    ),
    ("full text", "--full needs --json: it lists every pair entry in the JSON document"),
    (
        "show_commands json",
        "--show-commands cannot be used with --json: the scripts are printed "
        "after the human plan (the JSON document has no place for them)",
    ),
)


def check_plan_flags(flags: Mapping[str, object]) -> None:
    """A usage error (exit 1, with the reason) for `plan` flags that do not apply together;
    `flags` maps each flag's name to its value (None or False: not given)."""
    given = {name for name, value in flags.items() if value not in (None, False)}
    given.add("offline" if flags.get("offline") else "online")
    given.add("json" if flags.get("json") else "text")
    for names, why in _PLAN_RULES:
        if given.issuperset(names.split()):
            raise FlagError(why)
