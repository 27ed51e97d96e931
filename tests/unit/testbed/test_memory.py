from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import testbed as cli
from oar_p2p.errors import TestbedError
from oar_p2p.testbed import bed
from oar_p2p.testbed.bed import TestbedState
from oar_p2p.testbed.host import uml_argv
from oar_p2p.testbed.layout import Layout
from oar_p2p.testbed.memory import DEFAULT_MEM_MB, host_mem_mb, parse_mem_mb


@pytest.mark.parametrize(
    ("text", "mb"),
    [("2560", 2560), ("2560M", 2560), ("2560mb", 2560), ("8G", 8192), ("8g", 8192),
     ("12GiB", 12288), (" 1024 ", 1024), ("64G", 65536)],
)  # fmt: skip
def test_sizes_in_mb_or_with_a_unit(text: str, mb: int) -> None:
    assert parse_mem_mb(text) == mb


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "not a size"), ("8T", "not a size"), ("-1G", "not a size"), ("1.5G", "not a size"),
     ("eight", "not a size"), ("512", "between 1024 MB and 64 GB"), ("65G", "is 66560 MB")],
)  # fmt: skip
def test_bad_sizes_say_what_is_accepted(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_mem_mb(text)


def test_the_guest_boots_with_the_given_memory() -> None:
    argv = uml_argv(Path("/k/linux"), Layout.named("tb", 3), Path("/run/tb"), mem_mb=8192)
    assert [a for a in argv if a.startswith("mem=")] == ["mem=8192M"]


def test_host_memory_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683784 kB\nMemFree:        23592436 kB\n")
    assert host_mem_mb(meminfo) == 24105
    assert host_mem_mb(tmp_path / "missing") is None


def test_a_state_written_before_mem_existed_reads_as_the_default() -> None:
    info = {
        "state_dir": "/run/tb", "client_netns": "tb-client", "ssh_config": "/run/tb/ssh",
        "frontend_alias": "testbed-frontend", "frontend_ip": "172.29.0.2", "job_id": 4242,
        "username": "alice", "machines": ["gengar-1"], "machine_ips": {"gengar-1": "x"},
        "known_hosts": "/k", "identity_file": "/i", "helper_image": "h", "demo_image": "d",
        "kernel": "/k/linux", "boot_seconds": 1.0,
    }  # fmt: skip
    state = TestbedState.model_validate({"info": info, "name": "tb", "uml_pid": 1, "machines": 1})
    assert state.info.mem_mb == DEFAULT_MEM_MB == 2560
    again = TestbedState.model_validate_json(
        state.model_copy(
            update={"info": state.info.model_copy(update={"mem_mb": 8192})}
        ).model_dump_json()
    )
    assert again.info.mem_mb == 8192


@pytest.mark.parametrize("mem", ["8T", "100", "lots"])
def test_up_refuses_a_bad_size_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, mem: str
) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    booted: list[object] = []
    monkeypatch.setattr(cli.Testbed, "up", lambda *a, **k: booted.append(a))
    result = CliRunner().invoke(cli.app, ["up", "--mem", mem, "--state-dir", "/nonexistent"])
    assert result.exit_code == 1
    assert "error: --mem:" in result.output
    assert "Traceback" not in result.output
    assert booted == []


def test_up_passes_the_size_and_name_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    calls: list[tuple[str, int, int]] = []

    def up(self: cli.Testbed, machines: int, mem_mb: int) -> None:
        calls.append((self.name, machines, mem_mb))
        raise cli.TestbedError("stop here")

    monkeypatch.setattr(cli.Testbed, "up", up)
    args = ["up", "--mem", "10G", "--name", "scale", "-n", "3", "--state-dir", "/nonexistent"]
    result = CliRunner().invoke(cli.app, args)
    assert calls == [("scale", 3, 10240)]
    assert "error: stop here" in result.output


def test_up_refuses_more_than_the_host_has(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bed.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bed, "host_mem_mb", lambda: 4096)
    monkeypatch.setattr(bed, "ensure_kernel", lambda: pytest.fail("must not boot"))
    with pytest.raises(TestbedError, match=r"8192 MB: give between 1024 MB and 4096 MB"):
        bed.Testbed(tmp_path, name="tb").up(3, 8192)


def test_up_refuses_a_name_a_running_testbed_has(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bed.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        bed.host, "running_uml", lambda umid: 4321 if umid == "tb-testbed" else None
    )
    monkeypatch.setattr(bed, "ensure_kernel", lambda: pytest.fail("must not boot"))
    with pytest.raises(TestbedError, match=r"named 'tb' is already running \(UML pid 4321"):
        bed.Testbed(tmp_path, name="tb").up(3, 2048)
