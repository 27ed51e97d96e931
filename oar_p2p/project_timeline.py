"""The files and values of the timeline's `network:` steps, loaded and checked like the
base network's keys.

Each step that names a new latency matrix, jitter, loss or bandwidth section gets it here,
keyed by the step's position in the spec. Matrix files are read through the caller's
`Reader` (the filesystem, or a git revision) and `matrix_file`'s cache; a file named by
several steps is read once. The rules are the base keys' rules: a step's latency matrix
has the base matrix's dimension (an error at `timeline.N.network.latency_matrix` naming
both) and every value within the resolution's range (an error at the value's line and
column); jitter and loss as `network.jitter` and `network.loss`; every rate of a new
bandwidth section valid (an error at its key). Which addresses a selection picks depends
on the address count: `oar_p2p.checks.timeline` and `bandwidth_at` check that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oar_p2p.desired.network import LinkValues
from oar_p2p.inputs import FILES, MATRIX, Reader
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.matrix_file import cache_dir, load_matrix_cached
from oar_p2p.project_links import (
    KeyPath,
    LinkKey,
    cap_rates,
    check_matrix_range,
    load_link_value,
)
from oar_p2p.provenance import FileDigest
from oar_p2p.spec.links import BandwidthSpec
from oar_p2p.spec.load import LoadedSpec

__all__ = ["TimelineInputs", "load_timeline"]


@dataclass(frozen=True)
class TimelineInputs:
    """What the timeline's `network:` steps set, by step index (in spec order): a step
    absent from a dict does not change that key. `files`: every matrix file as read, by
    (step index, key), for run manifests."""

    latency: dict[int, LatencyMatrix] = field(default_factory=dict)
    jitter: dict[int, LinkValues] = field(default_factory=dict)
    loss: dict[int, LinkValues] = field(default_factory=dict)
    bandwidth: dict[int, BandwidthSpec] = field(default_factory=dict)
    files: dict[tuple[int, str], FileDigest] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.latency or self.jitter or self.loss or self.bandwidth)


def load_timeline(
    loaded: LoadedSpec, latency: LatencyMatrix, reader: Reader = FILES
) -> TimelineInputs:
    """The new values of every `network:` step, their files read through `reader` and
    checked against the base `latency` matrix; located errors (`file:line:col` inside a
    matrix, the spec key otherwise)."""
    out = TimelineInputs()
    seen: dict[Path, tuple[LatencyMatrix, FileDigest]] = {}
    for n, step in enumerate(loaded.spec.timeline):
        net = step.network
        if net is None:
            continue
        at: KeyPath = ("timeline", n, "network")
        if net.latency_matrix is not None:
            matrix, digest = _latency(loaded, at, net.latency_matrix, latency, reader, seen)
            out.latency[n], out.files[(n, "latency_matrix")] = matrix, digest
        links: tuple[tuple[LinkKey, dict[int, LinkValues]], ...] = (
            ("jitter", out.jitter),
            ("loss", out.loss),
        )
        for key, values in links:
            if getattr(net, key) is None:
                continue
            value, file = load_link_value(loaded, key, latency, reader, at=at)
            assert value is not None, "the step sets the key"
            values[n] = value
            if file is not None:
                out.files[(n, key)] = file
        if net.bandwidth is not None:
            cap_rates(loaded, (*at, "bandwidth"))  # each rate, located
            out.bandwidth[n] = net.bandwidth
    return out


def _latency(
    loaded: LoadedSpec,
    at: KeyPath,
    name: str,
    base: LatencyMatrix,
    reader: Reader,
    seen: dict[Path, tuple[LatencyMatrix, FileDigest]],
) -> tuple[LatencyMatrix, FileDigest]:
    """A step's latency matrix: found, parsed (cached), its dimension the base's, every
    value within the resolution's range."""
    where = (*at, "latency_matrix")
    path = (loaded.base_dir / name).resolve()
    if path in seen:
        return seen[path]
    if not reader.is_file(path):
        raise loaded.locator.error(
            where,
            f"latency matrix {name!r} not found (looked at {reader.name(path)}; allowed: a "
            "path relative to the spec file)",
        )
    source = reader.read(path, MATRIX)
    digest = FileDigest.of(str(path), source.data)
    matrix = load_matrix_cached(source.data, source.file, cache_dir(), sha256=digest.sha256)
    if matrix.dimension != base.dimension:
        d, bd = matrix.dimension, base.dimension
        raise loaded.locator.error(
            where,
            f"the latency matrix {name!r} is {d}x{d} but the base latency matrix "
            f"{loaded.spec.network.latency_matrix!r} is {bd}x{bd} (allowed: the same "
            "dimension as the base matrix: a step changes values, not the network's size)",
        )
    check_matrix_range(loaded, "latency", matrix, source)
    seen[path] = (matrix, digest)
    return matrix, digest
