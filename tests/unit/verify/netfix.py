"""Small networks for the verify tests: 4 addresses on gengar-1 and gengar-2."""

from __future__ import annotations

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import LinkValues, Network, build_network
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy

LATENCY = "0 10 10 10\n10 0 10 10\n10 10 0 10\n10 10 10 0\n"
JITTER = "0 2 3 0\n2 0 0 0\n3 0 0 0\n0 0 0 0\n"


def network(
    *,
    jitter: LinkValues | None = None,
    loss: LinkValues | None = None,
    bandwidth: Bandwidth | None = None,
    latency: str = LATENCY,
) -> Network:
    return build_network(
        AddressPolicy.parse("4"),
        machines_from_names(["gengar-1", "gengar-2"], {}),
        parse_matrix(latency, "latency.txt"),
        wrap=False,
        quantizer=Quantizer(100),
        jitter=jitter,
        loss=loss,
        bandwidth=bandwidth,
    )


def jitter_matrix():  # type: ignore[no-untyped-def]
    return parse_matrix(JITTER, "jitter.txt")
