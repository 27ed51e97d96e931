"""Measuring the machines' base RTT for compensation (`network.compensate_base`). Pure.

Two round trips per machine, all machines in parallel:

1. `probe_script`: the machine's cluster interface (`ip -j addr show dev IF`) and its apply
   record (the bases the last apply shaped with). Unprivileged, as the read script.
2. `ping_script` (`oar_p2p.verify`, the same machinery as `verify`): from each machine,
   `BASE_PINGS` pings (0.2 s apart) to every other machine's cluster address and to its own (the
   loopback path), all in parallel; the base of a pair is the minimum.

The cluster address is the interface's first IPv4 address that the tool does not own
(not a 10.x/32, not link-local or loopback): the address the machine already has on the
interface the shaped traffic leaves by, so its pings cross the same NIC and switch, and go
through the tool's HTB root unmarked (default class, no netem). Host names are not used:
they are ssh aliases of the user's machine, which need not resolve on the machines, or may
resolve to another network.

    script = probe_script("bond0")
    ip, recorded = parse_probe(stdout, "bond0")       # "172.30.0.1", {"gengar-2": 251}
    plan = ping_plan({"gengar-1": "172.30.0.1", "gengar-2": "172.30.0.2"})
    bases = parse_bases(outputs, ips)                 # {("gengar-1", "gengar-2"): 251, ...}
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping

from oar_p2p.desired.compensation import MachinePair, pair_key
from oar_p2p.observe.ip import parse_ip_addr
from oar_p2p.record import parse_record
from oar_p2p.verify import parse_ping_output
from oar_p2p.vocab import RECORD_DIR
from oar_p2p.wire import sections

__all__ = [
    "BASE_INTERVAL_S",
    "BASE_PINGS",
    "cluster_address",
    "parse_bases",
    "parse_probe",
    "ping_plan",
    "probe_script",
]

BASE_PINGS = 10
# `ping -q` at 0.2 s, verify's default path (iputils and busybox alike): 2 s, all pairs at
# once. The minimum of 10, like verify's minimum of a few pings per pair: in one e2e run
# with 20 (loaded testbed) the bases came out 0.03-0.05 ms lower than in the run with 10
# before it, and verify's median error was 0.099 ms instead of 0.068 ms (indicative only).
BASE_INTERVAL_S: float | None = None


def probe_script(interface: str, record_dir: str = RECORD_DIR) -> str:
    """Bash printing the ``ip-addr`` and ``record`` sections (`oar_p2p.wire`)."""
    q = shlex.quote
    return (
        'export PATH="$PATH:/usr/sbin:/sbin"\n'
        f"echo '### oar-p2p:ip-addr ###'; ip -j addr show dev {q(interface)} 2>/dev/null\n"
        f"echo '### oar-p2p:record ###'; cat {q(record_dir + '/record.json')} 2>/dev/null\n"
        "true\n"
    )


def cluster_address(foreign: tuple[str, ...]) -> str | None:
    """The first usable IPv4 address among an interface's foreign ``addr/len`` entries.

    >>> cluster_address(("fe80::1/64", "169.254.1.2/16", "172.30.0.1/24", "192.168.7.1/24"))
    '172.30.0.1'
    """
    for entry in foreign:
        try:
            ip = ipaddress.ip_interface(entry).ip
        except ValueError:
            continue
        if ip.version == 4 and not (ip.is_link_local or ip.is_loopback or ip.is_unspecified):
            return str(ip)
    return None


def parse_probe(text: str, interface: str) -> tuple[str | None, dict[str, int] | None]:
    """The probe's output -> (cluster address or None, recorded bases or None)."""
    found = sections(text)
    facts = parse_ip_addr(found.get("ip-addr", ""), interface)
    record = parse_record(found.get("record", ""))
    return cluster_address(facts.foreign), None if record is None else record.base_rtt_us


def ping_plan(ips: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Per machine, the (source, destination) cluster address pairs it pings: itself, and
    every machine after it in `ips` order (each unordered pair measured once).

    >>> ping_plan({"a": "1.0.0.1", "b": "1.0.0.2"})
    {'a': [('1.0.0.1', '1.0.0.1'), ('1.0.0.1', '1.0.0.2')], 'b': [('1.0.0.2', '1.0.0.2')]}
    """
    hosts = list(ips)
    return {h: [(ips[h], ips[o]) for o in hosts[x:]] for x, h in enumerate(hosts)}


def parse_bases(
    outputs: Mapping[str, str], ips: Mapping[str, str]
) -> dict[MachinePair, int | None]:
    """The ping outputs of every machine -> base RTT in µs per machine pair (None: no
    reply), as the minimum of its pings."""
    host_of = {ip: h for h, ip in ips.items()}
    plan = ping_plan(ips)
    out: dict[MachinePair, int | None] = {}
    for host, text in outputs.items():
        got = parse_ping_output(text)
        for src, dst in plan.get(host, []):
            value = got.get((src, dst))
            key = pair_key(host_of[src], host_of[dst])
            out[key] = None if value is None else round(value[0] * 1000)
    return out
