"""`validate`'s check of the `timeline:` (one report line), every error at its step's key.

Without the address count, what depends on it (the selections within the addresses, the
container operations on addresses that have a container, partitions with `matrix_wrap`)
is skipped, not passed; everything else is checked: the anchors, the step signals, the
occurrence count, the steps' files and rates, overlapping partition groups given
explicitly, two network changes at one time.

The rules:
- a timeline runs during the experiment run, so it needs containers;
- `after` names a signal of `signals:` or `started` (a signal named `started` used as an
  anchor is ambiguous);
- a step's `signal:` is no name of `signals:` (two writers of one file); two steps may
  fire the same new name;
- every selection within the addresses; container operations only on addresses that
  have a container; partition groups disjoint;
- `set` and `partition` change one pair at a time, which `matrix_wrap` cannot do when
  there are more addresses than rows (the pair's rows are shared);
- at most `MAX_OCCURRENCES` occurrences once repeats are expanded;
- at one time, at most one step changes the network (the order of two would be arbitrary).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from oar_p2p.checks.report import Outcome, ok, skipped
from oar_p2p.project import Project
from oar_p2p.project_links import KeyPath, bandwidth_at
from oar_p2p.project_timeline import load_timeline
from oar_p2p.spec.load import LoadedSpec
from oar_p2p.spec.selection import format_ranges, parse_ranges, select_indices
from oar_p2p.spec.timeline import (
    MAX_OCCURRENCES,
    STARTED,
    Occurrence,
    Selection,
    TimelineStep,
    anchor_of,
    occurrence_count,
    occurrences,
)

__all__ = ["check_timeline", "step_selections"]

_EXPLICIT_LIMIT = 100_000  # indices of one selection expanded without a known count


def check_timeline(
    project: Project, count: int | None, containers: Sequence[Sequence[int]] | None
) -> tuple[Outcome, Project]:
    """The timeline's check: `count` addresses (None: not known), `containers`: the
    indices each container group selects (None: not known). Returns the project with the
    steps' files loaded (`Project.timeline`); a broken rule is a located `SpecError`."""
    spec, loaded = project.spec, project.loaded
    if not spec.timeline:
        return ok("none (no timeline)"), project
    if not spec.containers:
        raise loaded.locator.error(
            ("timeline",),
            "a timeline runs during the experiment run (`oar-p2p run`), which needs "
            "containers (allowed: a timeline with `containers:`, or no timeline)",
        )
    _check_names(loaded)
    total = occurrence_count(spec)
    if total > MAX_OCCURRENCES:
        raise loaded.locator.error(
            ("timeline",),
            f"the timeline expands to {total} occurrences with its repeats (allowed: at "
            f"most {MAX_OCCURRENCES}; fewer `times` or fewer steps)",
        )
    project = replace(project, timeline=load_timeline(loaded, project.matrix))
    runs = occurrences(spec)
    _check_same_time(loaded, runs)
    unknown = _check_selections(project, count, containers)
    first, last = runs[0].offset, runs[-1].offset
    n = len(spec.timeline)
    detail = (
        f"{n} step{'s' if n != 1 else ''} ({total} occurrence{'s' if total != 1 else ''}), "
        f"{first:g} s to {last:g} s after all containers started"
    )
    if unknown:
        return skipped(f"{detail}; not checked: {'; '.join(unknown)}"), project
    return ok(detail), project


def _check_names(loaded: LoadedSpec) -> None:
    """Anchors name a signal or `started`, unambiguously; step signals are new names."""
    spec = loaded.spec
    signals = [s.name for s in spec.signals]
    for n, step in enumerate(spec.timeline):
        name = anchor_of(spec, step)
        where: KeyPath = ("timeline", n, "after") if step.after is not None else ("timeline", n)
        how = "" if step.after is not None else " (the default anchor: the first signal)"
        if name == STARTED and STARTED in signals:
            raise loaded.locator.error(
                where,
                f"anchor {STARTED!r}{how} is ambiguous: it means all containers started, and "
                f"a signal of `signals:` has that name (allowed: rename the signal)",
            )
        if name != STARTED and name not in signals:
            allowed = ", ".join([*signals, STARTED])
            raise loaded.locator.error(where, f"anchor {name!r} is no signal (allowed: {allowed})")
        if step.signal is not None and step.signal in signals:
            raise loaded.locator.error(
                ("timeline", n, "signal"),
                f"signal {step.signal!r} is also in `signals:`: two writers of one signal "
                "file (allowed: a name not in `signals:`; steps may share a new name)",
            )


def _check_same_time(loaded: LoadedSpec, runs: list[Occurrence]) -> None:
    """At one offset, at most one occurrence changes the network."""
    steps = loaded.spec.timeline
    changing: dict[float, Occurrence] = {}
    for run in runs:
        if not steps[run.step].network_actions:
            continue
        other = changing.setdefault(run.offset, run)
        if other is not run and other.step != run.step:
            raise loaded.locator.error(
                ("timeline", run.step),
                f"timeline[{other.step}] and timeline[{run.step}] both change the network "
                f"at {run.offset:g} s after all containers started (occurrences "
                f"{other.repeat + 1} and {run.repeat + 1}; allowed: one network change at one "
                "time: merge them into one step, or move one)",
            )


def step_selections(step: TimelineStep, n: int) -> Iterator[tuple[KeyPath, Selection]]:
    """Every address selection of step `n`, with its key."""
    for k, pair in enumerate(step.set or ()):
        yield ("timeline", n, "set", k, "from"), pair.from_
        yield ("timeline", n, "set", k, "to"), pair.to
    for g, group in enumerate(step.partition or ()):
        yield ("timeline", n, "partition", g), group
    for op, sel in step.container_ops.items():
        yield ("timeline", n, op), sel


def _check_selections(
    project: Project, count: int | None, containers: Sequence[Sequence[int]] | None
) -> list[str]:
    """Selections, partitions, container operations, `matrix_wrap` and the steps' caps
    against the addresses; what cannot be checked without `count`."""
    loaded, spec = project.loaded, project.spec
    unknown: set[str] = set()
    have = None if containers is None else {i for s in containers for i in s}
    everyone = all(g.addresses == "all" for g in spec.containers)  # a container everywhere
    for n, step in enumerate(spec.timeline):
        picked: dict[KeyPath, list[int] | None] = {}
        for where, sel in step_selections(step, n):
            picked[where] = _indices(loaded, where, sel, count)
            if count is None and sel != "all":
                unknown.add("the selections within the addresses")
        if step.partition is not None:
            groups = [picked[("timeline", n, "partition", g)] for g in range(len(step.partition))]
            _check_disjoint(loaded, n, groups)
        if step.container_ops and not everyone:
            if have is None:
                unknown.add("the container operations on addresses that have a container")
            else:
                _check_have(loaded, n, step, picked, have)
        if spec.network.matrix_wrap and (step.set is not None or step.partition is not None):
            if count is None:
                unknown.add("`set` and `partition` with matrix_wrap (they need the count)")
            else:
                _check_wrap(project, n, step, count)
        if step.network is not None and step.network.bandwidth is not None and count is not None:
            bandwidth_at(loaded, ("timeline", n, "network", "bandwidth"), count)
    if count is None and any(
        s.network is not None and s.network.bandwidth is not None for s in spec.timeline
    ):
        unknown.add("the steps' cap overrides within the addresses")
    return sorted(unknown)


def _indices(
    loaded: LoadedSpec, where: KeyPath, sel: Selection, count: int | None
) -> list[int] | None:
    """The indices `sel` picks among `count` addresses (an error at `where` beyond them);
    without a count, those of an explicit list or small ranges, else None."""
    if count is not None:
        try:
            return select_indices(sel, count)
        except ValueError as exc:
            raise loaded.locator.error(where, f"{_dotted(where)}: {exc}") from None
    if isinstance(sel, list):
        return list(dict.fromkeys(sel))
    if sel == "all":
        return None
    spans = parse_ranges(sel)
    if sum(end - start + 1 for start, end in spans) > _EXPLICIT_LIMIT:
        return None
    return select_indices(sel, max(end for _, end in spans) + 1)


def _check_disjoint(loaded: LoadedSpec, n: int, groups: list[list[int] | None]) -> None:
    owner: dict[int, int] = {}
    for g, indices in enumerate(groups):
        for i in indices or ():
            first = owner.setdefault(i, g)
            if first != g:
                raise loaded.locator.error(
                    ("timeline", n, "partition", g),
                    f"address {i} is in partition groups {first} and {g} of timeline[{n}] "
                    "(allowed: disjoint groups; an address left out of every group can "
                    "reach every address)",
                )


def _check_have(
    loaded: LoadedSpec,
    n: int,
    step: TimelineStep,
    picked: dict[KeyPath, list[int] | None],
    have: set[int],
) -> None:
    for op in step.container_ops:
        where: KeyPath = ("timeline", n, op)
        without = set(picked[where] or ()) - have
        if without:
            shown = format_ranges(have) or "none"
            raise loaded.locator.error(
                where,
                f"{_dotted(where)}: addresses {format_ranges(without)} have no container "
                f"(allowed: addresses with a container: {shown})",
            )


def _check_wrap(project: Project, n: int, step: TimelineStep, count: int) -> None:
    dim = project.matrix.dimension
    if count <= dim:
        return
    key = "set" if step.set is not None else "partition"
    raise project.loaded.locator.error(
        ("timeline", n, key),
        f"`{key}` with matrix_wrap over {count} addresses and {dim} matrix rows: addresses "
        f"i and i+{dim} share their row, so a pair's value would change every pair sharing "
        f"its rows (allowed: at most {dim} addresses, a `network:` step with a new matrix, "
        "or no matrix_wrap)",
    )


def _dotted(where: KeyPath) -> str:
    return ".".join(str(k) for k in where)
