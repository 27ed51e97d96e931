from __future__ import annotations

import subprocess
from pathlib import Path

from oar_p2p.testbed.kernel import KERNEL_CONFIG, cache_key, kernel_inputs


def test_cache_key_matches_the_build_script(tmp_path: Path) -> None:
    options = tmp_path / "options"
    options.write_bytes(b"CONFIG_HOSTFS=y\n")
    patches = [tmp_path / "uml-b.patch", tmp_path / "uml-a.patch"]
    for i, p in enumerate(patches):
        p.write_bytes(f"patch {i}\n".encode())
    sized = tmp_path / "tarball"
    sized.write_bytes(b"x" * 1234)
    # The same pipeline as scripts/build-uml-kernel.sh (patches in C-locale name order).
    shell = (
        'export LC_ALL=C; o="$1"; t="$2"; shift 2; ps=("$@"/uml-*.patch); '
        '( cat "$o" "${ps[@]}" | sha256sum | cut -c1-16; stat -c %s "$t" ) '
        "| sha256sum | cut -c1-16"
    )
    expected = subprocess.run(
        ["bash", "-c", shell, "key", str(options), str(sized), str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    inputs = options.read_bytes() + b"patch 1\n" + b"patch 0\n"  # uml-a, then uml-b
    assert cache_key(inputs, 1234) == expected


def test_the_script_and_kernel_py_hash_the_same_inputs() -> None:
    script = Path("scripts/build-uml-kernel.sh").read_text()
    assert 'cat "$options" "${patches[@]}" | sha256sum' in script
    assert 'patches=("$here"/oar_p2p/testbed/data/uml-*.patch)' in script
    assert KERNEL_CONFIG.parent.name == "data"
    assert kernel_inputs().startswith(KERNEL_CONFIG.read_bytes())
    assert b"ptrace set fp regs failed" in kernel_inputs()  # the host-xstate patch


def test_cache_key_changes_with_the_options() -> None:
    assert cache_key(b"A=y\n", 10) != cache_key(b"A=n\n", 10)
    assert cache_key(b"A=y\n", 10) != cache_key(b"A=y\n", 11)
