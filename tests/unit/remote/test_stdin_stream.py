"""Streamed stdin: sent as produced, compressed like bytes, the same bytes arrive."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from oar_p2p.apply import apply_plan, plan_network
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import build_network
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.remote.counting import CountingTransport
from oar_p2p.remote.executors import SudoExecutor
from oar_p2p.remote.ssh_stdin import COMPRESS_ABOVE, compress_stdin, feed, stdin_payload
from oar_p2p.render.commands import render_write_script
from oar_p2p.session import Session
from oar_p2p.spec.values import AddressPolicy
from tests.fakes import Call, FakeTransport


def test_few_chunks_are_sent_as_their_bytes_would_be() -> None:
    chunks = [b"echo a\n", b"echo b\n"]
    assert stdin_payload("bash", iter(chunks)) == compress_stdin("bash", b"".join(chunks))
    assert stdin_payload("bash", []) == ("bash", b"")


def test_many_chunks_are_compressed_as_they_come() -> None:
    chunks = [f"line {i}\n".encode() * 500 for i in range(100)]  # about 4 MB
    pulled: list[int] = []

    def produce() -> Iterator[bytes]:
        for i, chunk in enumerate(chunks):
            pulled.append(i)
            yield chunk

    line, payload = stdin_payload("wc -c", produce())
    assert line == "gzip -dc | (\nwc -c\n)" and not isinstance(payload, bytes)
    assert len(pulled) < len(chunks)  # only what exceeds the threshold was read so far
    assert gzip.decompress(b"".join(payload)) == b"".join(chunks)
    assert sum(map(len, chunks[:2])) <= COMPRESS_ABOVE  # the test crosses the threshold


class _Channel:
    def __init__(self) -> None:
        self.sent = bytearray()
        self.closed = self.shut = False

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def shutdown_write(self) -> None:
        self.shut = True

    def close(self) -> None:
        self.closed = True


def test_a_producer_that_raises_cuts_the_input_and_hands_the_error_over() -> None:
    def produce() -> Iterator[bytes]:
        yield b"{\necho partial\n"
        raise ValueError("invalid interface name 'x y'")

    chan, failed = _Channel(), []
    feed(chan, produce(), failed)  # type: ignore[arg-type]
    assert chan.closed and not chan.shut  # no end of input: the cut script runs nothing
    assert [str(e) for e in failed] == ["invalid interface name 'x y'"]


def test_the_write_scripts_arrive_byte_for_byte_and_are_counted() -> None:
    machines = machines_from_names(["gengar-1", "gengar-2"], {})
    text = "\n".join(" ".join("0" if i == j else str(i + j) for j in range(8)) for i in range(8))
    network = build_network(
        AddressPolicy.parse("8"), machines, parse_matrix(text), wrap=False, quantizer=Quantizer(100)
    )
    fake = FakeTransport(handler=lambda call: "")
    counting = CountingTransport(fake)
    session = Session(transport=counting, executor=SudoExecutor(), machines=list(machines))
    plan = plan_network(session, network)
    result = apply_plan(session, plan, network)
    writes = [c for c in fake.calls if b"nft -f" in c.stdin]
    assert len(writes) == 2 and not result.failed
    for call, mp in zip(sorted(writes, key=lambda c: c.host), plan.machines, strict=True):
        command, script = SudoExecutor().wrap(render_write_script(mp, _record(call)))
        assert call.command == command
        assert call.stdin == script  # the streamed bytes are the rendered script's
        sent = next(m.bytes_sent for m in result.machines if m.hostname == call.host)
        assert sent == len(script) == call.sent
    assert counting.hosts["gengar-1"].bytes_sent >= len(writes[0].stdin)


def _record(call: Call) -> tuple[str, str]:
    """The record the script carried (its time of apply differs from a second render)."""
    text = call.stdin.decode()
    rows = text.split("<<'OARP2P_ROWS'\n", 1)[1].split("\nOARP2P_ROWS", 1)[0]
    record = text.split("<<'OARP2P_REC'\n", 1)[1].split("\nOARP2P_REC", 1)[0]
    return record, rows


@pytest.mark.parametrize("keep", [True, False])
def test_the_fake_consumes_chunks_kept_or_counted(keep: bool) -> None:
    fake = FakeTransport(handler=lambda call: "", keep_stdin=keep)
    fake.run("h", "cat", stdin=iter([b"ab", b"cde"]))
    (call,) = fake.calls
    assert call.sent == 5 and call.stdin == (b"abcde" if keep else b"")
