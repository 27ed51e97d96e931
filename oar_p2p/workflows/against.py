"""`plan --offline --against REF`: what `apply` of the spec would change on machines that
hold what REF asks for (another spec file, or the spec at a git revision).

The observed state of each machine is REF's desired state (network, and the containers of
REF's experiment as a completed run would have left them), so the one diff shows exactly
the difference between the two revisions:

    new = load_project(spec)
    old = load_reference(spec, "HEAD~1")          # the spec and its matrix at HEAD~1
    outcome = plan_against(new, old, machine_names(new, old, flags), "HEAD~1")

(`plan_offline_against` does the last two). `plan_against` is pure; `load_reference` reads
files or git (`oar_p2p.revision`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from oar_p2p.apply import with_containers
from oar_p2p.containers_diff import desired_container_states
from oar_p2p.desired.containers import Experiment
from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.experiment import run_status
from oar_p2p.plan import MachinePlan, Plan
from oar_p2p.project import (
    Project,
    attach_links,
    build_project_network,
    load_project,
    offline_machine_names,
    project_machines,
)
from oar_p2p.revision import reference_source
from oar_p2p.state import ContainerState, MachineState
from oar_p2p.workflows.experiment import spec_experiment
from oar_p2p.workflows.reconcile import PlanOutcome
from oar_p2p.workflows.timeline_plan import attach_timeline

__all__ = ["load_reference", "machine_names", "plan_against", "plan_offline_against"]


def plan_offline_against(
    project: Project, spec: Path, ref: str, machine_flags: Sequence[str]
) -> PlanOutcome:
    """`plan --offline --against REF`: load REF, pick the machines, plan."""
    old = load_reference(spec, ref)
    return plan_against(project, old, machine_names(project, old, machine_flags), ref)


def load_reference(spec: Path, ref: str) -> Project:
    """The project REF names: the spec file REF, else `spec` and its matrix at revision REF
    of the repository holding it (errors named ``REF:path:line:col``)."""
    path, reader = reference_source(spec, ref)
    return load_project(path, reader)


def machine_names(new: Project, old: Project, flags: Sequence[str]) -> list[str]:
    """Both sides' machines: `--machine` flags, else the new spec's `cluster.machines`, else
    the old spec's, else the offline plan's error."""
    if flags or new.spec.cluster.machines or not old.spec.cluster.machines:
        return offline_machine_names(new, flags)
    return list(old.spec.cluster.machines)


def _states(
    project: Project, names: Sequence[str]
) -> tuple[dict[str, MachineState], Experiment | None, Network]:
    """The desired network state of every machine, the spec's experiment, the network."""
    machines = project_machines(project, names)
    network = build_project_network(project, machines)
    states = {m.hostname: network.machine_state(m) for m in machines}
    return states, spec_experiment(project.spec, network, states), network


def _held(state: MachineState, ref: str) -> MachineState:
    """REF's desired state as the machine's: its pair digest is REF's, not a record's."""
    if state.pairs is None:
        return state
    return replace(state, pairs=replace(state.pairs, digest_from=f"same digest as {ref}"))


def _completed(experiment: Experiment, hosts: Sequence[str]) -> dict[str, list[ContainerState]]:
    """The containers a completed run of `experiment` leaves on each machine."""
    return {
        h: [c.model_copy(update={"status": "exited", "exit_code": 0}) for c in states]
        for h, states in desired_container_states(experiment, hosts).items()
    }


def plan_against(new: Project, old: Project, names: Sequence[str], ref: str) -> PlanOutcome:
    """The plan `apply` of `new` would make on machines holding what `old` asks for."""
    desired, exp, network = _states(new, names)
    held, old_exp, _ = _states(old, names)
    held = {h: _held(s, ref) for h, s in held.items()}
    hosts = list(desired)
    status = None
    if exp is not None:
        # apply sees only the owned containers labelled with the new experiment's name
        seen = _completed(old_exp, hosts) if old_exp and old_exp.name == exp.name else {}
        status = run_status(exp, seen)
        desired = with_containers(desired, desired_container_states(exp, hosts))
        held = with_containers(held, seen)
    res = new.quantizer.resolution_us
    plans = [diff_machine(desired[h], held[h], res) for h in hosts]
    if old_exp is not None and (exp is None or exp.name != old_exp.name):
        _note_left(plans, old_exp, exp, ref)
    plan = Plan(machines=plans, offline=True, refresh="offline", against=ref)
    plan = attach_timeline(new, network, attach_links(new, network, plan))
    return PlanOutcome(plan, exp, status)


def _note_left(
    plans: Sequence[MachinePlan], old: Experiment, new: Experiment | None, ref: str
) -> None:
    """Containers of REF's experiment that this spec's apply does not manage (it keeps them)."""
    count: Mapping[str, int] = {
        h: len(states) for h, states in desired_container_states(old).items()
    }
    why = "the spec has no containers" if new is None else f"the spec's experiment is {new.name}"
    for m in plans:
        n = count.get(m.hostname, 0)
        if n:
            m.notes.append(
                f"apply leaves the {n} container{'s' if n != 1 else ''} of experiment "
                f"{old.name} that {ref} asks for ({why})"
            )
