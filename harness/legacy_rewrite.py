"""One Hive ``percentile_approx`` call per column and group, for the legacy platform's speed.

Hive's ``percentile_approx`` builds a histogram of 10,000 bins per call and group, and once
the histogram is full every added value costs a scan of all bins (``NumericHistogram.trim``):
five calls over one column build five identical histograms. Hive's UDAF also takes an array
of percentiles and answers all of them from one histogram, so calls that differ only in their
percentile are rewritten to that form and indexed::

    percentile_approx(x, 0.1) AS p10, percentile_approx(x, 0.9) AS p90
    -> percentile_approx(x, array(0.1, 0.9))[0] AS p10, percentile_approx(x, array(0.1, 0.9))[1]
       AS p90

Spark computes identical aggregate expressions once, so the histogram is built once. The
values are Hive's own and the same bit for bit: one histogram, fed the same values in the same
order, with the same seeded tie-breaking. Like the call renames (``harness.sqltext``), this
works on sqlglot's Hive tokens and edits only the calls it rewrites; SQL without two such
calls over the same column comes back unchanged. Left alone: window (``OVER``) and
``FILTER``/``WITHIN`` calls, ``DISTINCT`` arguments, percentiles that are not a plain
decimal number (Hive refuses an integer one, and must still refuse it), and unaliased
select items (their generated column name would change).
"""

from __future__ import annotations

from dataclasses import dataclass

FUNCTION = "percentile_approx"


@dataclass(frozen=True)
class _Call:
    start: int  # the function name's first character
    end: int  # one past the closing parenthesis
    value: str  # the first argument's text, as written
    percentile: str  # the number literal, as written
    accuracy: str | None  # the third argument's text, as written
    key: tuple  # (value, accuracy) as tokens: calls with equal keys share a histogram


def merge_percentile_calls(sql: str, function: str = FUNCTION) -> str:
    """Rewrite ``function(x, p)`` calls that share ``x`` (and accuracy) into one array call."""
    if function.lower() not in sql.lower():
        return sql
    from sqlglot.dialects.hive import Hive

    groups: dict[tuple, list[_Call]] = {}
    for call in _calls(sql, Hive().tokenize(sql), function.lower()):
        groups.setdefault(call.key, []).append(call)
    edits = []
    for calls in groups.values():
        percentiles = list(dict.fromkeys(c.percentile for c in calls))
        if len(percentiles) < 2:
            continue
        array = f"array({', '.join(percentiles)})"
        for c in calls:
            args = [c.value, array] + ([c.accuracy] if c.accuracy is not None else [])
            index = percentiles.index(c.percentile)
            edits.append(
                (
                    c.start,
                    c.end,
                    f"{sql[c.start : c.start + len(function)]}({', '.join(args)})[{index}]",
                )
            )
    for start, end, text in sorted(edits, reverse=True):
        sql = sql[:start] + text + sql[end:]
    return sql


def _calls(sql: str, tokens: list, function: str) -> list[_Call]:
    """The calls of ``function`` that can be merged, outermost only."""
    from sqlglot.tokens import TokenType

    found: list[_Call] = []
    i = 0
    while i < len(tokens) - 1:
        tok = tokens[i]
        if not (
            tok.token_type == TokenType.VAR
            and tok.text.lower() == function
            and tokens[i + 1].token_type == TokenType.L_PAREN
        ):
            i += 1
            continue
        close, args = _arguments(tokens, i + 1)
        if close is None:
            break
        call = _mergeable(sql, tokens, i, close, args)
        if call is not None:
            found.append(call)
        i = close + 1  # a call nested in this one's arguments is left alone
    return found


def _arguments(tokens: list, open_at: int) -> tuple[int | None, list[list]]:
    """The index of the parenthesis closing ``open_at`` and the top-level arguments' tokens."""
    from sqlglot.tokens import TokenType

    depth = 0
    args: list[list] = []
    current: list = []
    for j in range(open_at, len(tokens)):
        kind = tokens[j].token_type
        if kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
            if depth == 1:
                continue
        elif kind in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
            if depth == 0:
                args.append(current)
                return j, args
        elif kind == TokenType.COMMA and depth == 1:
            args.append(current)
            current = []
            continue
        current.append(tokens[j])
    return None, args


def _mergeable(sql: str, tokens: list, at: int, close: int, args: list[list]) -> _Call | None:
    from sqlglot.tokens import TokenType

    if len(args) not in (2, 3) or not all(args):
        return None
    value, percentile = args[0], args[1]
    if value[0].text.upper() in ("DISTINCT", "ALL"):
        return None
    if len(percentile) != 1 or percentile[0].token_type != TokenType.NUMBER:
        return None
    if not any(c in percentile[0].text for c in ".eE"):  # Hive rejects an integer percentile
        return None
    after = tokens[close + 1] if close + 1 < len(tokens) else None
    if after is not None and after.text.upper() in ("OVER", "FILTER", "WITHIN"):
        return None
    before = tokens[at - 1] if at > 0 else None
    bare_start = before is not None and before.token_type in (TokenType.SELECT, TokenType.COMMA)
    bare_end = after is None or after.token_type in (
        TokenType.COMMA,
        TokenType.FROM,
        TokenType.R_PAREN,
        TokenType.SEMICOLON,
    )
    if bare_start and bare_end:  # an unaliased select item: Spark names it after its text
        return None
    accuracy = args[2] if len(args) == 3 else None
    return _Call(
        tokens[at].start,
        tokens[close].end + 1,
        _text(sql, value),
        _text(sql, percentile),
        _text(sql, accuracy) if accuracy else None,
        (_shape(value), _shape(accuracy) if accuracy else None),
    )


def _text(sql: str, tokens: list) -> str:
    return sql[tokens[0].start : tokens[-1].end + 1]


def _shape(tokens: list) -> tuple:
    """Tokens compared as Hive does: identifiers and keywords case-insensitively."""
    from sqlglot.tokens import TokenType

    return tuple(
        (t.token_type, t.text if t.token_type == TokenType.STRING else t.text.lower())
        for t in tokens
    )
