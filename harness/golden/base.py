"""What every golden storage shares: a golden's name, the storage protocol, the manifest's
fixed parts, who wrote it and what a failed write says. :mod:`.store` builds on it;
:mod:`.disk` and :mod:`.cluster` implement it."""

from __future__ import annotations

import getpass
import os
import re
import socket
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from pyspark.sql import DataFrame, SparkSession

from harness.errors import first_line

FORMAT = 1
MANIFEST = "manifest.json"
SUMMARY = "summary.ambr"
APPROVAL = "approval.json"  # a candidate's approval: who, when, override (notes, below)
DISCARDED = "discarded.json"  # a candidate set aside unapproved
NOTES = (APPROVAL, DISCARDED)
# The fields every manifest has, whatever its storage (each storage adds its integrity).
MANIFEST_FIELDS = ("schema", "rows", "keys", "provenance")


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def who() -> str:
    """``user@host`` for provenance (``$HARNESS_USER`` overrides the user)."""
    try:
        user = os.environ.get("HARNESS_USER") or getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# What the operating system or a storage service says when a write fails, as Java and
# Python both spell it (ENOSPC, EDQUOT, EROFS, EIO, EACCES): found anywhere in an error's
# chain of causes, it is the line a user needs, not the wrapper Spark puts around it.
_IO_FAILURES = re.compile(
    r"No space left on device|Disk quota exceeded|Read-only file system|"
    r"Input/output error|Permission denied|Too many open files|"
    r"(?:Storage|Quota)[A-Za-z]*Exceeded|InsufficientAccountPermissions",
    re.IGNORECASE,
)


def error_text(exc: BaseException) -> str:
    """All an error says, one part per line: its message, the JVM's trace (pyspark keeps it
    on ``_stackTrace``) and the same of each of its causes (pyspark's ``_cause``, Python's)."""
    texts: list[str] = []
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, OSError) and err.strerror:
            texts.append(err.strerror)
        texts += [str(err), str(getattr(err, "_stackTrace", "") or "")]
        todo += [getattr(err, "_cause", None), err.__cause__, err.__context__]
    return "\n".join(texts)


def io_failure(exc: BaseException) -> str:
    """Why a write failed, in one line: the operating system's or the storage's own reason
    when the error or any of its causes names one (Spark wraps "No space left on device"
    in a task failure), else the error's first line."""
    found = _IO_FAILURES.search(error_text(exc))
    return found.group(0) if found else first_line(exc)


@dataclass(frozen=True)
class GoldenRef:
    model: str
    dataset: str
    output: str

    def __str__(self) -> str:
        return f"{self.model}/{self.dataset}/{self.output}"


@dataclass
class Staged:
    """A version's data, written but not yet in force: its integrity facts for the
    manifest and the written data as a frame (for its statistics)."""

    integrity: dict[str, Any]
    frame: DataFrame
    handle: Any = None  # what the storage needs to commit it (a staging folder on disk)
    version: str = ""  # the version written, when the storage had to skip a taken number


class Storage(Protocol):
    """Where a golden's bytes live, how they are written atomically and verified."""

    root: str

    def where(self, ref: GoldenRef, version: str | None = None) -> str:
        """The golden's (or one version's) location, for messages."""
        ...

    def versions(self, ref: GoldenRef) -> list[str]: ...

    def current(self, ref: GoldenRef) -> str | None: ...

    def manifest_text(self, ref: GoldenRef, version: str) -> str | None:
        """The version's manifest as written, or None when the version has none."""
        ...

    def guard(self, ref: GoldenRef) -> AbstractContextManager[Any]:
        """Held around a write or a restore: keeps a second writer of the golden out, or
        lets :meth:`switch` see that one got in. Yields what ``switch`` compares with: a
        lock on disk (then nothing), the newest pointer's number at a URI."""
        ...

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        """Write the data of a new version (not in force yet); a failure leaves nothing
        behind that a reader takes for a version, and raises GoldenError."""
        ...

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        """Make the staged version complete (its manifest written); not yet in force."""
        ...

    def switch(
        self, ref: GoldenRef, version: str, manifest: str, summary: str, expected: Any = None
    ) -> None:
        """Put ``version`` in force, in one atomic step (after writing its summary), unless
        another writer switched since ``guard`` yielded ``expected`` (GoldenError)."""
        ...

    def discard(self, ref: GoldenRef, version: str, staged: Staged | None) -> str:
        """Remove (or, where the storage cannot delete, quarantine) a version whose write
        failed, never the one in force; says what was done, for the error message."""
        ...

    def verify(self, ref: GoldenRef, version: str, manifest: dict[str, Any]) -> None:
        """Check the data against the manifest; a corrupt golden raises GoldenError."""
        ...

    def read(
        self, spark: SparkSession, ref: GoldenRef, version: str, manifest: dict[str, Any]
    ) -> DataFrame: ...

    def prune(self, ref: GoldenRef, keep: list[str]) -> None:
        """Remove the versions not in ``keep`` (where the storage can)."""
        ...

    def note_text(self, ref: GoldenRef, version: str, name: str) -> str | None:
        """A small record written beside a complete version after the fact (``NOTES``:
        its approval, its discarding), or None."""
        ...

    def put_note(self, ref: GoldenRef, version: str, name: str, text: str) -> None:
        """Write (or replace) such a record; the version's data and manifest never change."""
        ...

    def journal_text(self, model: str, dataset: str) -> str | None:
        """The model's switch record (:mod:`.journal`) as written, or None."""
        ...

    def put_journal(self, model: str, dataset: str, text: str) -> None:
        """Write the model's switch record, whole or not at all: a model's approval's
        commit point."""
        ...

    def clear_journal(self, model: str, dataset: str) -> None:
        """End the record once every output's pointer has been switched."""
        ...
