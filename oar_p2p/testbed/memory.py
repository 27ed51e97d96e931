"""The guest's memory: `testbed up --mem SIZE` parsed and checked (pure but `host_mem_mb`).

The UML guest holds every node in one kernel, so its memory is shared by the frontend and
all machines: their dockerd, sshd and, at scale, `nft -f` loading a big map (about 1.3 GB
per million pair elements, the kernel's copy of the map besides).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DEFAULT_MEM_MB", "MAX_MEM_MB", "MIN_MEM_MB", "host_mem_mb", "parse_mem_mb"]

DEFAULT_MEM_MB = 2560
MIN_MEM_MB = 1024
MAX_MEM_MB = 64 * 1024
_SIZE = re.compile(r"(\d+)\s*([mg])?(?:i?b)?", re.IGNORECASE)


def parse_mem_mb(text: str) -> int:
    """MB from `2560`, `2560M`, `8G` (also `8GB`, `8GiB`; case-insensitive); a ValueError
    naming the accepted forms and range otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"--mem: {text!r} is not a size; give MB (2560) or e.g. 2560M, 8G")
    number, unit = int(match.group(1)), (match.group(2) or "m").lower()
    mb = number * 1024 if unit == "g" else number
    if not MIN_MEM_MB <= mb <= MAX_MEM_MB:
        raise ValueError(
            f"--mem: {text} is {mb} MB; the guest needs between {MIN_MEM_MB} MB and "
            f"{MAX_MEM_MB // 1024} GB"
        )
    return mb


def host_mem_mb(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The host's total memory in MB (None when /proc/meminfo cannot be read)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
