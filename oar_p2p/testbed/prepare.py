"""Write a testbed's state directory before boot: keys, guest files, images, ssh files.

<state>/id_ed25519[.pub]   the cluster user's key (root and alice accept it)
<state>/ssh_config         `Host <frontend alias>` + `Host *` (identity, known_hosts)
<state>/known_hosts        the real host keys of the frontend and every machine
<state>/guest/             mounted at /testbed in the guest: init scripts, testbed.env,
                           etc/hosts, bin/oarstat, oar/ job files, ssh/ host keys and
                           sshd_config, images/ tarballs + index, ready/ and failed/
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from oar_p2p.testbed import images
from oar_p2p.testbed.host import run
from oar_p2p.testbed.layout import (
    Layout,
    render_env,
    render_hosts,
    render_job_json,
    render_known_hosts,
    render_ssh_config,
    render_sshd_config,
    render_user_jobs_json,
)

__all__ = ["ClientFiles", "prepare_state_dir"]

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ClientFiles:
    """Paths the client side uses to reach the testbed."""

    identity_file: Path
    ssh_config: Path
    known_hosts: Path


def _keygen(path: Path, comment: str) -> str:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path.with_name(path.name + ".pub").read_text()


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _write_guest(layout: Layout, guest: Path, user_key: str) -> dict[str, str]:
    shutil.copyfile(_DATA / "guest-init.sh", guest / "init.sh")
    (guest / "init.sh").chmod(0o755)
    shutil.copyfile(_DATA / "node-init.sh", guest / "node-init.sh")
    _write(guest / "bin" / "oarstat", (_DATA / "oarstat").read_text(), 0o755)
    _write(guest / "testbed.env", render_env(layout))
    _write(guest / "etc" / "hosts", render_hosts(layout))
    started = int(time.time())
    _write(guest / "oar" / "jobs" / f"{layout.job_id}.json", render_job_json(layout, started))
    user_jobs = render_user_jobs_json(layout, started)
    _write(guest / "oar" / "users" / f"{layout.username}.json", user_jobs)
    _write(guest / "ssh" / "sshd_config", render_sshd_config())
    _write(guest / "ssh" / "authorized_keys", user_key)
    host_keys = {
        node: _keygen(guest / "ssh" / f"host_{node}_ed25519", f"root@{node}")
        for node in layout.nodes
    }
    tags = images.build_images(guest / "images")
    _write(guest / "images" / "index", "".join(f"{tar} {tag}\n" for tar, tag in tags.items()))
    (guest / "ready").mkdir()
    (guest / "failed").mkdir()
    return host_keys


def prepare_state_dir(layout: Layout, state_dir: Path) -> ClientFiles:
    """Create `state_dir` from scratch (it must not exist) with everything boot needs."""
    state_dir.mkdir(parents=True, mode=0o700)
    guest = state_dir / "guest"
    (guest / "ssh").mkdir(parents=True)
    (state_dir / "uml").mkdir()
    identity = state_dir / "id_ed25519"
    user_key = _keygen(identity, f"{layout.username}@oar-p2p-testbed")
    host_keys = _write_guest(layout, guest, user_key)
    files = ClientFiles(identity, state_dir / "ssh_config", state_dir / "known_hosts")
    _write(files.known_hosts, render_known_hosts(layout, host_keys))
    _write(files.ssh_config, render_ssh_config(layout, identity, files.known_hosts))
    return files
