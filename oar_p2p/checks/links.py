"""`validate`'s checks of the link keys beyond latency: `jitter`, `loss`, `bandwidth`.

Each takes the project (its latency matrix loaded) and the address count when known
(None: it depends on the job's machines) and returns the project with the value loaded,
so that later checks see it. A jitter above its pair's delay passes with a warning (the
kernel does not shape it exactly; the tool never clips it).
"""

from __future__ import annotations

from dataclasses import replace

from oar_p2p.checks.report import Outcome, ok, skipped
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import format_rate
from oar_p2p.desired.link_view import jitter_over_delay
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.project import Project
from oar_p2p.project_links import build_bandwidth, cap_rates, load_link_value
from oar_p2p.spec.links import BandwidthSpec

__all__ = ["check_bandwidth", "check_jitter", "check_loss"]


def check_jitter(project: Project, count: int | None) -> tuple[Outcome, Project]:
    value, file = load_link_value(project.loaded, "jitter", project.matrix)
    project = replace(project, links=replace(project.links, jitter=value, jitter_file=file))
    if value is None:
        return ok("none (no jitter)"), project
    used = project.matrix.dimension if count is None else count
    warning = jitter_over_delay(project.matrix, value, used)
    warnings = (warning,) if warning else ()
    if isinstance(value, LatencyMatrix):
        q = Quantizer.from_ms(project.spec.network.latency_resolution_ms)
        d = value.dimension
        detail = f"matrix {d}x{d} like the latency matrix, every value at most {q.max_ms} ms"
        return ok(detail, warnings), project
    return ok(f"{value:g} ms for every pair (normal distribution)", warnings), project


def check_loss(project: Project) -> tuple[Outcome, Project]:
    value, file = load_link_value(project.loaded, "loss", project.matrix)
    project = replace(project, links=replace(project.links, loss=value, loss_file=file))
    if value is None:
        return ok("none (no loss)"), project
    if isinstance(value, LatencyMatrix):
        d = value.dimension
        return ok(f"matrix {d}x{d} like the latency matrix, percentages 0 to 100"), project
    return ok(f"{value:g}% for every pair"), project


def check_bandwidth(project: Project, count: int | None) -> Outcome:
    spec = project.spec.network.bandwidth
    if spec is None:
        return ok("none (no caps)")
    cap_rates(project.loaded)  # each rate, located
    rates = _rates(spec)
    if count is None:
        if all(o.addresses == "all" for o in spec.overrides):
            return ok(f"{rates}; every override selects all addresses")
        return skipped(
            f"{rates}; whether the overrides' addresses exist depends on the address count"
        )
    bandwidth = build_bandwidth(project.loaded, count)
    assert bandwidth is not None, "the spec has bandwidth"
    distinct = sorted(set(bandwidth.caps(range(count))))
    shown = ", ".join(format_rate(bps) for bps in distinct)
    return ok(f"{rates}; the {count} addresses get {len(distinct)} distinct caps ({shown})")


def _rates(spec: BandwidthSpec) -> str:
    n = len(spec.overrides)
    text = f"egress caps: {spec.default} default, {n} override{'s' if n != 1 else ''}"
    if spec.machine_total is not None:
        text += f", {spec.machine_total} per machine"
    return text + " (no ingress caps)"
