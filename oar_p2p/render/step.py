"""A timeline step's write script cut in three, around its deadline (pure).

A step that only re-marks pairs and adds or removes link classes (every `set`, matrix
swap, partition and heal that keeps the same addresses and caps stage) is split:

    pre   before the deadline: the new classes added, one `tc -b` batch (an unused class
          changes no packet: make before break)
    nft   at the deadline: the one nft transaction (map elements deleted and added, caps
          elements), fed to an `nft -f` the scheduler started beforehand, so that the
          change is one atomic commit with no process to start at the deadline
    post  after it, one `tc -b` batch: tc changes in place (a cap's rate, a drifted
          netem), then the classes no longer used removed

Each part is one process on the machine (no shell around it: a process costs 50-200 ms
in the testbed's guest). The apply record is not written per step: the schedulers mark
it pending before the run, and the restore after the run writes it.

Any other step (addresses, sysctls, a root qdisc, the caps stage set up or torn down, a
table rebuilt) is not split: `None`, and the scheduler runs the whole write script at the
deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from oar_p2p.plan import Action, MachinePlan, PairMode
from oar_p2p.render import caps
from oar_p2p.render.commands import _class_change, _element_chunks, write_script_chunks
from oar_p2p.resources import CapClassId, TcClassId

__all__ = ["StepScripts", "one_line", "split_step", "step_scripts"]


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


def split_step(plan: MachinePlan) -> StepScripts | None:
    """The three parts of a splittable step (`pre`, `post`: `tc -b` batches, maybe
    empty; `nft`: an `nft -f` transaction), or None."""
    if not _splittable(plan):
        return None
    adds = [c for c in plan.changes if isinstance(c.resource, TcClassId) and c.action is Action.ADD]
    rest = [c for c in plan.changes if c not in adds]
    changes = [c for c in rest if c.action is not Action.REMOVE]
    removes = [c for c in rest if c.action is Action.REMOVE]
    post = [*_lines(changes), *caps.class_lines(plan, unused=False)]
    post += [*_lines(removes), *caps.class_lines(plan, unused=True)]
    return StepScripts(_text(_lines(adds)), "".join(_nft_lines(plan)), _text(post))


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


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


def one_line(nft: str) -> str:
    """A step's nft text (one command per line) as one line: `nft -i`, which the
    scheduler keeps running, commits each line it reads as one transaction.

    >>> one_line("delete element ip t m { a }\\nadd element ip t m { b : 1 }\\n")
    'delete element ip t m { a }; add element ip t m { b : 1 }\\n'
    """
    return "; ".join(line for line in nft.splitlines() if line.strip()) + "\n"


def step_scripts(plan: MachinePlan) -> StepScripts:
    """The split parts, or the whole write script to run at the deadline (with no apply
    record: a run's steps leave it pending, the restore after the run writes it)."""
    split = split_step(plan)
    if split is not None:
        return split
    return StepScripts("", None, "", "".join(write_script_chunks(plan, None)))
