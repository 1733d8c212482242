"""The catalogue's R constructs found in an R step's parse tree, as R itself parses it.

An ``r`` detector value is ``<kind>:<name>`` with a kind from ``catalogue.R_MATCHES``.
The step's file is parsed by the R the harness already runs (``harness.rsession``, rpy2):
``parse(text=, keep.source=TRUE)`` and ``getParseData()`` give every token with its line,
its kind (``SYMBOL_FUNCTION_CALL``, ``SYMBOL_PACKAGE``, ``SYMBOL_SUB``...) and its parent
expression, so a call is told from a variable, a comment or a string of the same name
without a hand-written R grammar. Only R's parser runs: no model code is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.catalogue import R_MATCHES
from harness.explain.pysource import CodeHit
from harness.rsession import r

# Parse data as lines of text: rpy2's low-level interface without converters.
_PARSE = """function(src) {
  p <- tryCatch(parse(text = src, keep.source = TRUE), error = function(e) e)
  if (inherits(p, "error")) return(c("ERROR", gsub("[\\t\\n]", " ", conditionMessage(p))))
  d <- getParseData(p)
  if (is.null(d) || nrow(d) == 0) return(character(0))
  text <- gsub("[\\t\\n]", " ", d$text)
  paste(d$line1, d$col1, d$id, d$parent, d$token, d$terminal, text, sep = "\\t")
}"""
# Calls whose value is never a string: a data.frame() of only these has no column to factor.
_NUMERIC_CALLS = {"seq_len", "seq", "seq_along", "rnorm", "runif", "rpois", "rbinom", "c"}
_NUMERIC_CALLS |= {"numeric", "integer", "double", "logical", "as.integer", "as.numeric"}
_NUMERIC_TOKENS = {"NUM_CONST", "SYMBOL_FUNCTION_CALL", "SYMBOL_SUB", "EQ_SUB", "COMMENT"}
_SEED_KINDS = ("sample.kind",)  # a seed call naming the sampler pins it: no version drift


class RParseError(Exception):
    """R could not parse the file (the message is R's)."""


@dataclass(frozen=True)
class Token:
    line: int
    col: int
    id: int
    parent: int
    kind: str
    terminal: bool
    text: str


@dataclass(frozen=True)
class RFile:
    tokens: tuple[Token, ...]  # in source order

    def children(self, parent: int) -> list[Token]:
        return [t for t in self.tokens if t.parent == parent]

    def call_of(self, token: Token) -> int:
        """The id of the call expression a ``SYMBOL_FUNCTION_CALL`` token names."""
        by_id = {t.id: t for t in self.tokens}
        holder = by_id.get(token.parent)
        return holder.parent if holder is not None else token.parent

    def calls(self, name: str) -> Iterator[Token]:
        for token in self.tokens:
            if token.kind == "SYMBOL_FUNCTION_CALL" and token.text == name:
                yield token

    def argument_names(self, call: int) -> set[str]:
        return {t.text for t in self.children(call) if t.kind == "SYMBOL_SUB"}

    def text_of(self, call: int) -> str:
        """The call's tokens' text, joined (comments left out)."""
        ids = _descendants(self, call)
        out = [t.text for t in self.tokens if t.id in ids and t.terminal and t.kind != "COMMENT"]
        text = "".join(out).replace(",", ", ")
        return text if len(text) <= 100 else text[:97] + "..."


def parse_r(source: str) -> RFile:
    """R's parse data of ``source``; ``RParseError`` with R's message if it does not parse."""
    ri = r()
    lines = [str(x) for x in ri.baseenv["eval"](ri.parse(_PARSE))(ri.StrSexpVector([source]))]
    if lines[:1] == ["ERROR"]:
        raise RParseError(lines[1] if len(lines) > 1 else "cannot parse")
    tokens = []
    for line in lines:
        l1, c1, tid, parent, kind, terminal, text = line.split("\t", 6)
        token = Token(int(l1), int(c1), int(tid), int(parent), kind, terminal == "TRUE", text)
        tokens.append(token)
    tokens.sort(key=lambda t: (t.line, t.col, t.id))
    return RFile(tuple(tokens))


def _seeded(file: RFile, name: str) -> Iterator[tuple[int, Token]]:
    """Calls of ``name`` after a ``set.seed()`` that does not name the sampler."""
    seeds = [
        t
        for t in file.calls("set.seed")
        if not (file.argument_names(file.call_of(t)) & set(_SEED_KINDS))
    ]
    pinned = any(
        file.argument_names(file.call_of(t)) & set(_SEED_KINDS) for t in file.calls("RNGkind")
    )
    if pinned:
        return
    for token in file.calls(name):
        if any((s.line, s.col) < (token.line, token.col) for s in seeds):
            yield file.call_of(token), token


def _default(file: RFile, value: str) -> Iterator[tuple[int, Token]]:
    """Calls of ``function`` that leave ``argument`` to its default (``function/argument``)."""
    function, _, argument = value.partition("/")
    for token in file.calls(function):
        call = file.call_of(token)
        if argument in file.argument_names(call) or "as.is" in file.argument_names(call):
            continue
        if argument == "stringsAsFactors" and _only_numbers(file, call, token):
            continue  # no argument can hold a string: nothing to make a factor of
        yield call, token


def _only_numbers(file: RFile, call: int, own: Token) -> bool:
    """Every value in the call is a number or a call of ``_NUMERIC_CALLS`` (no variable, no
    string, no other function: those may hold strings)."""
    ids = _descendants(file, call)
    for t in file.tokens:
        if t.id not in ids or not t.terminal or t.id == own.id:
            continue
        if (
            t.kind == "SYMBOL_FUNCTION_CALL"
            and t.text not in _NUMERIC_CALLS
            and file.text_of(file.call_of(t)) != "character(0)"  # an empty column: no level
        ):
            return False
        if t.kind not in _NUMERIC_TOKENS and t.kind not in ("'('", "')'", "','", "':'", "'-'"):
            return False
    return True


def _namespace(file: RFile, name: str) -> Iterator[tuple[int, Token]]:
    """``name::f(...)`` and ``library(name)`` / ``require(name)``."""
    for token in file.tokens:
        if token.kind == "SYMBOL_PACKAGE" and token.text == name:
            yield token.parent, token
    for loader in ("library", "require", "requireNamespace"):
        for token in file.calls(loader):
            call = file.call_of(token)
            args = [t for t in file.tokens if t.kind in ("SYMBOL", "STR_CONST")]
            ids = _descendants(file, call)
            if any(t.id in ids and t.text.strip("\"'") == name for t in args):
                yield call, token


def _descendants(file: RFile, node: int) -> set[int]:
    ids = {node}
    changed = True
    while changed:
        changed = False
        for t in file.tokens:
            if t.parent in ids and t.id not in ids:
                ids.add(t.id)
                changed = True
    return ids


MATCHES: dict[str, Callable[[RFile, str], Iterator[tuple[int, Token]]]] = {
    "seeded": _seeded,
    "default": _default,
    "namespace": _namespace,
}
assert tuple(MATCHES) == R_MATCHES, "one check per catalogue r match kind"


def r_hits(file: RFile, values: list[str]) -> list[CodeHit]:
    """Every construct of ``values`` in ``file``, once per call, in line order."""
    hits: dict[int, CodeHit] = {}
    for value in values:
        kind, _, name = value.partition(":")
        for call, token in MATCHES[kind](file, name):
            if call not in hits:
                hits[call] = CodeHit(token.line, value, file.text_of(call) or token.text)
    return sorted(hits.values(), key=lambda h: (h.line, h.text))
