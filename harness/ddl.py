"""Hive DDL column lists: parsing them, and checking a DataFrame's schema against one.

Fixtures declare their table's schema in Hive DDL and a model spec may declare an output's
expected schema the same way (``outputs.<name>.schema``), so one parser serves both. Types
are compared in Spark's spelling (``simpleString``): Hive aliases (INTEGER, LONG, DEC,
VARCHAR(n)...) are normalised, case and spaces do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator


def _unquoted(text: str) -> Iterator[tuple[int, str, bool]]:
    """Each character of ``text`` with whether it stands outside quotes and backticks (a
    backslash escapes the next character inside quotes, as in Hive)."""
    quote, i = "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            yield i, ch, False
            if ch == "\\" and quote != "`" and i + 1 < len(text):
                i += 1
                yield i, text[i], False
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            yield i, ch, False
        else:
            yield i, ch, True
        i += 1


def _without_line_comments(text: str) -> str:
    """``text`` without its ``--`` comments (outside quotes)."""
    out, skip_to = [], -1
    for i, ch, outside in _unquoted(text):
        if i < skip_to:
            continue
        if outside and text.startswith("--", i):
            end = text.find("\n", i)
            skip_to = len(text) if end < 0 else end
            continue
        out.append(ch)
    return "".join(out)


def parse_ddl(text: str) -> list[tuple[str, str]]:
    """Columns of a Hive DDL (a full CREATE TABLE or a bare column list) as (name, type).
    Quotes, backticks, nested types and comments (``--`` and ``COMMENT '...'``) are
    respected wherever they stand."""
    text = _without_line_comments(text)
    if re.match(r"\s*CREATE\s", text, re.I):
        start, depth = -1, 0
        for i, ch, outside in _unquoted(text):
            if outside and ch in "()":
                start = i if start < 0 else start
                depth += 1 if ch == "(" else -1
                if depth == 0:
                    text = text[start + 1 : i]
                    break
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for _i, ch, outside in _unquoted(text + ","):
        if outside and ch in "<(":
            depth += 1
        elif outside and ch in ">)":
            depth -= 1
        if outside and ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    columns: list[tuple[str, str]] = []
    for item in filter(None, items):
        item = re.sub(r"\s+COMMENT\s+(['\"])(?:\\.|(?!\1).)*\1\s*$", "", item, flags=re.I | re.S)
        found = re.match(r"`((?:[^`]|``)*)`\s*(.*)$", item, re.S) or re.match(
            r"(\S+)\s*(.*)$", item, re.S
        )
        name, dtype = (found.group(1).replace("``", "`"), found.group(2)) if found else (item, "")
        if not dtype.strip():
            raise ValueError(f"column '{name}' has no type")
        columns.append((name, dtype.strip()))
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
