"""The links example through the CLI: `validate`, the human plan (summary line, each pair's
tuple) and `plan --offline --json --full` (every pair's full tuple and its source's cap)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.desired.link import parse_rate_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "links" / "spec.yaml"


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), [str(a) for a in args])
    return result.exit_code, result.stdout


def _matrix(name: str) -> list[list[float]]:
    text = (EXAMPLE.parent / name).read_text()
    return [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]


def test_the_example_validates_with_every_check_ok() -> None:
    code, out = _run("validate", EXAMPLE)
    assert code == 0, out
    assert "skipped" not in out and "warning" not in out
    assert out.endswith("6 addresses on 2 machines; 14 ok)\n")
    assert "ok       jitter: matrix 6x6 like the latency matrix" in out
    assert (
        "ok       bandwidth: egress caps: 100mbit default, 2 overrides (no ingress caps); "
        "the 6 addresses get 3 distinct caps (10mbit, 50mbit, 100mbit)" in out
    )


def test_the_human_plan_shows_the_summary_and_each_pairs_tuple() -> None:
    code, out = _run("plan", "--offline", EXAMPLE)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (
        "Links: jitter: matrix jitter.txt; loss: matrix loss.txt; caps: 100mbit default, "
        "2 overrides"
    )
    assert lines[1] == ""
    assert "      + 10.16.0.1 -> 10.16.0.2  20 ms +- 2 ms, loss 0.5%, cap 10mbit" in lines
    assert "      + 10.16.0.3 -> 10.17.0.3  6 ms +- 0.6 ms, cap 100mbit" in lines
    assert "      + 10.17.0.3 -> 10.16.0.1  50 ms +- 5 ms, loss 2%, cap 50mbit" in lines


def test_json_full_lists_every_pairs_full_tuple_and_source_cap() -> None:
    code, out = _run("plan", "--offline", "--json", "--full", EXAMPLE)
    assert code == 0, out
    doc = json.loads(out)
    assert doc["links"] == {
        "summary": "jitter: matrix jitter.txt; loss: matrix loss.txt; caps: 100mbit "
        "default, 2 overrides",
        "warnings": [],
    }
    latency, jitter, loss = _matrix("latency.txt"), _matrix("jitter.txt"), _matrix("loss.txt")
    caps = [parse_rate_text(r) for r in ("10mbit", "10mbit", "100mbit", "100mbit", "100mbit")]
    caps.append(parse_rate_text("50mbit"))
    order = [ip for m in doc["machines"] for ip in m["addresses"]]
    index = {ip: i for i, ip in enumerate(sorted(order, key=lambda a: (a.split(".")[3], a)))}
    seen = 0
    for m in doc["machines"]:
        assert m["entry_fields"] == [
            "src", "dst", "delay_ms", "jitter_ms", "loss_percent", "cap_bps"
        ]  # fmt: skip
        for src, dst, delay, jit, lost, cap in m["entries"]:
            i, j = index[src], index[dst]
            assert (delay, jit, lost, cap) == (latency[i][j], jitter[i][j], loss[i][j], caps[i])
            seen += 1
    assert seen == 36


def test_a_plan_without_the_keys_has_none_of_the_new_json_keys(tmp_path: Path) -> None:
    (tmp_path / "latency.txt").write_text("0 1\n1 0\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: t\ncluster:\n  machines: [gengar-1]\nnetwork:\n"
        "  addresses: '2'\n  latency_matrix: latency.txt\n"
    )
    code, out = _run("plan", "--offline", "--json", "--full", spec)
    assert code == 0, out
    doc = json.loads(out)
    assert "links" not in doc
    assert "entry_fields" not in doc["machines"][0]
    assert doc["machines"][0]["entries"][1] == ["10.16.0.1", "10.16.0.2", 1]
    code, human = _run("plan", "--offline", spec)
    assert not human.startswith("Links:")
