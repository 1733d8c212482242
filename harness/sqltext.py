"""Hive SQL as text: variables, statements with their lines, and call renames.

The runners execute what these functions return, and ``harness.explain`` reads the same
statements to point at file:line, so both see one split of a script.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from harness.errors import ModelRunError

_VAR = re.compile(r"\$\{(?:hivevar:|hiveconf:)?([A-Za-z_][A-Za-z0-9_.]*)\}")


@dataclass(frozen=True)
class Statement:
    line: int  # the file line the statement starts on
    text: str  # comments blanked out; the statement's own newlines are kept


def substitute(sql: str, params: dict[str, Any], where: str) -> str:
    """Replace Hive variables (``${x}``, ``${hivevar:x}``, ``${hiveconf:x}``) from params."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in params:
            raise ModelRunError(
                f"{where}: uses ${{{name}}} but the spec's parameters do not "
                f"define '{name}' (add it under parameters:)"
            )
        return str(params[name])

    return _VAR.sub(value, sql)


def statements(sql: str) -> list[Statement]:
    """Split a script at top-level semicolons (quotes and comments respected).

    A comment is dropped but its newlines are kept, so line ``k`` of a statement's text is
    line ``statement.line + k - 1`` of the file."""
    found: list[Statement] = []
    current: list[str] = []
    i, quote, line = 0, "", 1  # line: the file line where ``current`` starts

    def close() -> None:
        text = "".join(current)
        if text.strip():
            lead = text[: len(text) - len(text.lstrip())]
            found.append(Statement(line + lead.count("\n"), text.strip()))

    while i < len(sql):
        ch = sql[i]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(sql):
                current.append(sql[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = len(sql) if end < 0 else end + 2
            current.append("\n" * sql.count("\n", i, end))
            i = end
            continue
        elif ch == ";":
            close()
            line += "".join(current).count("\n")
            current = []
        else:
            current.append(ch)
        i += 1
    close()
    return found


def split_statements(sql: str) -> list[str]:
    """The statements' texts (see ``statements``)."""
    return [s.text for s in statements(sql)]


def rewrite_functions(sql: str, mapping: dict[str, str]) -> str:
    """Rename function calls (``name(``) using sqlglot's Hive tokenizer, text otherwise kept."""
    if not mapping:
        return sql
    from sqlglot.dialects.hive import Hive
    from sqlglot.tokens import TokenType

    lowered = {k.lower(): v for k, v in mapping.items()}
    tokens = Hive().tokenize(sql)
    edits = []
    for tok, nxt in itertools.pairwise(tokens):
        if (
            tok.token_type == TokenType.VAR
            and tok.text.lower() in lowered
            and nxt.token_type == TokenType.L_PAREN
        ):
            edits.append((tok.start, tok.end + 1, lowered[tok.text.lower()]))
    for start, end, name in sorted(edits, reverse=True):
        sql = sql[:start] + name + sql[end:]
    return sql
