"""The committed JSON Schema is the one the models generate."""

from __future__ import annotations

import json

from oar_p2p.spec.schema import SCHEMA_ID, SCHEMA_PATH, generate_schema, main, schema_text


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.is_file(), "run `python -m oar_p2p.spec.schema` to create it"
    assert SCHEMA_PATH.read_text() == schema_text(), (
        f"{SCHEMA_PATH} is out of date with oar_p2p/spec/models.py: "
        "regenerate it with `python -m oar_p2p.spec.schema` and commit the result"
    )


def test_schema_head_and_required_keys() -> None:
    schema = generate_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] == "oar-p2p experiment spec"
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["required"] == ["name", "network"]
    assert schema["additionalProperties"] is False
    network = schema["$defs"]["NetworkSpec"]
    assert network["additionalProperties"] is False
    assert {"type": "integer", "minimum": 0} in network["properties"]["addresses"]["anyOf"]


def test_schema_text_is_stable_json() -> None:
    text = schema_text()
    assert text.endswith("}\n")
    assert json.loads(text) == generate_schema()


def test_check_mode_passes_on_the_committed_file(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""
