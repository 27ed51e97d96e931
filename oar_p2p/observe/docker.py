"""Parse what docker reports about containers into `ContainerState`s (pure).

Two commands are read, both as JSON:

- `inspect_command(experiment)`: ``docker inspect`` of the containers labelled
  ``oar-p2p.experiment=<experiment>`` (every oar-p2p container when `experiment` is None),
  parsed by `parse_docker_inspect`: names, labels, env, state, exit code, start and end.
  Asked of docker's API on its unix socket by `perl` (every Debian has it: perl-base),
  else by the docker CLI;
- `ps_command()`: ``docker ps -a --format '{{json .}}'`` of *all* containers, one JSON object
  per line, parsed by `parse_docker_ps` (no env, no exit code): enough to see which names are
  taken and by whom.

Ownership, the run digest and the config digest come from labels (`desired.containers`).
"""

from __future__ import annotations

import functools
import json
import shlex
import urllib.parse
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oar_p2p.desired.containers import LABEL_ADDRESS, LABEL_CONFIG, LABEL_EXPERIMENT, LABEL_RUN
from oar_p2p.errors import ClusterError
from oar_p2p.state import ContainerState
from oar_p2p.validation import validated

__all__ = [
    "SOCKET_PL",
    "inspect_command",
    "owner_filter",
    "parse_docker_inspect",
    "parse_docker_ps",
    "ps_command",
]

_NEVER = "0001-01-01T00:00:00Z"  # docker's "never happened" timestamp
_FINAL = {"exited", "dead"}


def owner_filter(experiment: str | None) -> str:
    """The `--filter` value selecting an experiment's containers (or every owned one)."""
    return f"label={LABEL_EXPERIMENT}" + (f"={experiment}" if experiment is not None else "")


# Perl: `$sock`, the path of the socket the docker CLI would use; exit 3 when the CLI would
# use another endpoint (DOCKER_HOST not a unix socket, a docker context), or when this perl
# has no IO::Socket::UNIX (loaded at run time: a missing module is an exit 3, not perl's 2).
# `request("<method> <path>")`: the request sent on a new connection to `$sock`, which it
# returns (undef when the socket cannot be opened); `answer($s)`: the answer read to its
# end from that connection, as (the HTTP status, or undef when it is no HTTP answer; the
# body).
SOCKET_PL = r"""use strict; eval { require IO::Socket::UNIX; 1 } or exit 3;
my $sock = "/var/run/docker.sock";
if (length($ENV{DOCKER_HOST} // "")) {
  $ENV{DOCKER_HOST} =~ m{^unix://(/.+)$} or exit 3; $sock = $1;
}
exit 3 if length($ENV{DOCKER_CONTEXT} // "");
if (open my $f, "<", ($ENV{DOCKER_CONFIG} // "$ENV{HOME}/.docker") . "/config.json") {
  local $/; my $c = <$f> // ""; exit 3 if $c =~ /"currentContext"\s*:\s*"(?!default")/;
}
sub request {
  my $s = IO::Socket::UNIX->new(Peer => $sock) or return undef;
  print $s "$_[0] HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
  return $s;
}
sub answer {
  my $s = shift; local $/; my $r = <$s> // ""; close $s;
  my ($head, $body) = split /\r?\n\r?\n/, $r, 2;
  my ($code) = ($head // "") =~ m{^HTTP/\d\.\d (\d{3})};
  return ($code, $body // "");
}
"""
# `docker inspect` through docker's API: `GET /containers/json` (argument 1: its path and
# query), then `GET /containers/<id>/json` for each: the objects `docker inspect` prints, in
# one array, printed only once all are read. One perl where the CLI is two docker processes
# (`ps`, `inspect`), 0.5-0.9 s of CPU each in the testbed's guest. Exit 3: this endpoint
# is not the CLI's (DOCKER_HOST not a unix socket, a docker context), or the socket cannot
# be opened; exit 4: an answer that is not a success; the CLI then runs and says why.
_API_INSPECT = (
    SOCKET_PL
    + r"""sub get {
  my $s = request("GET $_[0]") or exit 3;
  my ($code, $body) = answer($s);
  defined $code or exit 4;
  return ($code, $body);
}
my ($status, $list) = get($ARGV[0]);
$status == 200 or exit 4;
my @all;
for my $id ($list =~ /"Id"\s*:\s*"([0-9a-f]{64})"/g) {
  my ($s, $one) = get("/containers/$id/json");
  next if $s == 404;  # removed since it was listed
  $s == 200 or exit 4;
  $one =~ s/\s+\z//; push @all, $one;
}
print "[", join(",", @all), "]\n";
"""
)


def inspect_command(experiment: str | None) -> str:
    """Shell text printing a JSON array (``[]`` when none) of the owned containers: docker's
    API read by `perl` when the machine has it and the CLI would use the same daemon, the
    CLI otherwise."""
    flt = owner_filter(experiment)
    label = json.dumps({"label": [flt.removeprefix("label=")]}, separators=(",", ":"))
    path = "/containers/json?all=1&filters=" + urllib.parse.quote(label, safe="")
    return (
        f"perl -e {shlex.quote(_API_INSPECT)} {shlex.quote(path)} 2>/dev/null && exit 0\n"
        f"ids=$(docker ps -aq --no-trunc --filter {shlex.quote(flt)}) || exit 1\n"
        'if [ -n "$ids" ]; then docker inspect $ids 2>/dev/null || true; else echo "[]"; fi\n'
    )


def ps_command() -> str:
    """Shell text listing every container on the machine, one JSON object per line."""
    return "docker ps -a --no-trunc --format '{{json .}}'\n"


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(alias="Status")
    exit_code: int = Field(alias="ExitCode")
    started_at: str = Field(default=_NEVER, alias="StartedAt")
    finished_at: str = Field(default=_NEVER, alias="FinishedAt")


class _Config(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str = Field(alias="Image")
    env: list[str] | None = Field(default=None, alias="Env")
    labels: dict[str, str] | None = Field(default=None, alias="Labels")


class _Inspect(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    state: _State = Field(alias="State")
    config: _Config = Field(alias="Config")


class _Ps(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(alias="ID")
    names: str = Field(alias="Names")
    image: str = Field(alias="Image")
    labels: str = Field(default="", alias="Labels")
    state: str = Field(alias="State")


def _env(entries: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _when(stamp: str) -> str | None:
    return None if stamp == _NEVER else stamp


def _state_of(
    *, cid: str, name: str, image: str, labels: dict[str, str], status: str
) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "image": image,
        "address": labels.get(LABEL_ADDRESS, ""),
        "config_digest": labels.get(LABEL_CONFIG, ""),
        "run_digest": labels.get(LABEL_RUN, ""),
        "labels": labels,
        "status": status,
    }


def _from_inspect(item: _Inspect) -> ContainerState:
    labels = item.config.labels or {}
    final = item.state.status in _FINAL
    return ContainerState(
        **_state_of(
            cid=item.id,
            name=item.name.lstrip("/"),
            image=item.config.image,
            labels=labels,
            status=item.state.status,
        ),
        env=_env(item.config.env),
        exit_code=item.state.exit_code if final else None,
        started_at=_when(item.state.started_at),
        finished_at=_when(item.state.finished_at) if final else None,
    )


def _bad(command: str, detail: str) -> ClusterError:
    return ClusterError(f"cannot read the output of `{command}`: {detail}")


def parse_docker_inspect(text: str) -> list[ContainerState]:
    """Parse ``docker inspect <ids>`` (a JSON array) into container states, sorted by name.

    ``[{"Id": "4218..", "Name": "/peer-0", "State": {"Status": "exited", "ExitCode": 3,
    ...}, "Config": {"Image": "img", "Env": ["A=1"], "Labels": {"oar-p2p.run": "ab.."}}}]``
    -> ``[ContainerState(name="peer-0", image="img", env={"A": "1"}, status="exited",
    exit_code=3, run_digest="ab..", ...)]``. Empty output is ``[]``; the exit code is None
    unless the container has exited.
    """
    if not text.strip():
        return []
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise _bad("docker inspect", "expected a JSON array")
        items = [_Inspect.model_validate(x) for x in raw]
    except (json.JSONDecodeError, ValidationError) as exc:
        raise _bad("docker inspect", str(exc).splitlines()[0]) from None
    return sorted((_from_inspect(i) for i in items), key=lambda c: c.name)


def _ps_error(line: str) -> Callable[[ValidationError], ClusterError]:
    return lambda exc: _bad("docker ps", f"{line[:80]!r}: {str(exc).splitlines()[0]}")


def _ps_labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if part:
            key, _, value = part.partition("=")
            out[key] = value
    return out


def parse_docker_ps(text: str) -> list[ContainerState]:
    """Parse ``docker ps -a --format '{{json .}}'`` (one object per line), sorted by name.

    ``{"ID": "1b58..", "Names": "foreign", "Image": "img", "Labels": "a=1,b=2",
    "State": "running", ...}`` -> ``ContainerState(name="foreign", image="img",
    labels={"a": "1", "b": "2"}, status="running", ...)``. Labels come from docker's
    ``k=v,k=v`` text, so values holding commas are not recovered (ours never do).
    """
    out: list[ContainerState] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        item = validated(functools.partial(_Ps.model_validate_json, line), _ps_error(line))
        labels = _ps_labels(item.labels)
        name = item.names.split(",")[0]
        kw = _state_of(cid=item.id, name=name, image=item.image, labels=labels, status=item.state)
        out.append(ContainerState(**kw))
    return sorted(out, key=lambda c: c.name)
