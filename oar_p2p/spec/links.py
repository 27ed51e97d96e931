"""The link keys of `network` beyond latency: `jitter`, `loss` and `bandwidth`.

    network:
      jitter: jitter.txt            # a matrix file (ms, per direction), or one number (ms)
      loss: 0.5                     # a matrix file (percent), or one number (percent)
      bandwidth:
        default: 100mbit            # every address's egress cap
        overrides:                  # the last matching override wins
          - {addresses: "0-9,20", rate: 10mbit}
        machine_total: 1gbit        # optional: all addresses of one machine together

Here: the shapes, and a number is finite and non-negative (loss at most 100). What needs
`oar_p2p.desired` (the spec does not import it) is checked by `oar_p2p.project_links`,
located at the same keys: a jitter within the resolution's range, the rates (kbit, mbit,
gbit; 8kbit to 10gbit), and the matrix files (errors at the file's line and column).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from oar_p2p.spec.selection import parse_ranges

__all__ = [
    "JITTER_RULE",
    "LOSS_RULE",
    "RATE_RULE",
    "BandwidthSpec",
    "CapOverride",
    "LinkValue",
    "check_jitter_number",
    "check_loss_number",
]

RATE_RULE = "a rate with kbit, mbit or gbit (as tc writes them), from 8kbit to 10gbit"
JITTER_RULE = (
    "a matrix file (ms per direction, the latency matrix's shape) or one number of ms for "
    "every pair; drawn from a normal distribution (standard deviation = jitter)"
)
LOSS_RULE = "a matrix file (percent per direction) or one percentage for every pair, 0 to 100"
MAX_INDEX = 999_999_999

LinkValue = Annotated[
    StrictInt | StrictFloat | StrictStr,
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "minLength": 1}],
            "description": "a matrix file path (relative to the spec) or one number",
        }
    ),
]
Rate = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[kKmMgG][bB][iI][tT]\\s*$",
            "description": RATE_RULE,
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rate_text(v: object) -> object:
    if v is not None and not isinstance(v, str):  # `100` (no unit): say what is allowed
        raise ValueError(f"{v!r} is not a rate (allowed: {RATE_RULE}, e.g. 100mbit)")
    return v


class CapOverride(_Model):
    """The cap of some addresses (address indices, as container groups select them)."""

    addresses: Literal["all"] | list[int] | str = Field(
        description="`all`, a list of address indices, or ranges like `0-9,20`"
    )
    rate: Rate = Field(description=RATE_RULE)

    @field_validator("addresses")
    @classmethod
    def _selection(cls, v: str | list[int]) -> str | list[int]:
        if isinstance(v, list):
            if any(not 0 <= i <= MAX_INDEX for i in v):
                raise ValueError(f"address indices must be from 0 to {MAX_INDEX}")
            return v
        if v != "all":
            parse_ranges(v)
        return v

    @field_validator("rate", mode="before")
    @classmethod
    def _rate_type(cls, v: object) -> object:
        return _rate_text(v)


class BandwidthSpec(_Model):
    """Egress caps per address (ingress caps are not built: docs/link-shaping.md)."""

    default: Rate = Field(description=f"every address's egress cap: {RATE_RULE}")
    overrides: list[CapOverride] = Field(
        default_factory=list, description="caps of address selections; the last match wins"
    )
    machine_total: Rate | None = Field(
        default=None, description=f"cap of all addresses of one machine together: {RATE_RULE}"
    )

    @field_validator("default", "machine_total", mode="before")
    @classmethod
    def _rate_types(cls, v: object) -> object:
        return _rate_text(v)


def check_jitter_number(value: float) -> float:
    """A uniform jitter: finite, non-negative (its range: `oar_p2p.project_links`)."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"jitter {value} is not a finite, non-negative number of ms")
    return float(value)


def check_loss_number(value: float) -> float:
    """A uniform loss: a finite percentage from 0 to 100."""
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise ValueError(f"loss {value} is not a percentage (allowed: from 0 to 100)")
    return float(value)
