"""What every golden storage shares: a golden's name, the storage protocol, the manifest's
fixed parts and who wrote it. :mod:`.store` builds on it; :mod:`.disk` and :mod:`.cluster`
implement it."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from pyspark.sql import DataFrame, SparkSession

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

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        """Write the data of a new version (not in force yet)."""
        ...

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        """Make the staged version complete (its manifest written); not yet in force."""
        ...

    def switch(self, ref: GoldenRef, version: str, manifest: str, summary: str) -> None:
        """Put ``version`` in force, in one atomic step (after writing its summary)."""
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
