"""Why a run cannot start on a machine: pure, from the preflight script's report.

Every problem of every machine is gathered before anything changes (`run_experiment`
raises them together): a signal directory that is not writable, an image that is absent
(pull policy `never`) or failed to pull, a foreign container holding one of our names.
"""

from __future__ import annotations

from collections.abc import Sequence

from oar_p2p.desired.containers import LABEL_EXPERIMENT, Experiment
from oar_p2p.experiment.scripts import SIGNAL_DIR, ImageReport
from oar_p2p.state import ContainerState

__all__ = ["preflight_problems"]


def preflight_problems(
    host: str,
    experiment: Experiment,
    report: ImageReport,
    present: Sequence[ContainerState],
    stderr: str = "",
) -> list[str]:
    """Why a run cannot start on `host` (empty: it can). Pure.

    ``ImageReport(True, {"img": "absent"})`` -> ``["gengar-1: image img is not on the
    machine and its pull policy is `never` (...)"]``.
    """
    out = []
    if not report.signal_dir_ok:
        out.append(
            f"{host}: {SIGNAL_DIR} is not a writable directory (docker may have created it "
            "as root); remove it or make it writable"
        )
    detail = "; ".join(stderr.strip().splitlines()[-3:])
    for image, status in report.images.items():
        if status == "absent":
            out.append(
                f"{host}: image {image} is not on the machine and its pull policy is `never` "
                "(allowed: load the image on the machine, or use pull: missing|always)"
            )
        elif status == "pull-failed":
            out.append(f"{host}: docker pull {image} failed" + (f": {detail}" if detail else ""))
    names = {c.name for c in experiment.on(host)}
    for c in present:
        owner = c.labels.get(LABEL_EXPERIMENT)
        if c.name in names and owner != experiment.name:
            by = f"experiment {owner}" if owner else "no oar-p2p experiment"
            out.append(
                f"{host}: a container named {c.name} exists and belongs to {by}; "
                "remove or rename it (oar-p2p never removes containers it does not own)"
            )
    return out
