"""A model's approval as one step: the switch record.

A model's outputs each have their own pointer to the version in force (``CURRENT`` on
disk, numbered pointer objects at a URI), and no storage switches several pointers at once.
So an approval of several outputs writes one small record for the model and dataset
first, ``SWITCH.json``: the version each output goes to. Writing it whole is the commit
point: from then on every reader takes the versions it names, whatever the outputs'
pointers say, until the pointers have been switched one by one and the record is cleared.
A crash before the record is whole leaves every output on its old version; a crash after
leaves every output on its new one (the next approval or write of the model finishes the
pointers). Either way no reader ever sees a model with some outputs approved and some not.

A record that does not verify (cut short while written or cleared) names nothing: it is
ignored, which is right at both moments it can happen (before any pointer moved, or after
all did). Stores clear it when they are done: a deletion on disk, a record marked ``done``
at a URI (no portable delete).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from harness.golden.base import now, who

SWITCH = "SWITCH.json"


def _check(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def record_text(version: str, targets: dict[str, str], replaced: dict[str, str | None]) -> str:
    """The record of an approval: each output's new version (``targets``) and old one."""
    body: dict[str, Any] = {
        "version": version,
        "outputs": dict(sorted(targets.items())),
        "replaced": dict(sorted(replaced.items())),
        "at": now(),
        "by": who(),
        "done": False,
    }
    return json.dumps({**body, "check": _check(body)}, sort_keys=True)


def done_text() -> str:
    """What a URI's record says once every pointer has been switched (no delete there)."""
    body: dict[str, Any] = {"done": True, "at": now(), "by": who()}
    return json.dumps({**body, "check": _check(body)}, sort_keys=True)


def pending(text: str | None) -> dict[str, Any] | None:
    """The record's content if it names a switch still in progress, else None (no record,
    a finished one, or one that does not verify)."""
    if not text:
        return None
    try:
        record = json.loads(text)
        body = {k: v for k, v in record.items() if k != "check"}
    except (ValueError, AttributeError):
        return None
    if record.get("check") != _check(body) or body.get("done") is not False:
        return None
    outputs = body.get("outputs")
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        return None
    return body
