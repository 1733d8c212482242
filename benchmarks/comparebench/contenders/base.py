"""The one protocol every contender implements, the outcome it returns, how a failure reads.

The runner, the peer child process and the scoring know a contender only through
``Contender``: a name (the table's row, the ``--peers`` name), a kind (where it runs and
how it is judged) and ``run``. Adding a tool is then one small module and one line in the
registry (``contenders/__init__.py``), and nothing else learns its name.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Protocol

# floor: a plain Spark query, no verdict; engine: the harness, in the benchmark process;
# peer: another tool, in a child process attached to the benchmark's JVM (peer_process.py).
Kind = Literal["floor", "engine", "peer"]


class Outcome(NamedTuple):
    """What one call of a contender found.

    ``verdict`` is ``pass``/``fail`` (``-`` for a floor); ``counts`` the per-column mismatch
    counts when the tool reports them; ``note`` a short text, or for the engine a dict of
    its own figures (row counts, ``elapsed_s``) that the runner files under ``engine``.
    """

    verdict: str
    counts: dict[str, int] | None
    note: str | dict[str, Any]


class Contender(Protocol):
    """One row of the table. Subclass it explicitly to inherit the defaults below."""

    name: str
    kind: Kind

    def prepare(self) -> None:
        """Import what the call needs, before the clock starts (a peer's tool)."""
        return None

    def inputs(self, golden: Any, candidate: Any) -> tuple[Any, Any]:
        """The two DataFrames as this contender gets them (untimed); as read by default."""
        return golden, candidate

    def failures(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean "the tool says the frames differ" (verdict ``fail``), not an
        error; only consulted for peers, whose assertions raise to say so."""
        return (AssertionError,)

    def run(self, spark: Any, golden: Any, candidate: Any) -> Outcome:
        """The timed call."""
        ...


def short_error(exc: BaseException, limit: int = 160) -> str:
    """``Type: first meaningful line`` (no JVM trace, no ASCII-table borders), truncated."""
    text = str(exc).strip()
    line = ""
    for raw in text.splitlines():
        raw = raw.strip()
        if raw and not raw.startswith(("at ", "JVM stacktrace", "org.apache", "py4j", "+", "|")):
            line = raw
            break
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
