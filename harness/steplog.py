"""What a model's steps print: captured per step, so it reaches the run and the failure report.

A Python step's ``print()`` output, whatever it writes to stderr and the warnings it raises,
and an R step's console output (``print``, ``cat``, ``message``, ``warning``: see
:mod:`harness.rbridge`) would otherwise scroll past in a terminal or vanish under pytest's
capture. Each step's text is kept on the run (``RunResult.step_output``, step name -> text),
recorded in ``summary.json`` and shown when a model fails or differs from its golden.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Mapping

MAX_CHARS = 20_000  # kept per step: a step printing a whole table must not bloat the summary
SHOWN_LINES = 40  # per step, in a failure report (the last ones: errors come last)


def clip(text: str) -> str:
    """``text`` cut to its last :data:`MAX_CHARS` characters, saying so."""
    if len(text) <= MAX_CHARS:
        return text
    return f"[... {len(text) - MAX_CHARS:,} earlier characters cut]\n" + text[-MAX_CHARS:]


@contextlib.contextmanager
def python_output() -> Iterator[list[str]]:
    """Capture stdout, stderr and warnings of the code run inside; the yielded list holds
    the text once the block ends (also when it raises)."""
    buffer = io.StringIO()
    found: list[str] = []
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
        ):
            warnings.simplefilter("always")
            yield found
    finally:
        text = buffer.getvalue()
        for w in caught:
            text += f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})\n"
        found.append(clip(text))


def format_step_output(output: Mapping[str, str], lines: int = SHOWN_LINES) -> str:
    """The steps' captured output for a failure report (the last ``lines`` of each), or ""."""
    parts = []
    for step, text in output.items():
        shown = text.rstrip("\n").splitlines()
        if not shown:
            continue
        cut = f" (last {lines} of {len(shown)} lines)" if len(shown) > lines else ""
        body = "\n".join(f"    | {line}" for line in shown[-lines:])
        parts.append(f"  output of step {step}{cut}:\n{body}")
    return "\n".join(parts)
