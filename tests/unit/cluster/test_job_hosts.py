"""The job's machines kept between commands: a guess, never trusted beyond hostnames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.cluster.job_hosts import recall, remember

HOSTS = ["gengar-2", "gengar-1"]


def test_kept_for_its_job_and_frontend_only(tmp_path: Path) -> None:
    remember(tmp_path, "nova", 4242, HOSTS)
    assert recall(tmp_path, "nova", 4242) == HOSTS
    assert recall(tmp_path, "nova", 4243) == []  # another job
    assert recall(tmp_path, "other", 4242) == []  # another frontend: another file
    remember(tmp_path, "nova", 4243, ["gengar-5"])  # the frontend's last job replaces it
    assert recall(tmp_path, "nova", 4242) == []
    assert recall(tmp_path, "nova", 4243) == ["gengar-5"]
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == ["nova.json"]


def test_nothing_kept_or_read_with_the_cache_off() -> None:
    remember(None, "nova", 4242, HOSTS)
    assert recall(None, "nova", 4242) == []


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        json.dumps({"version": 2, "frontend": "nova", "job": 4242, "hosts": HOSTS}),
        json.dumps({"version": 1, "frontend": "nova", "job": "4242", "hosts": HOSTS}),
        json.dumps({"version": 1, "frontend": "nova", "job": 4242, "hosts": "gengar-1"}),
        json.dumps({"version": 1, "frontend": "nova", "job": 4242, "hosts": ["a b", "c"]}),
        json.dumps({"version": 1, "frontend": "nova", "job": 4242, "hosts": ["-oProxy=x"]}),
        json.dumps({"version": 1, "frontend": "nova", "job": 4242, "hosts": [1]}),
    ],
)
def test_a_damaged_or_foreign_file_is_no_guess(tmp_path: Path, text: str) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "nova.json").write_text(text)
    assert recall(tmp_path, "nova", 4242) == []
    remember(tmp_path, "nova", 4242, HOSTS)  # written over
    assert recall(tmp_path, "nova", 4242) == HOSTS


def test_a_cache_path_that_is_a_file_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "jobs").write_text("not a directory")
    remember(tmp_path, "nova", 4242, HOSTS)
    assert recall(tmp_path, "nova", 4242) == []
    assert [p.name for p in tmp_path.iterdir()] == ["jobs"]  # no temp file left
