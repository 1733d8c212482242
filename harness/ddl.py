"""Hive DDL column lists: parsing them, and checking a DataFrame's schema against one.

Fixtures declare their table's schema in Hive DDL and a model spec may declare an output's
expected schema the same way (``outputs.<name>.schema``), so one parser serves both. Types
are compared in Spark's spelling (``simpleString``): Hive aliases (INTEGER, LONG, DEC,
VARCHAR(n)...) are normalised, case and spaces do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def parse_ddl(text: str) -> list[tuple[str, str]]:
    """Columns of a Hive DDL (a full CREATE TABLE or a bare column list) as (name, type)."""
    text = re.sub(r"--[^\n]*", "", text)
    if re.match(r"\s*CREATE\s", text, re.I):
        start = text.index("(")
        depth = 0
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                text = text[start + 1 : i]
                break
    columns: list[tuple[str, str]] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text + ",":
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            item = "".join(current).strip()
            current = []
            if not item:
                continue
            item = re.sub(r"\s+COMMENT\s+'(?:[^'\\]|\\.)*'\s*$", "", item, flags=re.I)
            name, _, dtype = item.partition(" ")
            if not dtype.strip():
                raise ValueError(f"column '{name}' has no type")
            columns.append((name.strip("`"), dtype.strip()))
        else:
            current.append(ch)
    if not columns:
        raise ValueError("no columns found")
    return columns


_ALIASES = {
    "integer": "int",
    "long": "bigint",
    "short": "smallint",
    "byte": "tinyint",
    "real": "float",
    "bool": "boolean",
    "dec": "decimal",
    "numeric": "decimal",
}


def normalize_type(text: str) -> str:
    """A DDL type in Spark's ``simpleString`` spelling: lower case, no spaces, aliases and
    ``varchar(n)``/``char(n)`` as ``string``, a bare ``decimal`` as ``decimal(10,0)``."""
    out = re.sub(r"\s+", "", text.lower())
    out = re.sub(r"\b(var)?char\(\d+\)", "string", out)
    out = re.sub(r"\b[a-z_]+\b(?!:)", lambda m: _ALIASES.get(m.group(0), m.group(0)), out)
    return re.sub(r"\bdecimal\b(?!\()", "decimal(10,0)", out)


def schema_problems(
    expected: Iterable[tuple[str, str]], actual: Iterable[tuple[str, str]]
) -> list[str]:
    """What differs between an expected column list and an actual one, one phrase per
    column (names match case-insensitively, as Hive's do; order does not matter)."""
    want = {n.lower(): (n, normalize_type(t)) for n, t in expected}
    have = {n.lower(): (n, normalize_type(t)) for n, t in actual}
    problems = [
        f"column '{name}' is missing (expected {dtype})"
        for key, (name, dtype) in want.items()
        if key not in have
    ]
    problems += [
        f"column '{have[key][0]}' is {have[key][1]}, expected {dtype}"
        for key, (name, dtype) in want.items()
        if key in have and have[key][1] != dtype
    ]
    problems += [
        f"column '{name}' ({dtype}) is not in the expected schema"
        for key, (name, dtype) in have.items()
        if key not in want
    ]
    return problems
