from __future__ import annotations

import gzip

import pytest

from oar_p2p.errors import CommandTimeoutError, ConnectError, RemoteCommandError
from oar_p2p.remote.ssh import COMPRESS_ABOVE, compress_stdin
from oar_p2p.remote.transport import (
    CommandResult,
    LocalTransport,
    check_result,
    summarize_command,
)
from tests.fakes import FakeTransport, Reply


def test_local_transport_runs_bash_with_stdin() -> None:
    result = LocalTransport().run("localhost", "read x; echo got $x; echo e >&2", stdin=b"hi\n")
    assert (result.stdout, result.stderr, result.status) == (b"got hi\n", b"e\n", 0)
    assert result.ok and result.text == "got hi\n"


def test_local_transport_check_and_timeout() -> None:
    t = LocalTransport()
    assert t.run("h", "exit 4", check=False).status == 4
    with pytest.raises(RemoteCommandError, match=r"^h: `exit 4` exited with status 4$"):
        t.run("h", "exit 4")
    with pytest.raises(CommandTimeoutError) as err:
        t.run("h", "sleep 5", timeout=0.2)
    assert str(err.value) == "h: `sleep 5` did not finish within 0.2 s"
    assert err.value.status == -1


def test_summarize_command() -> None:
    assert summarize_command("echo hi") == "echo hi"
    assert summarize_command("set -e\nip -b -") == "set -e..."
    assert summarize_command("x" * 200) == "x" * 117 + "..."


def test_check_result_keeps_the_stderr_tail() -> None:
    stderr = "\n".join(f"line {i}" for i in range(20)).encode()
    result = CommandResult("m", "bash -s", b"", stderr, 1, 0.1)
    with pytest.raises(RemoteCommandError) as err:
        check_result(result)
    assert str(err.value).endswith(
        "line 10\nline 11\nline 12\nline 13\nline 14\nline 15\nline 16\nline 17\nline 18\nline 19"
    )
    assert err.value.stderr == stderr.decode()


def test_small_stdin_is_sent_as_is() -> None:
    assert compress_stdin("cat", b"x" * COMPRESS_ABOVE) == ("cat", b"x" * COMPRESS_ABOVE)


def test_large_stdin_is_gzipped_and_decompressed_in_front_of_the_command() -> None:
    data = b"add element 10.1.0.1 . 10.2.0.1 : 3\n" * 10000
    line, payload = compress_stdin("nft -f - # comment", data)
    assert line == "gzip -dc | (\nnft -f - # comment\n)"
    assert gzip.decompress(payload) == data
    assert len(payload) < len(data) / 20
    assert compress_stdin("c", data)[1] == payload  # deterministic (mtime=0)


def test_compressed_line_runs_in_a_shell() -> None:
    data = b"0123456789\n" * 10000
    line, payload = compress_stdin("wc -c # trailing comment", data)
    assert LocalTransport().run("h", line, stdin=payload).stdout.strip() == b"110000"


def test_fake_transport_lookup_order_records_and_raises() -> None:
    fake = FakeTransport({"cmd": "any-host", ("h2", "cmd"): Reply("h2-only")})
    fake.on("other", handler=lambda call: Reply(call.host) if call.command == "who" else None)
    fake.on("boom", ConnectError("down"))
    assert fake.run("h1", "cmd").stdout == b"any-host"
    assert fake.run("h2", "cmd").stdout == b"h2-only"
    assert fake.run("h3", "who", stdin=b"s", timeout=3).stdout == b"h3"
    with pytest.raises(ConnectError):
        fake.run("h1", "boom")
    with pytest.raises(AssertionError, match="no reply for h1: 'nothing'"):
        fake.run("h1", "nothing")
    assert fake.commands("h1") == ["cmd", "boom", "nothing"]
    assert fake.hosts() == ["h1", "h2", "h3"]
    assert fake.calls[2].stdin == b"s" and fake.calls[2].timeout == 3


def test_fake_transport_check_raises_like_the_real_one() -> None:
    fake = FakeTransport({"x": Reply(stderr="bad", status=3)})
    assert fake.run("h", "x", check=False).status == 3
    with pytest.raises(RemoteCommandError, match=r"^h: `x` exited with status 3: bad$"):
        fake.run("h", "x")
    fake.close()
    assert fake.closed
