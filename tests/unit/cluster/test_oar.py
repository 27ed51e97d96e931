"""oarstat / OAR_NODEFILE parsers, driven by the captured-like cases in tests/fixtures/oar/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.cluster.oar import (
    OarJob,
    infer_job,
    job_command,
    job_machines,
    parse_nodefile,
    parse_oarstat,
)
from oar_p2p.errors import OarError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "oar"
CASES = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> dict[int, OarJob]:
    return parse_oarstat(json.loads((FIXTURES / f"{name}.json").read_text())["output"])


def summary(jobs: dict[int, OarJob]) -> dict[str, Any]:
    return {
        str(i): {"state": j.state, "owner": j.owner, "name": j.name, "machines": list(j.machines)}
        for i, j in jobs.items()
    }


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture(path: Path) -> None:
    case = json.loads(path.read_text())
    output, expected = case["output"], case["expected"]
    if case["command"].startswith("cat"):
        assert parse_nodefile(output) == expected["machines"]
    elif "error" in expected:
        with pytest.raises(OarError) as err:
            parse_oarstat(output)
        assert str(err.value) == expected["error"]
    else:
        assert summary(parse_oarstat(output)) == expected["jobs"]


def test_fixtures_exist() -> None:
    assert len(CASES) >= 8


def test_job_command() -> None:
    assert job_command(4242) == "oarstat -j 4242 -J"


def test_perl_text_with_another_line_number_or_a_newline_is_no_jobs() -> None:
    text = (
        "hash- or arrayref expected (not a simple scalar, use allow_nonref to allow this) "
        "at /usr/share/oar/oarstat line 301.\n"
    )
    assert parse_oarstat(text) == {}


def test_job_machines_in_oar_order() -> None:
    assert job_machines(load("job_running"), 36627) == ["gengar-1", "gengar-2"]


def test_job_not_running_yet() -> None:
    with pytest.raises(OarError) as err:
        job_machines(load("job_waiting"), 4243)
    assert str(err.value) == (
        "job 4243 is not running yet (state: Waiting), so it has no machines; "
        "wait until `oarstat -j 4243` shows it Running"
    )


def test_unknown_job() -> None:
    with pytest.raises(OarError) as err:
        job_machines(load("job_unknown"), 99)
    assert str(err.value) == "OAR has no job 99 (oarstat shows: none); check --job-id / OAR_JOB_ID"


def test_infer_the_only_running_job() -> None:
    job = infer_job(load("user_running_and_waiting"))
    assert (job.id, job.machines) == (4242, ("gengar-1", "gengar-2", "gengar-3"))


def test_infer_with_two_running_jobs_lists_them() -> None:
    with pytest.raises(OarError) as err:
        infer_job(load("user_two_running"))
    assert str(err.value) == (
        "cannot infer the job: 2 jobs are Running (37029, 37030); "
        "choose one with --job-id / OAR_JOB_ID"
    )


def test_infer_with_no_job_at_all() -> None:
    with pytest.raises(OarError) as err:
        infer_job(load("user_no_jobs_perl"))
    assert str(err.value) == (
        "cannot infer the job: you have no Running job; start one with oarsub, "
        "or give --job-id / OAR_JOB_ID"
    )


def test_infer_with_only_waiting_jobs_lists_them() -> None:
    with pytest.raises(OarError, match=r"no Running job \(your jobs: 4243 \(Waiting\)\)"):
        infer_job(load("job_waiting"))


def test_nodefile_ignores_blank_lines_and_spaces() -> None:
    assert parse_nodefile("  a \n\n b\na\n") == ["a", "b"]


HOSTILE_NAMES = ["-oProxyCommand=touch /tmp/pwned", "a;b", "$(id)", "`id`", "a b", "a\nb", "'a'"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_machine_name_from_oarstat_that_is_not_a_hostname_is_refused(name: str) -> None:
    text = json.dumps({"7": {"Job_Id": 7, "state": "Running", "assigned_network_address": [name]}})
    with pytest.raises(OarError) as err:
        job_machines(parse_oarstat(text), 7)
    assert str(err.value).startswith(f"oarstat (job 7) lists the machine {name!r}, which is not")
    assert "allowed: a DNS name" in str(err.value)


@pytest.mark.parametrize("name", HOSTILE_NAMES[:4])
def test_a_nodefile_line_that_is_not_a_hostname_is_refused(name: str) -> None:
    with pytest.raises(OarError, match="OAR_NODEFILE lists the machine"):
        parse_nodefile(f"gengar-1\n{name}\n")


def test_dns_names_with_domains_are_machines() -> None:
    assert parse_nodefile("gengar-1.nova.lan\nGENGAR-2\n") == ["gengar-1.nova.lan", "GENGAR-2"]
