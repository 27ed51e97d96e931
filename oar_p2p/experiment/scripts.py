"""Pure builders of the per-machine shell scripts of a run, and parsers of their reports
(the report formats are documented and read in `oar_p2p.wire`).

Every script is sent on stdin to `SHELL` (``sh -s``): one round trip per machine per phase.
Each user value (container name, image, env value, label) reaches docker as one argv
element quoted with `shlex.quote`, so quotes, ``$(...)``, backticks, spaces and newlines
arrive byte for byte; nothing is pasted into a shell line unquoted.

Phases and their scripts:

    preflight   signal directory writable, images present / pulled per pull policy,
                every container on the machine (``docker ps`` JSON) for name conflicts
    prepare     remove this experiment's old containers, clear its signal files, create all
    start       ``docker start`` of every container (a few at a time, in parallel)
    signal      write the unix time to ``<dir>/<name>.tmp`` then rename it to ``<dir>/<name>``
    wait        ``docker wait`` of every container
    stop        ``docker stop`` (run timeout, Ctrl-C)
    logs        ``docker logs`` of every container into a gzipped tar on stdout
    remove      ``docker rm -f`` of named containers, or of every owned one (destroy)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from oar_p2p.desired.containers import CREATE_OPTIONS, DesiredContainer, Experiment
from oar_p2p.errors import ClusterError
from oar_p2p.experiment.hold import (
    ImageCommand,
    hold_argv,
    hold_fifo,
    parse_image_command,
)
from oar_p2p.observe.docker import SOCKET_PL, owner_filter, ps_command
from oar_p2p.spec.models import PullPolicy
from oar_p2p.vocab import HOST_SIGNAL_DIR as SIGNAL_DIR
from oar_p2p.wire import REST, mark, read_lines, sections

__all__ = [
    "CREATE_PARALLELISM",
    "SHELL",
    "SIGNAL_DIR",
    "ImageReport",
    "PrepareReport",
    "create_argv",
    "destroy_script",
    "image_policies",
    "logs_script",
    "parse_image_report",
    "parse_prepare_report",
    "preflight_script",
    "prepare_script",
    "remove_script",
    "signal_script",
    "split_preflight",
    "start_script",
    "stop_script",
    "wait_script",
]

SHELL = "sh -s"
CREATE_PARALLELISM = 16
_CONTAINERS = "containers"
_PREFLIGHT = {
    "signal-dir": ("state",),
    "image": ("index", "state"),
    "config": ("index", "json" + REST),
}
_PREPARE = {"created": ("name",), "failed": ("name",)}
_RANK: dict[PullPolicy, int] = {"never": 0, "missing": 1, "always": 2}
_q = shlex.quote


def image_policies(containers: Sequence[DesiredContainer]) -> dict[str, PullPolicy]:
    """Each image once, with the strongest policy any of its containers asks for.

    ``[peer-0 (img, never), peer-1 (img, always)]`` -> ``{"img": "always"}``.
    """
    out: dict[str, PullPolicy] = {}
    for c in containers:
        if c.image not in out or _RANK[c.pull] > _RANK[out[c.image]]:
            out[c.image] = c.pull
    return out


def _image_lines(index: int, image: str, policy: PullPolicy) -> str:
    has = f"docker image inspect {_q(image)} >/dev/null 2>&1"
    pull = f"docker pull {_q(image)} >&2 </dev/null"
    if policy == "never":
        return f"if {has}; then r {index} present; else r {index} absent; fi\n"
    if policy == "missing":
        return (
            f"if {has}; then r {index} present; "
            f"elif {pull}; then r {index} pulled; else r {index} pull-failed; fi\n"
        )
    return f"if {pull}; then r {index} pulled; else r {index} pull-failed; fi\n"


def preflight_script(images: Mapping[str, PullPolicy], held: Sequence[str] = ()) -> str:
    """Check the signal directory, ensure images, list every container (JSON lines).

    Prints ``signal-dir ok|unwritable``, one ``image <i> present|absent|pulled|pull-failed``
    line per image (``i`` = position in `images`), for each image of `held` (those of
    containers a timeline starts ahead) ``config <i> <entrypoint JSON> <command JSON>``,
    then the containers section.
    """
    lines = [
        'r() { echo "image $1 $2"; }\n',
        f"mkdir -p {SIGNAL_DIR} 2>/dev/null\n",
        f'if [ -d {SIGNAL_DIR} ] && [ -w {SIGNAL_DIR} ]; then echo "signal-dir ok"; '
        'else echo "signal-dir unwritable"; fi\n',
    ]
    lines += [_image_lines(i, img, pol) for i, (img, pol) in enumerate(images.items())]
    fmt = _q("{{json .Config.Entrypoint}} {{json .Config.Cmd}}")
    for i, img in enumerate(images):
        if img in held:
            inspect = f"docker image inspect -f {fmt} {_q(img)} 2>/dev/null"
            lines.append(f'c=$({inspect}) && echo "config {i} $c"\n')
    lines += [f"echo {_q(mark(_CONTAINERS))}\n", ps_command()]
    return "".join(lines)


@dataclass(frozen=True)
class ImageReport:
    """What the preflight script found on one machine."""

    signal_dir_ok: bool
    images: dict[str, str]
    commands: dict[str, ImageCommand] = field(default_factory=dict)  # the held images'


def split_preflight(text: str) -> tuple[str, str]:
    """(report part, containers part) of the preflight output."""
    parts = sections(text)
    if _CONTAINERS not in parts:
        raise ClusterError("preflight script output has no containers section")
    return parts.get("", ""), parts[_CONTAINERS]


def parse_image_report(text: str, images: Sequence[str]) -> ImageReport:
    """Parse the report part of the preflight output.

    ``"signal-dir ok\\nimage 0 pulled\\n"`` with images ``["img"]`` ->
    ``ImageReport(signal_dir_ok=True, images={"img": "pulled"})``.
    """
    ok = False
    found: dict[str, str] = {}
    commands: dict[str, ImageCommand] = {}
    for line in read_lines(text, _PREFLIGHT):
        if line.tag == "signal-dir":
            ok = line.fields[0] == "ok"
        elif not (line.fields[0].isdigit() and int(line.fields[0]) < len(images)):
            continue
        elif line.tag == "image":
            found[images[int(line.fields[0])]] = line.fields[1]
        else:
            commands[images[int(line.fields[0])]] = parse_image_command(line.fields[1])
    missing = [i for i in images if i not in found]
    if missing:
        raise ClusterError(f"preflight script reported nothing for image {missing[0]}")
    return ImageReport(ok, found, commands)


def create_argv(
    experiment: Experiment, container: DesiredContainer, held: ImageCommand | None = None
) -> list[str]:
    """The `docker create` argv of one container (not quoted). `held`: its image's
    entrypoint and command, for a container a timeline starts ahead: the entrypoint is
    `/bin/sh` running `experiment.hold.HOLD_SH`, which runs them once released."""
    argv = ["docker", "create", *CREATE_OPTIONS, "--name", container.name]
    for key, value in experiment.labels(container).items():
        argv += ["--label", f"{key}={value}"]
    for key, value in container.env.items():
        argv += ["--env", f"{key}={value}"]
    if held is None:
        return [*argv, container.image, *container.command]
    return [*argv, *hold_argv(container, held)]


def _remove_owned(experiment: str | None) -> str:
    flt = _q(owner_filter(experiment))
    return f"docker ps -aq --no-trunc --filter {flt} | xargs -r docker rm -f >/dev/null\n"


def prepare_script(
    experiment: Experiment,
    containers: Sequence[DesiredContainer],
    *,
    parallelism: int = CREATE_PARALLELISM,
    held: Mapping[str, ImageCommand] | None = None,
) -> str:
    """Remove the experiment's old containers, clear its signals, create `containers`;
    those named in `held` (with their image's entrypoint and command) wait on their hold
    FIFO when one exists (`create_argv`), and a FIFO left by an earlier run is removed.

    Prints ``created <name>`` or ``failed <name>`` per container (docker's error on stderr).
    """
    held = held or {}
    out = [
        'c() { n=$1; shift; if "$@" >/dev/null </dev/null; then echo "created $n"; '
        'else echo "failed $n"; fi; }\n',
        _remove_owned(experiment.name),
    ]
    for s in experiment.signals:
        out.append(f"rm -f {SIGNAL_DIR}/{s.name} {SIGNAL_DIR}/{s.name}.tmp\n")
    for c in containers:
        if c.name in held:
            out.append(f"rm -f {_q(hold_fifo(c.name))}\n")
    for i, c in enumerate(containers):
        argv = " ".join(_q(a) for a in create_argv(experiment, c, held.get(c.name)))
        out.append(f"c {_q(c.name)} {argv} &\n")
        if (i + 1) % max(parallelism, 1) == 0:
            out.append("wait\n")
    out.append("wait\n")
    return "".join(out)


@dataclass(frozen=True)
class PrepareReport:
    """Which containers the prepare script created, and which failed."""

    created: tuple[str, ...]
    failed: tuple[str, ...]


def parse_prepare_report(text: str, names: Sequence[str]) -> PrepareReport:
    """``"created peer-0\\nfailed peer-1\\n"`` -> created (peer-0,), failed (peer-1,).

    A name with no line at all counts as failed.
    """
    created = {line.fields[0] for line in read_lines(text, _PREPARE) if line.tag == "created"}
    return PrepareReport(
        created=tuple(n for n in names if n in created),
        failed=tuple(n for n in names if n not in created),
    )


def _names(names: Sequence[str]) -> str:
    return " ".join(_q(n) for n in names)


def start_script(names: Sequence[str], *, parallelism: int = CREATE_PARALLELISM) -> str:
    """Start every container, `parallelism` docker processes at a time (names on stdin)."""
    if not names:
        return "true\n"
    per = max(1, -(-len(names) // max(parallelism, 1)))
    return (
        f"printf '%s\\n' {_names(names)} | "
        f"xargs -r -P {max(parallelism, 1)} -n {per} docker start >/dev/null\n"
    )


def signal_script(names: Sequence[str], timestamp: int, directory: str = SIGNAL_DIR) -> str:
    """Fire signals: write `timestamp` (unix seconds, no newline) to a temp file, rename it.

    The rename makes each file appear atomically, with the original tool's content format.
    """
    out = []
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise ValueError(f"invalid signal name {name!r}")
        tmp, final = _q(f"{directory}/{name}.tmp"), _q(f"{directory}/{name}")
        out.append(f"printf '%s' {int(timestamp)} > {tmp} && mv -f {tmp} {final} || exit 1\n")
    return "".join(out) or "true\n"


# `docker wait` through docker's API (`POST /containers/<name>/wait`, one connection per
# container, all sent before any answer is read): the exit codes, one per line, in order,
# printed once all are in. With a file as argument 1 (else ""), the waits are repeated
# every 0.5 s until that file has a line `end` or `stopped` (a timeline's status: its
# schedule may start a stopped container again), then done once more. One perl (0.09 s of
# CPU in the testbed's guest) where the CLI costs 0.45 s per `docker wait`, at the run's
# start on every machine, and every 0.5 s while a container waits to be started again.
# Exit 3: this endpoint is not the CLI's, or the socket cannot be opened; 4: an answer
# that is not a success; the CLI then runs and says why.
_API_WAIT = (
    SOCKET_PL
    + r"""my $until = shift @ARGV;
sub wait_all {
  my @s;
  for my $n (@ARGV) {
    (my $p = $n) =~ s/([^A-Za-z0-9_.-])/sprintf("%%%02X", ord $1)/ge;
    push @s, (request("POST /containers/$p/wait") or exit 3);
  }
  my @codes;
  for my $s (@s) {
    my ($code, $body) = answer($s);
    defined $code && $code == 200 or exit 4;
    my ($c) = $body =~ /"StatusCode"\s*:\s*(-?\d+)/ or exit 4;
    push @codes, $c;
  }
  return @codes;
}
while (length $until) {
  wait_all();
  if (open my $f, "<", $until) { local $/; last if (<$f> // "") =~ /^(end|stopped)$/m }
  select(undef, undef, undef, 0.5);
}
print "$_\n" for wait_all();
"""
)


def wait_script(names: Sequence[str], until: str = "") -> str:
    """Wait until every container is not running: one exit code per line, in order.
    `until`: a file; the wait is repeated until it has a line `end` or `stopped` (a
    timeline's status, whose schedule may start a stopped container again). docker's API
    read by `perl` when the machine has it and the CLI would use the same daemon
    (`_API_WAIT`), the CLI otherwise."""
    if not names:
        return "true\n"
    args = _names(names)
    cli = f"docker wait {args}\n"
    if until:
        status = _q(until)
        cli = (
            f"while :; do docker wait {args} >/dev/null 2>&1; "
            f"grep -qxE 'end|stopped' {status} 2>/dev/null && break; sleep 0.5; done\n" + cli
        )
    return f"perl -e {_q(_API_WAIT)} {_q(until)} {args} 2>/dev/null && exit 0\n" + cli


def stop_script(names: Sequence[str], grace: int) -> str:
    """Stop the containers (SIGTERM, SIGKILL after `grace` seconds); missing ones ignored."""
    if not names:
        return "true\n"
    return f"docker stop -t {int(grace)} {_names(names)} >/dev/null 2>&1 || true\n"


def remove_script(names: Sequence[str]) -> str:
    """Remove these containers (running or not); missing ones are ignored."""
    if not names:
        return "true\n"
    return f"docker rm -f {_names(names)} >/dev/null 2>&1 || true\n"


def destroy_script(experiment: str | None) -> str:
    """Print the names of the owned containers, then remove them (never foreign ones)."""
    flt = _q(owner_filter(experiment))
    return f"docker ps -a --filter {flt} --format '{{{{.Names}}}}'\n" + _remove_owned(experiment)


def logs_script(names: Sequence[str]) -> str:
    """Write ``<name>.stdout|.stderr`` of every container, send them as a .tar.gz on stdout."""
    out = [
        "d=$(mktemp -d) || exit 1\n",
        "trap 'rm -rf \"$d\"' EXIT\n",
    ]
    for n in names:
        q = _q(n)
        out.append(
            f'docker logs {q} >"$d"/{q}.stdout 2>"$d"/{q}.stderr </dev/null '
            f"|| echo {_q('no logs for ' + n)} >&2\n"
        )
    out.append('tar -C "$d" -czf - .\n')
    return "".join(out)
