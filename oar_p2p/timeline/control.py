"""The commands that start, feed and stop a run's schedulers on a machine (pure text).

`launch` starts a scheduler detached (root or sudo executors); `docker_launch` starts it
in a long-lived privileged helper container; `stop_script` stops one (TERM; the FIFO
`go` poked when it still waits for t0), waits for its last status line and prints its
status and its steps' errors; `ACKS` lists the containers' acknowledgements; `PENDING`
marks the apply record pending for the run.
"""

from __future__ import annotations

import shlex

from oar_p2p.experiment.scripts import SIGNAL_DIR
from oar_p2p.vocab import RECORD_DIR

__all__ = [
    "ACKS",
    "ACK_DIR",
    "PENDING",
    "container_name",
    "docker_launch",
    "launch",
    "parse_acks",
    "signal_step",
    "stop_script",
]

_q = shlex.quote


PENDING = (
    f'mkdir -p {RECORD_DIR} && echo \'{{"state": "pending"}}\' > {RECORD_DIR}/record.json '
    f"&& rm -f {RECORD_DIR}/rows.gz || exit 1\n"
)
ACK_DIR = f"{SIGNAL_DIR}/ack"  # containers' acknowledgements: ack/<signal>/<name>
ACKS = (
    f'for f in {ACK_DIR}/*/*; do [ -f "$f" ] && '
    f'printf \'ack %s %s\\n\' "${{f#{ACK_DIR}/}}" "$(head -c 40 "$f" | tr -d \' \\n\')"; done\n'
)


def parse_acks(text: str) -> list[tuple[str, str, float]]:
    """``ack <signal>/<name> <unix time>`` lines -> (name, signal, time); others skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ack" and "/" in parts[1]:
            signal, _, name = parts[1].partition("/")
            try:
                out.append((name, signal, float(parts[2])))
            except ValueError:
                continue
    return out


def signal_step(k: int) -> str:
    """The name of the spec's k-th signal group in the user schedule."""
    return f"s{k:04d}"


def launch(directory: str) -> str:
    d = _q(directory)
    return f"setsid nohup bash {d}/scheduler.sh {d} </dev/null >/dev/null 2>&1 &\n"


def container_name(experiment: str) -> str:
    return _q(f"oar-p2p-timeline-{experiment}")


def docker_launch(image: str, experiment: str, directory: str) -> str:
    d = _q(directory)
    return (
        f"docker rm -f {container_name(experiment)} >/dev/null 2>&1; "
        f"docker run -d --name {container_name(experiment)} --privileged --network=host "
        f"-v /run/oar-p2p:/run/oar-p2p --entrypoint bash {_q(image)} {d}/scheduler.sh {d} "
        ">/dev/null"
    )


def stop_script(directory: str, *, kill: bool) -> str:
    """Stop a scheduler (TERM; the FIFO poked if it still waits for t0), wait for its
    last status line (30 s at most), print the status."""
    d = _q(directory)
    term = f'[ -f {d}/pid ] && kill -TERM "$(cat {d}/pid)" 2>/dev/null\n' if kill else ""
    return (
        f"{term}"
        # a group, not `exec`: a redirection that fails on `exec` (a special builtin)
        # ends `sh`, on a group it is that command's failure
        f"{{ echo 0 >&3; }} 2>/dev/null 3<>{d}/go || true\n"
        f"i=0; while [ $i -lt 300 ] && ! grep -qxE 'end|stopped' {d}/status 2>/dev/null; "
        "do sleep 0.1; i=$((i+1)); done\n"
        f"cat {d}/status 2>/dev/null\n"
        f'for f in {d}/*.err; do [ -s "$f" ] && '
        '{ echo "== $f"; tail -c 2000 "$f"; }; done; true\n'
    )
