"""The read's batched `ip` and `tc` listings split into the sections each listing alone
gives, on outputs captured from the testbed's kernel (tests/fixtures/observed/listings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.observe.listings import expand, split_tc
from oar_p2p.observe.read_script import split_sections
from oar_p2p.observe.snapshot import snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/observed/listings"
ALONE = ("ip-addr", "ip-route", "tc-class:bond0", "tc-filter:bond0", "tc-class:lo", "tc-filter:lo")


@pytest.mark.parametrize("capture", ["applied", "empty", "foreign"])
def test_the_batches_split_into_what_each_listing_alone_prints(capture: str) -> None:
    sections = split_sections((FIXTURES / f"{capture}.txt").read_text())
    batched = {k: sections[k] for k in ("ip", "tc-listing")}
    split = expand(batched, "bond0")
    for key in ALONE:
        assert split[key] == sections[key], key


def test_a_machine_reads_the_same_from_the_batches_as_from_each_listing() -> None:
    sections = split_sections((FIXTURES / "applied.txt").read_text())
    batched = {k: v for k, v in sections.items() if k not in ALONE}
    alone = {k: v for k, v in sections.items() if k not in ("ip", "tc-listing")}
    # the qdiscs are listed alone either way (JSON)
    qdiscs = {k: "[]\n" for k in ("tc-qdisc:bond0", "tc-qdisc:lo")}
    a = snapshot("gengar-1", "bond0", {**qdiscs, **batched})
    b = snapshot("gengar-1", "bond0", {**qdiscs, **alone})
    assert a == b and a.addresses and a.route
    assert len(sections["tc-class:bond0"].splitlines()) > 10  # the capture has our classes


def test_lo_without_classes_or_filters_and_a_missing_interface() -> None:
    # the interface's listings fail (no such device: stderr), lo has only its qdisc
    out = split_tc("qdisc noqueue 0: root refcnt 2 \n", "bond0")
    assert out == dict.fromkeys(
        ("tc-class:bond0", "tc-filter:bond0", "tc-class:lo", "tc-filter:lo"), ""
    )
    # lo with filters but no class: they are lo's
    out = split_tc("class htb 1:1 root\nqdisc htb 1: root\nfilter parent 1: fw\n", "bond0")
    assert out["tc-filter:lo"] == "filter parent 1: fw\n" and out["tc-filter:bond0"] == ""
