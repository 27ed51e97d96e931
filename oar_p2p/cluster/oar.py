"""Pure parsers of what OAR tells us: `oarstat -J` JSON and `OAR_NODEFILE` files.

$ oarstat -j 36627 -J
{"36627": {"Job_Id": 36627, "state": "Running",
           "assigned_network_address": ["gengar-1", "gengar-2"], ...}}
parse_oarstat(text) -> {36627: OarJob(id=36627, state="Running",
                                      machines=("gengar-1", "gengar-2"), ...)}

$ oarstat -u -J            # a user with no job at all (exit status 0, no newline)
hash- or arrayref expected (not a simple scalar, use allow_nonref to allow this) at
/usr/lib/oar/oarstat line 285.
parse_oarstat(text) -> {}

$ cat "$OAR_NODEFILE"      # one line per core
gengar-1\\ngengar-1\\ngengar-2\\n  ->  parse_nodefile(text) -> ["gengar-1", "gengar-2"]
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oar_p2p.errors import OarError
from oar_p2p.spec.values import HOSTNAME_RULE, is_hostname
from oar_p2p.validation import validated

__all__ = [
    "NO_JOBS_PATTERN",
    "USER_JOBS_COMMAND",
    "OarJob",
    "check_hostname",
    "infer_job",
    "job_command",
    "job_machines",
    "parse_nodefile",
    "parse_oarstat",
]

USER_JOBS_COMMAND = "oarstat -u -J"
NO_JOBS_PATTERN = re.compile(
    r"hash- or arrayref expected \(not a simple scalar, use allow_nonref to allow this\) "
    r"at \S+ line \d+\.?"
)
RUNNING = "Running"


def check_hostname(name: str, origin: str) -> str:
    """`name` when it is a plain hostname, else an error naming where it came from."""
    if not is_hostname(name):
        raise OarError(
            f"{origin} lists the machine {name!r}, which is not a hostname: "
            f"allowed: {HOSTNAME_RULE}"
        )
    return name


class OarJob(BaseModel):
    """The fields of one `oarstat -J` job record that the tool uses."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    id: int = Field(alias="Job_Id")
    state: str
    owner: str | None = None
    name: str | None = None
    machines: tuple[str, ...] = Field(default=(), alias="assigned_network_address")


def job_command(job_id: int) -> str:
    """The command listing one job: ``oarstat -j <id> -J``."""
    return f"oarstat -j {int(job_id)} -J"


def parse_oarstat(text: str) -> dict[int, OarJob]:
    """`oarstat [-j ID | -u] -J` output -> jobs by id (the Perl no-jobs text -> {})."""
    stripped = text.strip()
    if not stripped or NO_JOBS_PATTERN.fullmatch(stripped):
        return {}
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        raise OarError(f"oarstat printed something that is not JSON: {_snippet(text)}") from None
    if not isinstance(data, dict):
        raise OarError(f"oarstat printed JSON that is not an object of jobs: {_snippet(text)}")
    return dict(_job(key, value) for key, value in data.items())


def _job(key: str, value: object) -> tuple[int, OarJob]:
    if not isinstance(value, dict):
        raise OarError(f"oarstat job {key!r} is not an object: {_snippet(json.dumps(value))}")
    job = validated(
        lambda: OarJob.model_validate({"Job_Id": key, **value}), lambda exc: _bad_job(key, exc)
    )
    return job.id, job


def _bad_job(key: str, exc: ValidationError) -> OarError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return OarError(f"oarstat job {key!r}: field {where!r}: {first['msg']}")


def job_machines(jobs: dict[int, OarJob], job_id: int) -> list[str]:
    """The job's machines in OAR's order; an error if the job is unknown or not running."""
    job = jobs.get(job_id)
    if job is None:
        known = ", ".join(str(j) for j in sorted(jobs)) or "none"
        raise OarError(
            f"OAR has no job {job_id} (oarstat shows: {known}); check --job-id / OAR_JOB_ID"
        )
    machines = [check_hostname(m, f"oarstat (job {job_id})") for m in dict.fromkeys(job.machines)]
    if not machines:
        raise OarError(
            f"job {job_id} is not running yet (state: {job.state}), so it has no machines; "
            f"wait until `oarstat -j {job_id}` shows it Running"
        )
    return machines


def infer_job(jobs: dict[int, OarJob]) -> OarJob:
    """The user's only Running job; none or several is an error listing what was found."""
    running = [job for job in jobs.values() if job.state == RUNNING]
    if len(running) == 1:
        return running[0]
    if not running:
        found = ", ".join(f"{j.id} ({j.state})" for j in jobs.values())
        also = f" (your jobs: {found})" if found else ""
        raise OarError(
            f"cannot infer the job: you have no Running job{also}; start one with oarsub, "
            "or give --job-id / OAR_JOB_ID"
        )
    ids = ", ".join(str(j.id) for j in sorted(running, key=lambda j: j.id))
    raise OarError(
        f"cannot infer the job: {len(running)} jobs are Running ({ids}); "
        "choose one with --job-id / OAR_JOB_ID"
    )


def parse_nodefile(text: str) -> list[str]:
    """An OAR_NODEFILE (a hostname per core) -> the hostnames, first appearance first."""
    names = (line.strip() for line in text.splitlines())
    return [check_hostname(n, "OAR_NODEFILE") for n in dict.fromkeys(n for n in names if n)]


def _snippet(text: str, width: int = 200) -> str:
    text = text.strip()
    return repr(text if len(text) <= width else text[:width] + "...")
