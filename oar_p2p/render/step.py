"""A timeline step's write script cut in three, around its deadline (pure).

A step that only re-marks pairs and adds or removes link classes (every `set`, matrix
swap, partition and heal that keeps the same addresses and caps stage) is split:

    pre   before the deadline: the apply record marked pending, the new classes added
          (an unused class changes no packet: make before break)
    nft   at the deadline: the one nft transaction (map elements deleted and added, caps
          elements), fed to an `nft -f` the scheduler started beforehand, so that the
          change is one atomic commit with no process to start at the deadline
    post  after it: tc changes in place (a cap's rate, a drifted netem), the classes no
          longer used removed, the record written

Any other step (addresses, sysctls, a root qdisc, the caps stage set up or torn down, a
table rebuilt) is not split: `None`, and the scheduler runs the whole write script at the
deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from oar_p2p.plan import Action, MachinePlan, PairMode
from oar_p2p.render import caps
from oar_p2p.render.commands import (
    _batch,
    _class_change,
    _element_chunks,
    _record_lines,
    _timer,
    write_script_chunks,
)
from oar_p2p.resources import CapClassId, TcClassId
from oar_p2p.vocab import RECORD_DIR

__all__ = ["StepScripts", "split_step", "step_scripts"]


@dataclass(frozen=True)
class StepScripts:
    """`nft` is None for a step run whole (`pre` and `post` empty, `at` the script)."""

    pre: str
    nft: str | None
    post: str
    at: str = ""


def _splittable(plan: MachinePlan) -> bool:
    if plan.pairs.mode not in (PairMode.INCREMENTAL, PairMode.NONE):
        return False
    ok = (TcClassId, CapClassId)
    return all(isinstance(c.resource, ok) for c in plan.changes) and not caps.interfaces(plan)


def split_step(plan: MachinePlan, record: tuple[str, str] | None) -> StepScripts | None:
    """The three parts of a splittable step, or None."""
    if not _splittable(plan):
        return None
    adds = [c for c in plan.changes if isinstance(c.resource, TcClassId) and c.action is Action.ADD]
    rest = [c for c in plan.changes if c not in adds]
    pre = ["{\nset -euo pipefail\numask 022\n", _timer()]
    if plan.pairs.mode is not PairMode.NONE:
        pre.append(f"mkdir -p {RECORD_DIR}\n")
        pre.append(f'echo \'{{"state": "pending"}}\' > {RECORD_DIR}/record.json\n')
        pre.append(f"rm -f {RECORD_DIR}/rows.gz\n")
    pre += _batch("tc", "tc -b -", _lines(adds))
    pre.append("}\n")
    nft = "".join(_nft_lines(plan))
    post = ["{\nset -euo pipefail\numask 022\n", _timer()]
    changes = [c for c in rest if c.action is not Action.REMOVE]
    post += _batch("tc", "tc -b -", [*_lines(changes), *caps.class_lines(plan, unused=False)])
    removes = [c for c in rest if c.action is Action.REMOVE]
    post += _batch("tc", "tc -b -", [*_lines(removes), *caps.class_lines(plan, unused=True)])
    if plan.pairs.mode is not PairMode.NONE:
        post += _record_lines(record)
    post.append("}\n")
    return StepScripts("".join(pre), nft, "".join(post))


def _lines(changes: list) -> list[str]:  # type: ignore[type-arg]
    out: list[str] = []
    for c in changes:
        if isinstance(c.resource, TcClassId):
            out += _class_change(c.resource.iface, c)
    return out


def _nft_lines(plan: MachinePlan) -> Iterator[str]:
    delta = plan.pairs
    yield from _element_chunks("delete", (f"{s} . {d}" for s, d in delta.removes))
    yield from _element_chunks("add", (f"{s} . {d} : {m}" for s, d, m in delta.adds))
    yield from caps.element_lines(plan)


def step_scripts(plan: MachinePlan, record: tuple[str, str] | None) -> StepScripts:
    """The split parts, or the whole write script to run at the deadline."""
    split = split_step(plan, record)
    if split is not None:
        return split
    return StepScripts("", None, "", "".join(write_script_chunks(plan, record)))
