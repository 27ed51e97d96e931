"""The helper's job mailbox: scripts run in the long-lived helper without `docker exec`. Pure.

A `docker exec` cost 1.5-4.4 s in the testbed's guest (the docker CLI alone, a 50 MB Go
binary, takes 0.8-1.5 s of CPU to start there; dockerd, containerd and runc add theirs),
and a command pays it for every privileged script on every machine. The helper's main
process is instead `RUNNER`, a bash loop that runs the scripts the SSH user drops in a
job directory shared with it:

    /tmp/<helper name>     the SSH user's (mode 700), the helper's /j
      jobs                 FIFO: job ids, one per line (held open read-write by the runner)
      pid                  the runner's PID (the helper shares the host's PID namespace),
                           written once it reads `jobs`
      exec                 present when the runner cannot see this directory (the user's
                           /tmp is not the daemon's): scripts go through `docker exec`
      <id>.sh              a job's script, spooled by the client
      <id>.rc              FIFO: the job's exit status, one line (the client holds it open)
      <id>.out, <id>.err   the job's output, read by the client once the status came

The client (`client_shell`, run by the SSH user) spools the script, drops its id in
`jobs` and waits for the status; every 5 s without one it checks that the runner is still
there (`/proc/<pid>`), so a helper removed under it fails the script instead of hanging
it. No open in either direction blocks on a peer that may be gone: both sides open the
FIFOs read-write. About four process starts per script on the user's side (spool, FIFO,
output, cleanup) and one in the helper, where `docker exec` started a CLI, a runc and
four more.
"""

from __future__ import annotations

import shlex

from oar_p2p.remote.executors import SPOOL

__all__ = ["RUNNER", "RUNNER_COMMAND", "client_shell", "job_dir", "prepare_shell"]

# The helper's main process: `bash -c RUNNER oar-p2p-helper [DIR]`. A runner that does
# not find the FIFO the client made sleeps instead, so that `docker exec` still works. A
# job runs in `/`, as a `docker exec` did.
RUNNER = r"""cd "${1:-/j}" || exit 1
[ -p ./jobs ] || exec sleep infinity
exec 3<>./jobs
echo "$$" > pid
D=$PWD
while read -r -u 3 id; do
  case $id in ''|*[!0-9.]*) continue;; esac
  { (cd / && exec bash "$D/$id.sh") </dev/null >"$id.out" 2>"$id.err"; echo "$?" 1<>"$id.rc"; } &
done
"""
# the helper's command line after ``--entrypoint bash IMAGE`` (its $0 names it in `ps`)
RUNNER_COMMAND = f"-c {shlex.quote(RUNNER)} oar-p2p-helper"


def job_dir(name: str, root: str = "/tmp") -> str:
    """The job directory of the helper `name`, on the machine (`root`: tests)."""
    return f"{root}/{name}"


def prepare_shell(name: str, root: str = "/tmp") -> str:
    """Shell that makes the job directory and its FIFO before the helper starts (fails,
    with a message, when it cannot)."""
    q = shlex.quote(job_dir(name, root))
    return (
        f"{{ mkdir -m 700 {q} && mkfifo -m 600 {q}/jobs; }} 2>/dev/null || "
        f"{{ echo {q}': cannot make the helper'\"'\"'s job directory' >&2; false; }}"
    )


def client_shell(
    name: str, *, args: bool = False, started: bool = False, waiting: bool = False,
    root: str = "/tmp", tick: float = 5, patience: float = 30,
) -> str:  # fmt: skip
    """Bash that runs one script in the helper `name` and exits with its status, its
    output on stdout and stderr.

    The script comes on stdin, or (`args`) is the command line ``"$0" "$@"`` (``bash -c
    TEXT nft -j list ...``). `started`: this round trip just started the helper (after
    `prepare_shell` and the `docker run`): wait for its runner, and when it does not show
    up within 3 s, mark the directory unseen and use `docker exec` from then on.
    `waiting`: another round trip is starting the helper: wait for it (at most `patience`
    seconds).
    `tick`: how often (s) a job still running checks that the runner is there.
    """
    q = shlex.quote
    lines = [f"N={q(name)}; J={q(job_dir(name, root))}"]
    if waiting:  # the directory may not be there yet: no FIFO to wait on, sleep
        lines.append(
            'i=0; while [ ! -s "$J/pid" ] && [ ! -e "$J/exec" ] && '
            f"[ $i -lt {int(patience * 10)} ]; do sleep 0.1; i=$((i+1)); done"
        )
    lines.append(f'[ -d "$J" ] || {{ echo "{_NOT_RUNNING}" >&2; exit 125; }}')
    lines.append("id=$$.$RANDOM$RANDOM; f=$J/$id  # oar-p2p-script")
    if args:
        lines.append('{ printf \'%q \' "$0" "$@"; echo; } > "$f.sh" || exit 1')
    else:
        lines.append('cat > "$f.sh" || exit 1')
    lines.append('mkfifo -m 600 "$f.rc" || exit 1\nexec 5<>"$f.rc"')
    if started:  # a no-fork wait: a timed read on our own FIFO, nothing comes
        lines.append(
            'i=0; until [ -s "$J/pid" ] || [ -e "$J/exec" ]; do\n'
            '  [ $i -lt 60 ] || { : > "$J/exec"; break; }; read -r -t 0.05 -u 5 _; i=$((i+1))\n'
            "done"
        )
    lines.append(
        'if [ -e "$J/exec" ]; then\n'
        f'  docker exec -i "$N" bash -c {q(SPOOL)} < "$f.sh"; r=$?\n'
        '  rm -f "$f.sh" "$f.rc"; exit "$r"\n'
        "fi\n"
        f'[ -s "$J/pid" ] || {{ echo "{_NOT_RUNNING}" >&2; rm -f "$f.sh" "$f.rc"; exit 125; }}'
    )
    lines.append(_SUBMIT.replace("TICK", f"{tick:g}"))
    return "\n".join(lines) + "\n"


_NOT_RUNNING = "the helper container $N is not running (its start failed, or took over 30 s)"

# Submit the job and wait for its status; then its output. The runner's PID is checked
# every TICK s: a helper removed under the job ends the wait.
_SUBMIT = r"""read -r p < "$J/pid"
echo "$id" 1<>"$J/jobs"
until read -r -t TICK -u 5 rc; do
  [ -d "/proc/$p" ] && continue
  echo "the helper container $N ended before the script did" >&2
  rm -f "$f.sh" "$f.rc"; exit 125
done
IFS= read -r -d '' e < "$f.err"; printf '%s' "$e" >&2
[ -s "$f.out" ] && cat "$f.out"
rm -f "$f.sh" "$f.rc" "$f.out" "$f.err"
exit "$rc"
"""
