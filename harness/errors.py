"""Errors the harness raises on purpose.

Every problem a user can cause (a broken spec, a corrupt golden, a bad argument) is a
``HarnessError``: one line that names the file, field or column and says what to do.
The pytest plugin and the CLI print these without a traceback; anything else is a bug.
"""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 400) -> str:
    """The first meaningful line of an error (Spark, py4j, gRPC...), without the JVM trace;
    the exception's type name when it has no message."""
    text = getattr(exc, "getMessage", None)
    message = text() if callable(text) else str(exc)
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "org.apache", "py4j", "JVM stacktrace")):
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return type(exc).__name__


class HarnessError(Exception):
    """A user-facing problem with a clear, actionable message."""


class SpecError(HarnessError):
    """A model spec is missing, unreadable or invalid."""


class FixtureError(HarnessError):
    """A fixture bundle is missing a file, or a released version was modified."""


class OutputSchemaError(HarnessError):
    """A model's output does not have the schema its spec declares (``outputs.<name>.schema``)."""


class GoldenError(HarnessError):
    """A golden is missing, unreadable, or does not match its manifest."""


class CompareError(HarnessError):
    """The arguments to a comparison are invalid (unknown key, bad tolerance...)."""


class BackendError(HarnessError):
    """A Spark backend (local, Spark Connect, Databricks Connect) could not be used."""


class ModelRunError(HarnessError):
    """A model failed while running; the message names the model and the step."""
