"""The link inputs of a spec beyond latency: jitter and loss (a number or a matrix file)
and the per-address caps.

Matrix files load like the latency matrix: through the caller's `Reader` (the filesystem,
or a git revision for `plan --offline --against REF`) and `matrix_file`'s cache, with the
same rules (square, finite, non-negative; errors at the file's line and column). On top of
them: the same dimension as the latency matrix (an error at the spec key naming both),
every jitter within the resolution's range and every loss at most 100 %, checked over the
whole file (an error at the value's line and column). A number for every pair is checked
against the same range, and the caps' rates are parsed, with errors at their keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth, format_rate, parse_rate_text
from oar_p2p.desired.network import LinkValues
from oar_p2p.errors import MatrixError
from oar_p2p.inputs import FILES, JITTER_MATRIX, LOSS_MATRIX, Input, Reader
from oar_p2p.matrix import LatencyMatrix, first_above, value_position
from oar_p2p.matrix_file import cache_dir, load_matrix_cached
from oar_p2p.provenance import FileDigest
from oar_p2p.spec.links import BandwidthSpec
from oar_p2p.spec.load import LoadedSpec
from oar_p2p.spec.selection import select_indices

__all__ = [
    "LinkInputs",
    "LinkKey",
    "KeyPath",
    "bandwidth_at",
    "build_bandwidth",
    "cap_rates",
    "check_matrix_range",
    "describe_links",
    "load_link_value",
    "load_links",
    "spec_at",
]

LinkKey = Literal["jitter", "loss"]
KeyPath = tuple[str | int, ...]  # a key of the spec: ("timeline", 3, "network", "loss")
NETWORK: KeyPath = ("network",)


@dataclass(frozen=True)
class LinkInputs:
    """Jitter (ms) and loss (percent): None when the spec does not set them, a number for
    every pair, or a matrix; `*_file`: a matrix file as read (for run manifests)."""

    jitter: LinkValues | None = None
    loss: LinkValues | None = None
    jitter_file: FileDigest | None = None
    loss_file: FileDigest | None = None


def load_links(loaded: LoadedSpec, latency: LatencyMatrix, reader: Reader = FILES) -> LinkInputs:
    """The spec's jitter and loss, their matrix files read (through `reader`) and checked,
    and its caps' rates checked."""
    cap_rates(loaded)
    jitter, jitter_file = load_link_value(loaded, "jitter", latency, reader)
    loss, loss_file = load_link_value(loaded, "loss", latency, reader)
    return LinkInputs(jitter, loss, jitter_file, loss_file)


def load_link_value(
    loaded: LoadedSpec,
    key: LinkKey,
    latency: LatencyMatrix,
    reader: Reader = FILES,
    *,
    at: KeyPath = NETWORK,
) -> tuple[LinkValues | None, FileDigest | None]:
    """`key` of the network section at `at` (`network`, or a step's `timeline.N.network`):
    the number, or the matrix it names; errors at `at.key` or in the matrix file."""
    value = getattr(spec_at(loaded, at), key)
    where, dotted = (*at, key), ".".join(str(k) for k in (*at, key))
    if not isinstance(value, str):
        if value is not None and key == "jitter":
            limit, rule = _range(loaded, key)
            if value > limit:
                raise loaded.locator.error(
                    where, f"{dotted}: {value:g} ms is too large (allowed: {rule})"
                )
        return value, None
    path = (loaded.base_dir / value).resolve()
    if not reader.is_file(path):
        raise loaded.locator.error(
            where,
            f"{key} matrix {value!r} not found (looked at {reader.name(path)}; allowed: a "
            "path relative to the spec file, or one number for every pair)",
        )
    fmt = JITTER_MATRIX if key == "jitter" else LOSS_MATRIX
    source = reader.read(path, fmt)
    digest = FileDigest.of(str(path), source.data)
    matrix = load_matrix_cached(
        source.data, source.file, cache_dir(), sha256=digest.sha256, fmt=fmt
    )
    if matrix.dimension != latency.dimension:
        d, ld = matrix.dimension, latency.dimension
        raise loaded.locator.error(
            where,
            f"the {key} matrix {value!r} is {d}x{d} but the latency matrix "
            f"{loaded.spec.network.latency_matrix!r} is {ld}x{ld} (allowed: the same "
            "dimension as the latency matrix)",
        )
    check_matrix_range(loaded, key, matrix, source)
    return matrix, digest


def spec_at(loaded: LoadedSpec, at: KeyPath) -> Any:
    """The part of the spec model at `at` (attributes and list positions)."""
    node: Any = loaded.spec
    for k in at:
        node = node[k] if isinstance(k, int) else getattr(node, k)
    return node


def _range(loaded: LoadedSpec, key: str) -> tuple[float, str]:
    """The largest value of `key` (latency, jitter, loss) and the rule that says it."""
    if key == "loss":
        return 100.0, "a percentage from 0 to 100"
    q = Quantizer.from_ms(loaded.spec.network.latency_resolution_ms)
    return q.max_ms, (
        f"at most {q.max_ms} ms at a {q.resolution_us / 1000} ms resolution; raise "
        "`latency_resolution_ms` for larger values"
    )


def check_matrix_range(loaded: LoadedSpec, key: str, matrix: LatencyMatrix, source: Input) -> None:
    """Every value of a `key` matrix (latency, jitter, loss) within its range, over the
    whole file; else an error at the value's line and column."""
    limit, rule = _range(loaded, key)
    found = first_above(matrix, limit)
    if found is None:
        return
    i, j = found
    line, col = value_position(source.text(), i, j)
    unit = "%" if key == "loss" else " ms"
    raise MatrixError(
        f"{key} {matrix[i, j]:g}{unit} (row {i}, column {j}) is too large (allowed: {rule})",
        file=matrix.file,
        line=line,
        col=col,
    )


def cap_rates(
    loaded: LoadedSpec, at: KeyPath = (*NETWORK, "bandwidth")
) -> tuple[int, list[int], int | None]:
    """The rates in bit/s of the bandwidth section at `at` (`network.bandwidth`, or a
    step's `timeline.N.network.bandwidth`): the default, each override's, the machine
    total; a rate tc does not write (or out of range) is an error at its key."""
    spec: BandwidthSpec | None = spec_at(loaded, at)
    if spec is None:
        return 0, [], None
    default = _bps(loaded, (*at, "default"), spec.default)
    rates = [
        _bps(loaded, (*at, "overrides", k, "rate"), o.rate) for k, o in enumerate(spec.overrides)
    ]
    total = spec.machine_total
    return default, rates, None if total is None else _bps(loaded, (*at, "machine_total"), total)


def _bps(loaded: LoadedSpec, key: KeyPath, text: str) -> int:
    try:
        return parse_rate_text(text)
    except ValueError as exc:
        where = ".".join(str(k) for k in key)
        raise loaded.locator.error(key, f"{where}: {exc}") from None


def build_bandwidth(loaded: LoadedSpec, count: int) -> Bandwidth | None:
    """The caps of `network.bandwidth` over `count` addresses (`bandwidth_at`)."""
    return bandwidth_at(loaded, (*NETWORK, "bandwidth"), count)


def bandwidth_at(loaded: LoadedSpec, key_path: KeyPath, count: int) -> Bandwidth | None:
    """The caps of the bandwidth section at `key_path` (`("network", "bandwidth")` or
    `("timeline", N, "network", "bandwidth")`) over `count` addresses; a bad rate is an
    error at its key, an override selecting an address beyond them at its `addresses`."""
    spec: BandwidthSpec | None = spec_at(loaded, key_path)
    if spec is None:
        return None
    default, rates, total = cap_rates(loaded, key_path)
    overrides = []
    for k, (o, bps) in enumerate(zip(spec.overrides, rates, strict=True)):
        try:
            indices = select_indices(o.addresses, count)
        except ValueError as exc:
            where = (*key_path, "overrides", k, "addresses")
            raise loaded.locator.error(where, str(exc)) from None
        overrides.append((frozenset(indices), bps))
    return Bandwidth(default_bps=default, overrides=tuple(overrides), machine_total_bps=total)


def describe_links(
    jitter: float | str | None, loss: float | str | None, bandwidth: BandwidthSpec | None
) -> str:
    """One line for plans: `jitter: matrix jitter.txt; loss: 1%; caps: 100mbit default, 2
    overrides`; empty when the spec has none of the keys."""
    parts = []
    if jitter is not None:
        parts.append(f"jitter: {_value(jitter, ' ms')}")
    if loss is not None:
        parts.append(f"loss: {_value(loss, '%')}")
    if bandwidth is not None:
        caps = f"caps: {_canonical(bandwidth.default)} default"
        n = len(bandwidth.overrides)
        if n:
            caps += f", {n} override{'s' if n != 1 else ''}"
        if bandwidth.machine_total is not None:
            caps += f", {_canonical(bandwidth.machine_total)} per machine"
        parts.append(caps)
    return "; ".join(parts)


def _value(value: float | str, unit: str) -> str:
    if isinstance(value, str):
        return f"matrix {value}"
    return f"{value:g}{unit}"


def _canonical(rate: str) -> str:
    return format_rate(parse_rate_text(rate))
