"""Observe: pure parsers from the captured output of read commands to the state model.

Each parser takes the text a command printed (as split by `read_script.split_sections`)
and returns typed objects from `oar_p2p.state`; none runs a command. Parsers are tested
with real captures in ``tests/fixtures/observed/<tool>/<case>.json``.

    ip.py       ``ip -j addr show dev IF``, ``ip -j route show exact 10.0.0.0/8``
    tc.py       ``tc -j qdisc show``, ``tc class show``, ``tc filter show`` (text, see there)
    nft.py      ``nft -j list table ip oar-p2p`` (and the text map listing)
    sysctl.py   the read script's ``key=value`` lines

Empty output means "absent" (a missing device, no table): the read script discards
stderr and keeps going. Output that is present but cannot be understood raises
`ObservedOutputError`, never a silent "absent", so a plan is never built on garbage.
"""

from __future__ import annotations

from pydantic import ValidationError

from oar_p2p.errors import ClusterError

__all__ = ["ObservedOutputError", "output_error"]


class ObservedOutputError(ClusterError):
    """A read command printed something its parser cannot understand."""

    def __init__(self, command: str, reason: str, text: str = "") -> None:
        self.command = command
        self.reason = reason
        excerpt = " ".join(text.split())[:80]
        suffix = f" (output starts: {excerpt!r})" if excerpt else ""
        super().__init__(f"cannot parse the output of `{command}`: {reason}{suffix}")


def output_error(command: str, exc: ValueError, text: str = "") -> ObservedOutputError:
    """`exc` (a pydantic `ValidationError` or a plain `ValueError`) as an `ObservedOutputError`."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return ObservedOutputError(command, err["msg"] + (f" at {where}" if where else ""), text)
    return ObservedOutputError(command, str(exc), text)
