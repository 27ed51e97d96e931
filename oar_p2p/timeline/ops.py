"""Container operations and signals at a timeline step (pure: text in, text out).

A step's operations (stop, kill, start, restart) reach docker one of two ways, both run
by the machine's user-side scheduler (`timeline.scripts`, mode `api`):

- `api_ops`: requests for `API_OPS`, a perl started ahead that sends them to docker's API
  on its unix socket when the deadline comes;
- `container_ops_script`: the same operations with the docker CLI, sourced by the
  scheduler where that API cannot be used (exit status 3 of `API_OPS`).

Either writes the step's signal files after the operations.

A held start (a `start` with `ahead`) is two entries of that scheduler: `prestart_ops`
ahead of the step (the containers' hold FIFOs made, then the containers started: their
command waits on its FIFO, `experiment.hold`) and, at the step's time, the
scheduler's mode `release`, which writes into each FIFO: the command goes on at once.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Sequence

from oar_p2p.experiment.hold import HOLD_DIR, hold_fifo
from oar_p2p.experiment.scripts import SIGNAL_DIR
from oar_p2p.observe.docker import SOCKET_PL

__all__ = ["API_OPS", "api_ops", "container_ops_script", "prestart_ops"]

_q = shlex.quote


def container_ops_script(ops: Sequence[tuple[str, Sequence[str]]], signals: Sequence[str]) -> str:
    """Container operations (stop, kill, start, restart), then signal files written
    (temp file renamed: atomic), containing the unix time in seconds (the original's
    format), as the SSH user, with the docker CLI: sourced by the scheduler's own shell
    where `API_OPS` cannot use docker's API; failures set `rc`."""
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


# Container operations through docker's API (mode `api`), `api.pl <name>.api`: started
# ahead, it reads its requests (`<method> <path>` lines; an empty line ends a group: the
# requests of a group are sent together, a group after the previous one is answered) and
# the signal files to write after them (`signal <path>`), checks the socket can be opened
# (exit 3 otherwise: the scheduler runs the CLI script), and sends them when the
# deadline's line comes. A perl already running, where the docker CLI costs a process of
# 0.5-0.9 s of CPU in the testbed's guest: a container stopped this way saw its SIGTERM
# 0.26-0.29 s after the request, 0.70-0.75 s after `docker stop` began (the testbed).
API_OPS = (
    SOCKET_PL
    + r"""my @groups = ([]); my @signals; my @fifos;
open my $in, "<", $ARGV[0] or exit 3;
while (my $l = <$in>) {
  chomp $l;
  if ($l eq "") { push @groups, [] if @{$groups[-1]} }
  elsif ($l =~ /^signal (.+)$/) { push @signals, $1 }
  elsif ($l =~ /^fifo (.+)$/) { push @fifos, $1 }
  else { push @{$groups[-1]}, $l }
}
my $probe = IO::Socket::UNIX->new(Peer => $sock) or exit 3;
close $probe;
require POSIX if @fifos;
<STDIN>;  # the deadline
my $rc = 0;
for my $f (@fifos) {  # a held start's FIFO, made before its container starts
  (my $dir = $f) =~ s{/[^/]*$}{};
  mkdir $dir; chmod 0755, $dir; unlink $f;
  next if POSIX::mkfifo($f, 0666) && chmod 0666, $f;
  print STDERR "fifo $f: $!\n"; $rc = 1;
}
for my $group (@groups) {
  my @sent;
  for my $req (@$group) {
    my $s = request($req);
    if (!$s) { print STDERR "$req: cannot reach $sock: $!\n"; $rc = 1; next }
    push @sent, [$req, $s];
  }
  for my $one (@sent) {
    my ($req, $s) = @$one;
    my ($code, $body) = answer($s);
    next if defined $code && ($code =~ /^2/ || $code == 304);  # 304: already so
    $body =~ s/\s+\z//;
    print STDERR "$req: ", ($code // "no answer"), " $body\n"; $rc = 1;
  }
}
for my $f (@signals) {  # the original's format: the unix second, temp file renamed
  if (open my $o, ">", "$f.tmp") { print $o time; close $o; next if rename "$f.tmp", $f }
  print STDERR "signal $f: $!\n"; $rc = 1;
}
exit $rc;
"""
)
_API_PATHS = {
    "stop": "POST /containers/{}/stop?t=10",
    "kill": "POST /containers/{}/kill",
    "start": "POST /containers/{}/start",
    "restart": "POST /containers/{}/restart?t=10",
}


def prestart_ops(names: Sequence[str]) -> tuple[str, str]:
    """A held start's first part, ahead of its step (`API_OPS` text, CLI script): each
    container's hold FIFO made (`experiment.hold.hold_fifo`), then the containers
    started; their command waits on the FIFO until the step's `release`.

    >>> print(prestart_ops(["a"])[0], end="")
    fifo /tmp/oar-p2p-signal/.hold/a
    POST /containers/a/start
    <BLANKLINE>
    """
    api = "".join(f"fifo {hold_fifo(n)}\n" for n in names) + api_ops([("start", names)], [])
    cli = [f"mkdir -p {HOLD_DIR} && chmod 755 {HOLD_DIR} || rc=1\n"]
    for n in names:
        f = _q(hold_fifo(n))
        cli.append(f"rm -f {f}; mkfifo -m 666 {f} || rc=1\n")
    return api, "".join(cli) + container_ops_script([("start", names)], [])


def api_ops(ops: Sequence[tuple[str, Sequence[str]]], signals: Sequence[str]) -> str:
    """The requests of `container_ops_script`'s operations for `API_OPS` (one group per
    operation, in order, as the CLI runs them) and the signal files after them.

    >>> print(api_ops([("stop", ["a", "b"]), ("start", ["c"])], ["churn"]), end="")
    POST /containers/a/stop?t=10
    POST /containers/b/stop?t=10
    <BLANKLINE>
    POST /containers/c/start
    <BLANKLINE>
    signal /tmp/oar-p2p-signal/churn
    """
    out = []
    for op, names in ops:
        if names:
            out += [_API_PATHS[op].format(urllib.parse.quote(n, safe="")) for n in names]
            out.append("")
    out += [f"signal {SIGNAL_DIR}/{name}" for name in signals]
    return "".join(line + "\n" for line in out)
