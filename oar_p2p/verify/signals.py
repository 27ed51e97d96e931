"""The signals of an experiment's last run, as figures (pure): from its manifest.

`apply` records, per signal, when its file appeared on each machine (the scheduler's time
after the rename, through the measured clock offset), the spread between the first and
the last machine, and the containers' acknowledgements (`/oar-p2p/ack/<signal>/<name>`).
`verify` reports them next to the RTT figures: how simultaneously the experiment started.

    run = run_signals(json.loads(manifest_text), "20261207-083000")
    run.signals[0].spread_ms         # 3.2
    run.signals[0].appeared_ms       # {"gengar-1": 0.4, "gengar-2": 1.1, "gengar-3": 3.6}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["RunSignals", "SignalSpread", "run_signals"]


@dataclass(frozen=True)
class SignalSpread:
    """One signal of the run: per machine, ms after its schedule that its file appeared."""

    name: str
    appeared_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    acks: int = 0
    ack_ms: tuple[float, float] | None = None  # first and last acknowledgement, after schedule

    @property
    def spread_ms(self) -> float | None:
        times = list(self.appeared_ms.values())
        return round(max(times) - min(times), 3) if times else None


@dataclass(frozen=True)
class RunSignals:
    """The signals of the run `run_id`, which had `containers` containers."""

    run_id: str
    containers: int
    signals: tuple[SignalSpread, ...]


def _time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _after(times: Mapping[str, Any], scheduled: float) -> dict[str, float]:
    out = {}
    for key, text in times.items():
        at = _time(text)
        if at is not None:
            out[str(key)] = round((at - scheduled) * 1e3, 3)
    return out


def _signal(doc: Mapping[str, Any]) -> SignalSpread | None:
    scheduled = _time(doc.get("scheduled_at"))
    name = doc.get("name")
    if scheduled is None or not isinstance(name, str):
        return None
    fired, acks, errors = (doc.get(k) for k in ("fired_at", "acks", "errors"))
    ack_times = sorted(_after(acks, scheduled).values()) if isinstance(acks, dict) else []
    return SignalSpread(
        name=name,
        appeared_ms=_after(fired, scheduled) if isinstance(fired, dict) else {},
        errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
        acks=len(ack_times),
        ack_ms=(ack_times[0], ack_times[-1]) if ack_times else None,
    )


def run_signals(doc: Mapping[str, Any], run_id: str) -> RunSignals | None:
    """The run's signals (None: the manifest has none); entries it cannot read are skipped."""
    entries = doc.get("signals")
    if not isinstance(entries, list):
        return None
    signals = [s for s in (_signal(e) for e in entries if isinstance(e, dict)) if s is not None]
    if not signals:
        return None
    containers = doc.get("containers")
    count = len(containers) if isinstance(containers, list) else 0
    return RunSignals(run_id, count, tuple(signals))
