"""The machine-local scheduler and the files it runs (pure: text in, text out).

Each machine gets two directories, each with a schedule and one script per event:

    /run/oar-p2p/timeline/<experiment>/   the network steps, run with privileges (the
                                          executor: root, sudo, or a long-lived privileged
                                          helper container)
    /tmp/oar-p2p-timeline/<experiment>/   container operations and signals, run as the
                                          SSH user (docker and the signal directory)

A scheduler (`SCHEDULER`, bash) starts before the containers, waits on the FIFO `go` for
t0 (the machine-clock time, in microseconds, at which all containers started: the tool
measured each machine's clock offset before), then runs each script of `schedule` at
t0 + its offset, sleeping in between: no SSH round trip at event time. Each script's
output goes to `<n>.out`/`<n>.err`; each run appends ``<n> <start_us> <end_us> <rc>`` to
`status`; the scheduler writes ``end`` there when the schedule is done and ``stopped``
when SIGTERM ended it (a running step finishes first: bash runs the trap after it).
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from oar_p2p.experiment.scripts import SIGNAL_DIR

__all__ = [
    "NET_ROOT",
    "SCHEDULER",
    "USER_ROOT",
    "StatusLine",
    "container_ops_script",
    "net_dir",
    "parse_status",
    "upload_script",
    "user_dir",
]

NET_ROOT = "/run/oar-p2p/timeline"
USER_ROOT = "/tmp/oar-p2p-timeline"
_q = shlex.quote

# $1: the directory. Each schedule line: `<name> <offset us> <whole|split>`. A split step
# (`render.step`) runs `tc -b <name>.pre` ahead, starts `nft -f` on the FIFO `<name>.fifo`
# and reads `<name>.nft`; at the deadline it writes that text into the FIFO and closes it
# (nft commits), then runs `tc -b <name>.post`. A whole step: `bash <name>.sh`; a `source`
# step (container operations, signals) runs in the scheduler's own shell.
# Waits with `read -t` on a FIFO nobody writes (a builtin: no process to start; `sleep`
# woke 30-60 ms late in the testbed's guest) in slices of at most 0.2 s (a TERM is seen
# between them) until 2 ms before a deadline, then
# spins on bash's EPOCHREALTIME (microseconds, no fork) to it.
# Status lines: `<name> <start> <applied> <end> <rc>` (microseconds).
SCHEDULER = r"""#!/bin/bash
d=$1
stopping=0
trap 'stopping=1' TERM INT
echo $$ > "$d/pid"
# first in line for the CPU at a deadline (root only; an ordinary user keeps its priority)
renice -n -10 -p $$ > /dev/null 2>&1 || true
# `wait` returns at once (128 + 15) when the trapped TERM arrives: wait for the end
finish() { while :; do wait "$1"; rc=$?; kill -0 "$1" 2>/dev/null || break; done; }
mkfifo "$d/tick" && exec 4<> "$d/tick"  # never written: `read -t` on it is a sleep
t0=
while read -r n off mode; do
  [ "$stopping" = 1 ] && break
  rc=0 np=
  if [ "$mode" = split ]; then
    if [ -s "$d/$n.pre" ]; then
      tc -b "$d/$n.pre" > "$d/$n.pre.out" 2> "$d/$n.pre.err" < /dev/null || rc=$?
    fi
    if [ "$rc" = 0 ] && [ -s "$d/$n.nft" ]; then
      # the FIFO opened read-write first (never blocks), so nft's open finds a writer;
      # nft reads it as stdin: it keeps stdin in memory, where it would reopen a file
      # path to quote an error (and block on the FIFO forever)
      mkfifo "$d/$n.fifo" && exec 3<> "$d/$n.fifo" &&
        { nft -f - < "$d/$n.fifo" 3>&- > "$d/$n.out" 2> "$d/$n.err" & np=$!; }
      text=$(< "$d/$n.nft")
    fi
  fi
  # the first step's pre part runs before t0 is known (while the containers start)
  if [ -z "$t0" ]; then read -r t0 < "$d/go" || exit 1; fi
  due=$(( t0 + off ))
  while [ "$stopping" = 0 ]; do
    t=${EPOCHREALTIME/[.,]/}
    rest=$(( due - t - 2000 ))
    (( rest > 0 )) || break
    (( rest > 200000 )) && rest=200000  # a trapped TERM does not cut `read -t` short
    printf -v secs '%d.%06d' $(( rest / 1000000 )) $(( rest % 1000000 ))
    read -r -t "$secs" -u 4 _ || true
  done
  while [ "$stopping" = 0 ]; do t=${EPOCHREALTIME/[.,]/}; (( t >= due )) && break; done
  if [ "$stopping" = 1 ]; then [ -n "$np" ] && { exec 3>&-; finish "$np"; }; break; fi
  if [ "$mode" = source ]; then
    . "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$mode" != split ]; then
    bash "$d/$n.sh" > "$d/$n.out" 2> "$d/$n.err" < /dev/null; rc=$?
    a=${EPOCHREALTIME/[.,]/}
  elif [ "$rc" = 0 ]; then
    if [ -n "$np" ]; then
      printf '%s\n' "$text" >&3; exec 3>&-
      finish "$np"
    fi
    a=${EPOCHREALTIME/[.,]/}
    if [ "$rc" = 0 ] && [ -s "$d/$n.post" ]; then
      tc -b "$d/$n.post" > "$d/$n.post.out" 2> "$d/$n.post.err" < /dev/null || rc=$?
    fi
  else
    a=$t
  fi
  echo "$n $t $a ${EPOCHREALTIME/[.,]/} $rc" >> "$d/status"
done < "$d/schedule"
if [ "$stopping" = 1 ]; then echo stopped >> "$d/status"; else echo end >> "$d/status"; fi
"""


def net_dir(experiment: str) -> str:
    return f"{NET_ROOT}/{experiment}"


def user_dir(experiment: str) -> str:
    return f"{USER_ROOT}/{experiment}"


def upload_script(directory: str, files: Mapping[str, str], *, open_go: bool) -> str:
    """A script that (re)creates `directory` with `files` (name -> text), the scheduler
    and the FIFO `go`; `open_go`: the FIFO writable by anyone (the SSH user writes t0
    into a directory made with privileges)."""
    d = _q(directory)
    out = [f"rm -rf {d} && mkdir -p {d} || exit 1\n"]
    for name, text in {"scheduler.sh": SCHEDULER, **files}.items():
        out.append(_here(f"{directory}/{name}", text))
    mode = "0622" if open_go else "0600"
    out.append(f"mkfifo -m {mode} {d}/go && : > {d}/status || exit 1\n")
    return "".join(out)


def _here(path: str, text: str) -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    tag = "OARP2P_FILE_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"cat > {_q(path)} <<'{tag}' || exit 1\n{text}{tag}\n"


def schedule_text(offsets_us: Iterable[tuple[str, int] | tuple[str, int, str]]) -> str:
    """``<script name> <offset us> <whole|split|source>`` per line, in time order."""
    out = []
    for name, off, *mode in offsets_us:
        out.append(f"{name} {int(off)} {mode[0] if mode else 'whole'}\n")
    return "".join(out)


def container_ops_script(ops: Sequence[tuple[str, Sequence[str]]], signals: Sequence[str]) -> str:
    """Container operations (stop, kill, start, restart), then signal files written
    (temp file renamed: atomic), containing the unix time in seconds (the original's
    format), as the SSH user. Sourced by the scheduler's own shell (mode `source`: no
    bash to start at the deadline); failures set `rc`."""
    out = []
    for op, names in ops:
        if not names:
            continue
        args = " ".join(_q(n) for n in names)
        extra = "-t 10 " if op in ("stop", "restart") else ""
        out.append(f"docker {op} {extra}{args} >/dev/null || rc=1\n")
    for name in signals:
        tmp, final = _q(f"{SIGNAL_DIR}/{name}.tmp"), _q(f"{SIGNAL_DIR}/{name}")
        out.append(f"printf '%s' \"$EPOCHSECONDS\" > {tmp} && mv -f {tmp} {final} || rc=1\n")
    return "".join(out)


@dataclass(frozen=True)
class StatusLine:
    """One step as a scheduler ran it (machine clock, seconds)."""

    name: str
    started: float  # the deadline reached: the step starts
    applied: float  # the change committed (a split step's nft; a whole script's end)
    ended: float
    rc: int


def parse_status(text: str) -> tuple[list[StatusLine], str]:
    """The steps run and how the scheduler ended (``end``, ``stopped`` or ``running``)."""
    lines, state = [], "running"
    for raw in text.splitlines():
        parts = raw.split()
        if parts in (["end"], ["stopped"]):
            state = parts[0]
        elif len(parts) == 5 and all(p.lstrip("-").isdigit() for p in parts[1:]):
            s, a, e, rc = (int(x) for x in parts[1:])
            lines.append(StatusLine(parts[0], s / 1e6, a / 1e6, e / 1e6, rc))
    return lines, state
