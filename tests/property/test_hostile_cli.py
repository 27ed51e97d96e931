"""Hostile specs through the command line: `validate` and `plan --offline --show-commands`.

Exit 0 with output, or exit 1 with exactly one `error: FILE:LINE:COL: ...` line for the
spec (or the matrix); never a traceback, an `internal error`, or a foreign exception.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from oar_p2p import cli
from tests.property.profile import CI_TOTAL, SHARES, cases, counted
from tests.property.strategies import byte_damage, spec_text

# the CLI is being restructured: `build_app()` (the package) or `app` after `_register()`
APP = cli.build_app() if hasattr(cli, "build_app") else (cli._register(), cli.app)[1]
pytestmark = pytest.mark.timeout(900)
_DIR = Path(tempfile.mkdtemp(prefix="oar-p2p-property-cli-"))
(_DIR / "latency.txt").write_text("0 1 2 3 4\n1 0 1 2 3\n2 1 0 1 2\n3 2 1 0 1\n4 3 2 1 0\n")
SPEC = _DIR / "spec.yaml"
LOCATED = re.compile(rf"error: {re.escape(str(_DIR))}/(spec\.yaml|latency\.txt):\d+:\d+: \S")
COMMANDS = [["validate"], ["plan", "--offline", "--show-commands"], ["plan", "--offline", "--json"]]


@cases(400)
@given(st.data(), st.sampled_from(COMMANDS))
@counted
def test_validate_and_offline_plan(data: st.DataObject, command: list[str]) -> None:
    text = data.draw(spec_text())
    damaged = data.draw(st.booleans())
    SPEC.write_bytes(data.draw(byte_damage(text)) if damaged else text.encode("utf-8", "replace"))
    result = CliRunner().invoke(APP, [*command, str(SPEC)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 0:
        assert result.stdout
        return
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines and LOCATED.match(lines[0]), result.stderr
    assert all(line.startswith("  ") for line in lines[1:]), result.stderr


def test_the_ci_profile_totals_ten_thousand_cases() -> None:
    import tests.property.test_bad_input
    import tests.property.test_hostile_files
    import tests.property.test_hostile_ssh  # noqa: F401 - they declare their shares

    assert sum(SHARES.values()) == CI_TOTAL, SHARES
