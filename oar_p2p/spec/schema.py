"""The JSON Schema of the experiment spec, generated from the pydantic models.

    python -m oar_p2p.spec.schema            # rewrites schemas/spec.schema.json
    python -m oar_p2p.spec.schema --check    # exit 1 when the committed file is stale

Editors (e.g. the YAML language server) can validate specs with it:
``# yaml-language-server: $schema=<repo>/schemas/spec.schema.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from oar_p2p.spec.models import Spec

__all__ = ["SCHEMA_ID", "SCHEMA_PATH", "generate_schema", "main", "schema_text"]

SCHEMA_ID = "https://github.com/oar-p2p/oar-p2p/schemas/spec.schema.json"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "spec.schema.json"


def generate_schema() -> dict[str, Any]:
    """The spec's JSON Schema (draft 2020-12) with a title and an `$id`."""
    body = Spec.model_json_schema()
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "oar-p2p experiment spec",
    }
    return head | {k: v for k, v in body.items() if k != "title"}


def schema_text() -> str:
    """The schema exactly as committed: 2-space indent, trailing newline."""
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = schema_text()
    if "--check" in args:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.is_file() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run `python -m oar_p2p.spec.schema`")
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
