"""The files of a machine's user-side scheduler (pure): its schedule and one file per entry.

Entries, in time order (at one offset, in the order below):

- the spec's signals, one entry per group of equal delay (mode `signal`: renamed at their
  deadline by a process started ahead);
- per event with container operations on the machine (mode `api`: sent to docker's API by
  a process started ahead, their CLI script `<name>.sh` sourced where that API cannot be
  used), or with a signal only (mode `signal`);
- a held start (`start` with `ahead`, `Event.ahead`) is two entries: `<name>p` ahead of
  the event (mode `prestart`: the containers' hold FIFOs made, then docker starts them in
  the background, their command waiting on the FIFO), after the last operation on those
  containers; and
  `<name>r` at the event (mode `release`: each FIFO written, the commands go on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oar_p2p.experiment.hold import hold_fifo
from oar_p2p.experiment.signals import timeline as signal_groups
from oar_p2p.spec.models import SignalEntry
from oar_p2p.timeline import ops as step_ops
from oar_p2p.timeline import scripts as ts
from oar_p2p.timeline.compile import Event
from oar_p2p.timeline.control import signal_step

__all__ = ["user_files"]

# (offset, name, mode, file suffix, text)
_Entry = tuple[float, str, str, str, str]


def user_files(
    events: Sequence[Event], signals: Sequence[SignalEntry], by_index: Mapping[int, str]
) -> dict[str, str]:
    """name -> text of the user scheduler's files on a machine whose containers are
    `by_index` (address index -> container name); {} when it has nothing to run."""
    entries: list[_Entry] = []
    files: dict[str, str] = {}
    for k, group in enumerate(signal_groups(signals)):
        entries.append((group.delay, signal_step(k), "signal", "sig", ts.signal_list(group.names)))
    touched: dict[int, float] = {}  # container index -> its last operation's offset
    for e in events:
        entries += _held_start(e, by_index, touched, files)
        for _, idx in e.ops:
            touched.update((i, e.offset) for i in idx)
        entries += _operations(e, by_index, files)
    entries.sort(key=lambda x: x[0])  # stable: at one offset, in the order added
    if not entries:
        return {}
    files |= {f"{name}.{suffix}": text for _, name, _, suffix, text in entries}
    files["schedule"] = ts.schedule_text(
        [(name, round(off * 1e6), mode) for off, name, mode, _, _ in entries]
    )
    return files


def _held_start(
    e: Event, by_index: Mapping[int, str], touched: Mapping[int, float], files: dict[str, str]
) -> list[_Entry]:
    held = [i for op, idx in e.ops if op == "start" and e.ahead > 0 for i in idx if i in by_index]
    if not held:
        return []
    name = f"{e.number:05d}"
    at = max([e.offset - e.ahead, 0.0, *(touched.get(i, 0.0) for i in held)])
    api, cli = step_ops.prestart_ops([by_index[i] for i in held])
    files[f"{name}p.sh"] = cli
    files["api.pl"] = step_ops.API_OPS
    fifos = "".join(f"{hold_fifo(by_index[i])}\n" for i in held)
    return [
        (at, f"{name}p", "prestart", "api", api),
        (e.offset, f"{name}r", "release", "rel", fifos),
    ]


def _operations(e: Event, by_index: Mapping[int, str], files: dict[str, str]) -> list[_Entry]:
    name = f"{e.number:05d}"
    ops = [
        (op, [by_index[i] for i in idx if i in by_index])
        for op, idx in e.ops
        if not (op == "start" and e.ahead > 0)  # held: `_held_start`
    ]
    ops = [(op, names) for op, names in ops if names]
    signals = [e.signal] if e.signal else []
    if ops:
        files[f"{name}.sh"] = step_ops.container_ops_script(ops, signals)
        files["api.pl"] = step_ops.API_OPS
        return [(e.offset, name, "api", "api", step_ops.api_ops(ops, signals))]
    if signals:
        return [(e.offset, name, "signal", "sig", ts.signal_list(signals))]
    return []
