"""Open a connection to the job's machines from resolved settings (the I/O edge)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from oar_p2p.apply import Cluster, Progress
from oar_p2p.cluster.inventory import MachineOverride, resolve_machines
from oar_p2p.cluster.location import detect_location
from oar_p2p.errors import ClusterError, OarP2PError
from oar_p2p.remote.counting import CountingTransport
from oar_p2p.remote.executors import DockerExecutor, ensure_helper_image, make_executor
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.settings import Settings
from oar_p2p.spec.models import MachineOverrideSpec

__all__ = ["open_cluster"]


def open_cluster(
    settings: Settings,
    *,
    fixed: Sequence[str] | None = None,
    overrides: dict[str, MachineOverrideSpec] | None = None,
    progress: Progress = lambda _m: None,
    privileged: bool = True,
    partial: bool = False,
) -> Cluster:
    """Connect, list the job's machines and prepare the executor.

    With `partial`, machines that cannot be prepared (unreachable, no helper image) are
    recorded in `Cluster.unreachable` instead of failing the whole command, as long as one
    machine can be; the command then works on the others and reports these.
    """
    location = detect_location()
    frontend = settings.frontend.value
    job = settings.job.value
    if not fixed and job is None:
        raise OarP2PError(
            "no job given: pass --job-id, set OAR_JOB_ID (or OAR_P2P_INFER_JOB_ID=true), "
            "or set `cluster.job` in the spec"
        )
    if location.jump and not frontend:
        raise OarP2PError(
            "no frontend given: pass --frontend-hostname, set FRONTEND_HOSTNAME, or set "
            "`cluster.frontend` in the spec"
        )
    ssh_config = settings.ssh_config.value
    ssh = SshTransport(
        frontend=frontend,
        username=settings.username.value,
        ssh_config=Path(ssh_config).expanduser() if ssh_config else None,
        host_key_policy=settings.host_key_policy.value,
        jump=location.jump,
    )
    transport = CountingTransport(ssh)
    unreachable: dict[str, str] = {}
    try:
        progress("listing the job's machines")
        machines = resolve_machines(
            job_id=job if isinstance(job, int) else None,
            infer=job == "infer",
            fixed=list(fixed) if fixed else None,
            transport=transport,
            frontend=frontend,
            username=settings.username.value,
            overrides={k: MachineOverride(**v.model_dump()) for k, v in (overrides or {}).items()},
            location=location,
            concurrency=settings.concurrency_limit.value,
        )
        executor = make_executor(settings.executor.value, settings.helper_image.value)
        if privileged and isinstance(executor, DockerExecutor):
            image = settings.helper_image.value
            progress("checking the helper image on every machine")
            results = for_each_machine(
                [m.hostname for m in machines],
                lambda h: ensure_helper_image(transport, h, image),
                settings.concurrency_limit.value,
            )
            failed = {h: str(r) for h, r in results.items() if isinstance(r, BaseException)}
            ready = [r for r in results.values() if not isinstance(r, BaseException)]
            if failed and (not partial or not ready):
                raise ClusterError(
                    "helper image:\n" + "\n".join(f"{h}: {e}" for h, e in failed.items())
                )
            unreachable.update(failed)
            executor = DockerExecutor(ready[0])
    except BaseException:
        transport.close()
        raise
    return Cluster(
        transport=transport,
        executor=executor,
        machines=machines,
        limit=settings.concurrency_limit.value,
        progress=progress,
        unreachable=unreachable,
    )
