from __future__ import annotations

import subprocess
from pathlib import Path

from oar_p2p.testbed.kernel import cache_key


def test_cache_key_matches_the_build_script(tmp_path: Path) -> None:
    options = tmp_path / "options"
    options.write_bytes(b"CONFIG_HOSTFS=y\n")
    sized = tmp_path / "tarball"
    sized.write_bytes(b"x" * 1234)
    # The same pipeline as scripts/build-uml-kernel.sh.
    shell = '( sha256sum "$1" | cut -c1-16; stat -c %s "$2" ) | sha256sum | cut -c1-16'
    expected = subprocess.run(
        ["bash", "-c", shell, "key", str(options), str(sized)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert cache_key(options.read_bytes(), 1234) == expected


def test_cache_key_changes_with_the_options() -> None:
    assert cache_key(b"A=y\n", 10) != cache_key(b"A=n\n", 10)
    assert cache_key(b"A=y\n", 10) != cache_key(b"A=y\n", 11)
