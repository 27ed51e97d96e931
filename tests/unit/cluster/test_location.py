from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.cluster.location import Location, Place, classify, detect_location, local_hostname


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("frontend", Place.FRONTEND),
        ("gengar-1", Place.MACHINE),
        ("gengar-1.cluster.example", Place.MACHINE),
        ("alakazam-08", Place.MACHINE),
        ("my-laptop", Place.ELSEWHERE),
        ("", Place.ELSEWHERE),
        ("Frontend", Place.ELSEWHERE),
    ],
)
def test_classify(name: str, place: Place) -> None:
    assert classify(name) is place


def test_hostname_from_file_first_line_trimmed(tmp_path: Path) -> None:
    f = tmp_path / "hostname"
    f.write_text("  frontend \nextra\n")
    assert local_hostname(f, {"HOSTNAME": "other"}) == "frontend"


def test_hostname_falls_back_to_env_then_empty(tmp_path: Path) -> None:
    missing = tmp_path / "none"
    assert local_hostname(missing, {"HOSTNAME": "gengar-2"}) == "gengar-2"
    assert local_hostname(missing, {}) == ""


def test_detect_on_a_job_machine_keeps_the_nodefile(tmp_path: Path) -> None:
    f = tmp_path / "hostname"
    f.write_text("gengar-3\n")
    loc = detect_location(f, {"OAR_NODEFILE": "/var/lib/oar/4242"})
    assert loc == Location(Place.MACHINE, "gengar-3", Path("/var/lib/oar/4242"))
    assert not loc.jump


def test_only_elsewhere_jumps(tmp_path: Path) -> None:
    f = tmp_path / "hostname"
    f.write_text("laptop\n")
    assert detect_location(f, {}).jump
    f.write_text("frontend\n")
    assert not detect_location(f, {}).jump
