"""Container operations and signals at a timeline step (pure: text in, text out).

A step's operations (stop, kill, start, restart) reach docker one of two ways, both run
by the machine's user-side scheduler (`timeline.scripts`, mode `api`):

- `api_ops`: requests for `API_OPS`, a perl started ahead that sends them to docker's API
  on its unix socket when the deadline comes;
- `container_ops_script`: the same operations with the docker CLI, sourced by the
  scheduler where that API cannot be used (exit status 3 of `API_OPS`).

Either writes the step's signal files after the operations.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Sequence

from oar_p2p.experiment.scripts import SIGNAL_DIR
from oar_p2p.observe.docker import SOCKET_PL

__all__ = ["API_OPS", "api_ops", "container_ops_script"]

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
    + r"""my @groups = ([]); my @signals;
open my $in, "<", $ARGV[0] or exit 3;
while (my $l = <$in>) {
  chomp $l;
  if ($l eq "") { push @groups, [] if @{$groups[-1]} }
  elsif ($l =~ /^signal (.+)$/) { push @signals, $1 }
  else { push @{$groups[-1]}, $l }
}
my $probe = IO::Socket::UNIX->new(Peer => $sock) or exit 3;
close $probe;
<STDIN>;  # the deadline
my $rc = 0;
for my $group (@groups) {
  my @sent;
  for my $req (@$group) {
    my $s = IO::Socket::UNIX->new(Peer => $sock);
    if (!$s) { print STDERR "$req: cannot reach $sock: $!\n"; $rc = 1; next }
    print $s "$req HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
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
