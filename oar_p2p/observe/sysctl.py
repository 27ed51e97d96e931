"""Parse the sysctl section of the read script.

For each key the script prints ``key=value`` (``sysctl -n`` succeeded) or ``key=`` (the
key does not exist on that machine, e.g. a global key read from inside a network
namespace). An existing key with an empty value cannot be told from a missing one; none
of the keys the tool sets can be empty.
"""

from __future__ import annotations

from oar_p2p.observe import ObservedOutputError

__all__ = ["parse_sysctls"]


def parse_sysctls(text: str) -> dict[str, str | None]:
    """``key=value`` / ``key=`` lines -> {key: value, or None when missing}.

    Values are kept as printed (``net.ipv4.tcp_rmem=4096\\t131072\\t6291456`` keeps its
    tabs); only the line ending is stripped. A later line for the same key wins.

    >>> parse_sysctls("net.ipv4.tcp_max_orphans=524288\\nnet.ipv4.neigh.default.gc_thresh1=\\n")
    {'net.ipv4.tcp_max_orphans': '524288', 'net.ipv4.neigh.default.gc_thresh1': None}
    """
    out: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key or key != key.strip() or " " in key:
            raise ObservedOutputError("sysctl -n KEY (read script)", "expected key=value", line)
        out[key] = value.rstrip("\r") or None
    return out
