"""Held starts: containers a timeline starts ahead, whose command waits for its step (pure).

A container that a timeline `start`s with `ahead` (`timeline.user_files`) is created with
`/bin/sh` as its entrypoint, running `HOLD_SH` before the image's own entrypoint and
command (`hold_argv`; the preflight reads them from the image, `parse_image_command`).
Ahead of the step, its scheduler makes the container's FIFO (`hold_fifo`) and docker
starts it: the command waits on the FIFO; at the step's time the scheduler writes into
it, and the command goes on at once (docker's own start, 1.7-3.5 s in the testbed's
guest, is behind it by then). Without a FIFO (the run's own start), the command goes on at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from oar_p2p.desired.containers import DesiredContainer
from oar_p2p.errors import ClusterError
from oar_p2p.vocab import HOST_SIGNAL_DIR
from oar_p2p.vocab import SIGNAL_DIR as CONTAINER_SIGNAL_DIR

__all__ = [
    "HOLD_DIR",
    "HOLD_SH",
    "ImageCommand",
    "hold_argv",
    "held_commands",
    "hold_fifo",
    "parse_image_command",
]

HOLD_DIR = f"{HOST_SIGNAL_DIR}/.hold"  # the FIFOs (`hold_fifo`)
# The entrypoint's script (`/bin/sh -c HOLD_SH oar-p2p-hold <FIFO> <entrypoint> <command>`):
# where its FIFO exists, wait until something is written into it; then exec the image's
# entrypoint and command, which become PID 1 as usual. A FIFO removed meanwhile (the
# release came first) fails the read: go on at once. TERM while held ends it (PID 1
# ignores a signal it has no handler for).
HOLD_SH = (
    "trap 'exit 143' TERM INT; f=$1; shift; "
    'if [ -p "$f" ]; then { read -r _ < "$f"; } 2>/dev/null; fi; trap - TERM INT; exec "$@"'
)


def hold_fifo(name: str) -> str:
    """The FIFO on which a held container's command waits (host path)."""
    return f"{HOLD_DIR}/{name}"


@dataclass(frozen=True)
class ImageCommand:
    """An image's entrypoint and command (`docker image inspect`: None when unset)."""

    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None


def hold_argv(container: DesiredContainer, image: ImageCommand) -> list[str]:
    """The end of a held container's `docker create` argv: from ``--entrypoint`` on."""
    command = [*(image.entrypoint or ()), *(container.command or image.cmd or ())]
    if not command:
        raise ClusterError(
            f"container {container.name}: image {container.image} has no entrypoint or "
            "command, and the spec gives no command"
        )
    hold = ["-c", HOLD_SH, "oar-p2p-hold", f"{CONTAINER_SIGNAL_DIR}/.hold/{container.name}"]
    return ["--entrypoint", "/bin/sh", container.image, *hold, *command]


def parse_image_command(text: str) -> ImageCommand:
    """Two JSON values, the entrypoint and the command, as `docker image inspect -f`
    prints them.

    >>> parse_image_command('["/entry.sh"] null')
    ImageCommand(entrypoint=('/entry.sh',), cmd=None)
    """
    decoder = json.JSONDecoder()
    try:
        entrypoint, end = decoder.raw_decode(text)
        cmd, _ = decoder.raw_decode(text, end + 1)
    except ValueError:
        raise ClusterError(f"unreadable image entrypoint and command: {text[:200]!r}") from None
    return ImageCommand(_argv(entrypoint), _argv(cmd))


def _argv(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(value)
    raise ClusterError(f"unreadable image entrypoint or command: {value!r}")


def held_commands(
    mine: Sequence[DesiredContainer], images: dict[str, ImageCommand]
) -> tuple[dict[str, ImageCommand], list[str]]:
    """(container name -> its image's command, for the held containers `mine`; the images
    whose command the preflight could not read)."""
    found = {c.name: images[c.image] for c in mine if c.image in images}
    return found, sorted({c.image for c in mine if c.image not in images})
