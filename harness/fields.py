"""Validation of the YAML files users write: model specs, fixture bundles, generator recipes.

One set of rules for all three, so every mistake reads the same way: one line naming the
file, where in it (``outputs.rates.rtol``), what is wrong and the likely fix, with a "did
you mean ...?" suggestion for a misspelt field or choice. Each caller passes the
``HarnessError`` subclass its users know (``SpecError``, ``FixtureError``).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def suggestion(word: str, choices: Iterable[str]) -> str:
    """ "did you mean 'x'?" for a near miss, else the list of what is allowed."""
    choices = sorted(map(str, choices))
    close = difflib.get_close_matches(str(word), choices, n=1)
    return f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(choices)}"


def problem(
    error: type[HarnessError], path: Path | str, where: str, what: str, fix: str = ""
) -> HarnessError:
    """The error for one mistake: ``<file>: <where>: <what> (<fix>)``."""
    return error(f"{path}: {where}: {what}" + (f" ({fix})" if fix else ""))


def check_fields(
    error: type[HarnessError],
    path: Path | str,
    where: str,
    data: Any,
    allowed: Collection[str],
    required: Collection[str] = (),
) -> dict[str, Any]:
    """``data`` as a mapping with only ``allowed`` fields and every ``required`` one."""
    if not isinstance(data, dict):
        raise problem(error, path, where, f"expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in allowed:
            raise problem(
                error, path, where, f"unknown field '{key}'", suggestion(str(key), allowed)
            )
    for key in sorted(required):
        if key not in data:
            raise problem(error, path, where, f"missing required field '{key}'")
    return data


def check_choice(
    error: type[HarnessError],
    path: Path | str,
    where: str,
    value: Any,
    choices: Collection[str],
    what: str = "value",
) -> str:
    """``value`` if it is one of ``choices``, else an error suggesting the nearest one."""
    if value not in choices:
        raise problem(
            error, path, where, f"unknown {what} {value!r}", suggestion(str(value), choices)
        )
    return value
