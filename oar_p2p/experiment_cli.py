"""The experiment step of `apply`/`plan`/`destroy` and the compat `run`: glue + rendering."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import typer

from oar_p2p.apply import Cluster
from oar_p2p.desired.containers import Experiment, desired_experiment
from oar_p2p.desired.network import Network
from oar_p2p.errors import ClusterError
from oar_p2p.experiment import (
    Progress,
    RunOptions,
    RunResult,
    RunStatus,
    destroy_containers,
    new_run_directory,
    observe_containers,
    run_experiment,
    run_status,
)
from oar_p2p.plan import Plan
from oar_p2p.spec.models import Spec

__all__ = [
    "experiment_status",
    "network_digest",
    "remove_owned_containers",
    "report_run",
    "run_and_report",
    "spec_experiment",
]


def network_digest(plan: Plan) -> str:
    """Digest of addresses and latencies: the desired pair maps of every machine."""
    h = hashlib.sha256()
    for m in sorted(plan.machines, key=lambda m: m.hostname):
        pairs = m.desired.pairs
        h.update(f"{m.hostname}:{pairs.digest if pairs else '-'};".encode())
    return h.hexdigest()[:32]


def spec_experiment(spec: Spec, network: Network, plan: Plan) -> Experiment | None:
    if not spec.containers:
        return None
    return desired_experiment(spec, network.addresses, network_digest(plan))


def experiment_status(cluster: Cluster, exp: Experiment) -> RunStatus:
    observed = observe_containers(cluster.transport, cluster.hosts, exp.name, limit=cluster.limit)
    return run_status(exp, observed)


def _progress(p: Progress) -> None:
    detail = f" ({p.detail})" if p.detail else ""
    typer.secho(
        f"... {p.phase}: {p.done}/{p.total} {p.unit}{detail}",
        err=True,
        fg=typer.colors.BRIGHT_BLACK,
    )


def run_and_report(
    cluster: Cluster,
    exp: Experiment,
    output: Path,
    *,
    extra: dict[str, object] | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run the experiment into a new run directory under `output`; print the outcome."""
    run_dir = new_run_directory(output)
    typer.echo(
        f"Running experiment {exp.name}: {len(exp.containers)} containers, logs in {run_dir}"
    )
    result = run_experiment(
        cluster.transport,
        exp,
        run_dir,
        hosts=cluster.hosts,
        options=RunOptions(timeout=timeout, limit=cluster.limit),
        progress=_progress,
        extra=extra,
    )
    report_run(result, run_dir)
    return result


def report_run(result: RunResult, run_dir: Path) -> None:
    for note in result.notes:
        typer.echo(f"note: {note}")
    for f in result.failed:
        typer.secho(
            f"{f.name} on {f.machine} exited with {f.exit_code}", fg=typer.colors.RED, err=True
        )
        for label, tail in (("stdout", f.stdout_tail), ("stderr", f.stderr_tail)):
            for line in tail.splitlines()[-20:]:
                typer.echo(f"  {label}| {line}", err=True)
    ok = sum(1 for c in result.containers if c.exit_code == 0)
    typer.echo(
        f"Run finished: {ok} of {len(result.containers)} containers exited 0; "
        f"manifest {result.manifest_path or run_dir / 'manifest.json'}"
    )
    if not result.ok:
        why = (
            "timed out"
            if result.timed_out
            else "interrupted"
            if result.interrupted
            else f"{len(result.failed)} container(s) failed"
        )
        raise ClusterError(f"the experiment run {why}; logs and manifest in {run_dir}")


def remove_owned_containers(
    cluster: Cluster, experiment: str | None, hosts: Sequence[str] | None = None
) -> int:
    removed = destroy_containers(
        cluster.transport, list(hosts or cluster.hosts), experiment, limit=cluster.limit
    )
    n = sum(len(v) for v in removed.values())
    if n:
        typer.echo(f"removed {n} owned container(s)")
    return n
