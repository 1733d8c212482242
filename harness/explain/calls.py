"""A function call as the legacy code wrote it: its name and arguments in Hive SQL.

sqlglot parses many Hive functions into its own nodes (``DATE_FORMAT`` -> ``TimeToStr``,
with the pattern converted to strftime's letters; ``percentile_approx`` ->
``ApproxQuantile``), so what a rule names is read back from the Hive dialect's printing:
the printed name, and the arguments as printed text (a datetime pattern keeps Hive's
letters) or as nodes (for their types). Lint's detectors and its refinements both read
calls this way.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from harness.explain.sqlsource import DIALECT


def hive_sql(node: exp.Expr) -> str:
    """``node`` printed in Hive SQL, quietly where Hive has no spelling (a named struct)."""
    return node.sql(DIALECT, unsupported_level=ErrorLevel.IGNORE)


def unwrap(node: exp.Expr | None) -> exp.Expr | None:
    """``node`` without the parentheses around it."""
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def printed_name(node: exp.Expr) -> str:
    """The function name a call prints as in Hive SQL (``TO_DATE`` for TsOrDsToDate...);
    ``cast`` for a CAST; "" for anything that is not a call."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Cast):
        return "cast"
    if not isinstance(node, exp.Func):
        return ""
    text = hive_sql(node)
    head = text.split("(", 1)[0].strip()
    return head.lower() if "(" in text and head.replace("_", "").isalnum() else ""


def argument_texts(node: exp.Expr) -> list[str]:
    """A call's arguments as Hive prints them (defaults the parser fills in, such as
    FROM_UNIXTIME's format, print only when written)."""
    text = hive_sql(node)
    start = text.find("(")
    return [] if start < 0 else _split(text[start + 1 :])


def _split(text: str) -> list[str]:
    """Top-level comma-separated parts of ``text``, up to its unmatched ``)``."""
    args: list[str] = []
    depth, quote, current = 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip() or args:
        args.append(current.strip())
    return args


def arity(node: exp.Expr) -> int:
    """How many arguments a call has in Hive SQL. sqlglot drops a written pattern equal to
    the default (``to_date(s, 'yyyy-MM-dd')`` prints as ``TO_DATE(s)``) but keeps it in the
    node's ``format``: a call with a format then counts it (``unix_timestamp()``, the
    current time, excepted)."""
    count = len(argument_texts(node))
    fmt = node.args.get("format")
    if count == 1 and fmt is not None and not isinstance(node.this, exp.CurrentTimestamp):
        return 2
    return count


def arguments(node: exp.Expr) -> list[exp.Expr]:
    """A call's (or operator's) arguments as nodes, in order: a cast's operand, both sides
    of an operator, EXTRACT's field then its source."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    if isinstance(node, exp.Binary):
        return [n for n in (node.left, node.right) if n is not None]
    out: list[exp.Expr] = []
    for key in node.arg_types:
        value = node.args.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, exp.Expr) and not isinstance(item, exp.DataType):
                out.append(item)
    return out


def string_literal(text: str) -> str | None:
    """The value of a Hive string literal as printed (``'dd/MM/yyyy'``), backslash escapes
    applied as Hive applies them; None when ``text`` is not one literal. A ``CONCAT`` of
    literals is their text joined (sqlglot prints a pattern's quoted text that way)."""
    if text.upper().startswith("CONCAT(") and text.endswith(")"):
        parts = [string_literal(p) for p in _split(text[len("CONCAT(") : -1])]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    if len(text) < 2 or text[0] != text[-1] or text[0] not in "'\"":
        return None
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
            i += 2
            continue
        if ch == text[0]:
            return None  # two literals side by side
        out.append(ch)
        i += 1
    return "".join(out)
