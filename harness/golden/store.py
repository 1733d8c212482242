"""The golden store: versions of legacy outputs, each with a manifest that says what it is.

Layout under the root, the same wherever the root is: ``<model>/<dataset>/<output>/``
holding one folder per version (``v0001/``, ``v0002/`` ...: ``data/`` Parquet and
``manifest.json``: schema, rows, keys, integrity, provenance, summary statistics), what
says which version is in force, and ``summary.ambr`` (:mod:`harness.golden.summary`).

This module is the part that does not depend on where the bytes are: version numbering,
manifests, provenance, history and restore. Where the bytes are is a :class:`Storage`,
chosen from the root by :func:`storage_for`: the client's disk (:mod:`.disk`, goldens kept
in git) or any URI the cluster reads and writes (:mod:`.cluster`: ``file:``, ``abfss://``,
``dbfs:/Volumes/...``), where Spark does every read and write.

A write is atomic in both: the new version is complete before the switch to it, and the
switch is one step (a rename on disk, a pointer object written last on a URI); a crash or
Ctrl-C at any point leaves the previous version in force. An approval of a model's several
outputs is one step too: a switch record for the model commits it (:mod:`.journal`). A
write that fails (a full disk, an I/O error) says so in one line naming the golden, what
failed and the version still in force, and removes (at a URI: quarantines) what it wrote.
Two writes of one golden at once: one wins, the other fails (a lock on disk, a
compare-and-swap of the pointer at a URI).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from harness.errors import GoldenError, first_line
from harness.golden.base import (
    APPROVAL,
    DISCARDED,
    FORMAT,
    MANIFEST,
    MANIFEST_FIELDS,
    GoldenRef,
    Staged,
    Storage,
    io_failure,
    now,
    who,
)
from harness.golden.journal import pending, record_text

KEEP_VERSIONS = 5
ROOT_ENV = "HARNESS_GOLDEN_ROOT"  # the golden root when no option names one
# What wrote a version: capture, --harness-update-golden, golden import, harness propose.
SOURCES = ("legacy-emulation", "refresh", "imported", "proposal")
# What a version is to its golden (history): in force, a proposal not yet approved, one set
# aside, one approved and later replaced, any other earlier version.
STATUSES = ("current", "candidate", "discarded", "approved", "earlier")


def fault(point: str) -> None:
    """Test hook: simulate a crash at ``point`` (used by the interrupted-refresh tests)."""
    if os.environ.get("HARNESS_FAULT") == point:
        os._exit(137)


def is_uri(root: str | Path) -> bool:
    """A root with a scheme (``file:``, ``abfss://``, ``dbfs:/``) is the cluster's storage."""
    return isinstance(root, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", root) is not None


def storage_for(root: str | Path, session: Callable[[], SparkSession] | None = None) -> Storage:
    """The storage a golden root names: a URI the cluster reads and writes, else a folder
    on this machine. ``session`` gives a URI storage its Spark session when a call has none."""
    if is_uri(root):
        from harness.golden.cluster import ClusterStorage

        return ClusterStorage(str(root), session)
    from harness.golden.disk import DiskStorage

    return DiskStorage(Path(root))


class GoldenStore:
    """Read, verify, write (atomically, versioned), restore and list golden outputs."""

    def __init__(self, root: str | Path, session: Callable[[], SparkSession] | None = None) -> None:
        self.storage = storage_for(root, session)
        self.root = self.storage.root

    def path(self, ref: GoldenRef) -> Path:
        """The golden's folder on this machine (disk storage only: tests, tools)."""
        return Path(self.storage.where(ref))

    def versions(self, ref: GoldenRef) -> list[str]:
        return self.storage.versions(ref)

    def current_version(self, ref: GoldenRef) -> str | None:
        """The version in force: the one a model's approval in progress names for it
        (:mod:`.journal`), else the one its pointer names."""
        record = pending(self.storage.journal_text(ref.model, ref.dataset))
        if record is not None and ref.output in record["outputs"]:
            return str(record["outputs"][ref.output])
        return self.storage.current(ref)

    def exists(self, ref: GoldenRef) -> bool:
        return self.current_version(ref) is not None

    def missing_message(self, ref: GoldenRef) -> str:
        dataset = "" if ref.dataset == "sample" else f" --harness-dataset {ref.dataset}"
        return (
            f"no golden for {ref} in {self.root} — capture it from the legacy platform "
            f"(harness capture {ref.model} --dataset {ref.dataset}), import an export "
            f"(harness golden import {ref.model} {ref.output} FILES --dataset {ref.dataset}), "
            f"or, for an approved new output, run pytest -k {ref.model}{dataset} "
            f"--harness-update-golden --harness-reason '<approval ref>'"
        )

    # ------------------------------------------------------------------------ verifying

    def _version(self, ref: GoldenRef, version: str | None = None) -> str:
        """``version``, else the one in force; a clear error when there is none."""
        version = version or self.current_version(ref)
        if version is None:
            raise GoldenError(self.missing_message(ref))
        return version

    def manifest(self, ref: GoldenRef, version: str | None = None) -> dict[str, Any]:
        version = self._version(ref, version)
        where = self.storage.where(ref, version)
        text = self.storage.manifest_text(ref, version)
        if text is None:
            raise GoldenError(
                f"{where}: golden {ref} {version} has no manifest (the version in force "
                f"is not there); restore one with harness golden restore {ref.model} "
                f"{ref.output} --dataset {ref.dataset}"
            )
        try:
            manifest = json.loads(text)
        except ValueError as exc:
            raise GoldenError(
                f"{where}/{MANIFEST}: golden manifest is not valid JSON ({exc})"
            ) from None
        for name in MANIFEST_FIELDS:
            if name not in manifest:
                raise GoldenError(f"{where}/{MANIFEST}: golden manifest lacks '{name}'")
        if manifest["provenance"].get("source") == "proposal":
            # A proposal's approval is a note written after it (the manifest never changes).
            for note, key in ((APPROVAL, "approval"), (DISCARDED, "discarded")):
                text = self.storage.note_text(ref, version, note)
                if text is not None:
                    manifest["provenance"][key] = json.loads(text)
        return manifest

    def status(
        self,
        ref: GoldenRef,
        version: str,
        manifest: dict[str, Any] | None = None,
        current: str | None = None,
    ) -> str:
        """What ``version`` is to the golden: one of ``STATUSES`` (``current``: the version
        in force, when the caller has it at hand)."""
        if version == (current or self.current_version(ref)):
            return "current"
        prov = (manifest or self.manifest(ref, version))["provenance"]
        if prov.get("source") != "proposal":
            return "earlier"
        if "approval" in prov:
            return "approved"
        return "discarded" if "discarded" in prov else "candidate"

    def verify(self, ref: GoldenRef, version: str | None = None) -> dict[str, Any]:
        """The manifest, after checking the data against it: a corrupt golden never passes."""
        version = self._version(ref, version)
        manifest = self.manifest(ref, version)
        self.storage.verify(ref, version, manifest)
        return manifest

    def read(self, spark: SparkSession, ref: GoldenRef) -> tuple[DataFrame, dict[str, Any]]:
        """The verified golden in force as a DataFrame, with its manifest."""
        version = self._version(ref)
        manifest = self.verify(ref, version)
        return self.storage.read(spark, ref, version, manifest), manifest

    # -------------------------------------------------------------------------- writing

    def write(
        self,
        spark: SparkSession,
        df: DataFrame,
        ref: GoldenRef,
        *,
        keys: list[str],
        provenance: dict[str, Any],
        keep: int = KEEP_VERSIONS,
        candidate: bool = False,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Write a new version and put it in force atomically. Returns the manifest.
        A ``candidate`` (source ``proposal``) is written complete but never put in force:
        :meth:`approve` does that. ``version`` names it (a model's outputs proposed
        together share one number); by default the next number."""
        from harness.golden.summary import render_summary

        if provenance.get("source") not in SOURCES:
            raise GoldenError(f"provenance source must be one of {SOURCES}")
        if provenance.get("source") == "refresh" and not provenance.get("reason"):
            raise GoldenError("a golden refresh needs a reason (--harness-reason 'CR-123: ...')")
        if candidate != (provenance.get("source") == "proposal"):
            raise GoldenError("a candidate golden is exactly one written by a proposal")
        self.settle(ref.model, ref.dataset)
        with self.storage.guard(ref) as expected:
            previous = self.current_version(ref)
            existing = self.versions(ref)
            version = version or self.next_version(ref)
            if version in existing:
                raise GoldenError(f"{self.storage.where(ref, version)}: golden {ref} has {version}")
            ordered = df.sortWithinPartitions(*keys) if keys else df
            staged = None
            try:
                staged = self.storage.stage(spark, ordered, ref, version)
                version = staged.version or version
                fault("after-data")
                manifest = self._manifest(ref, version, keys, df, staged, previous, provenance)
                text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
                self.storage.commit(ref, version, staged, text)
                fault("after-manifest")
                if candidate:  # complete, never in force: approve() switches to it
                    return manifest
                fault("before-switch")
                self.storage.switch(ref, version, text, render_summary(manifest), expected)
            except Exception as exc:  # a full disk, an I/O error, a writer that got in first
                raise self._failed(ref, version, staged, exc) from None
            self.storage.prune(ref, self._kept(ref, version, keep))
        return manifest

    def _manifest(
        self,
        ref: GoldenRef,
        version: str,
        keys: list[str],
        df: DataFrame,
        staged: Staged,
        previous: str | None,
        provenance: dict[str, Any],
    ) -> dict[str, Any]:
        from harness.golden.summary import column_stats

        return {
            "format": FORMAT,
            "model": ref.model,
            "dataset": ref.dataset,
            "output": ref.output,
            "version": version,
            "keys": list(keys),
            **staged.integrity,
            "schema": [
                {"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields
            ],
            "spark_schema": json.loads(df.schema.json()),
            "stats": column_stats(staged.frame),
            "provenance": {
                "created_at": now(),
                "created_by": who(),
                "previous_version": previous,
                **provenance,
            },
        }

    def _failed(
        self, ref: GoldenRef, version: str, staged: Staged | None, exc: BaseException
    ) -> GoldenError:
        """One line for a write that failed: the golden, what failed and why, what is in
        force now, and what became of the partial version (removed, or quarantined)."""
        why = str(exc) if isinstance(exc, GoldenError) else io_failure(exc)
        try:
            done = self.storage.discard(ref, version, staged)
        except Exception as cleanup:  # the storage is failing: say so, never hide the cause
            done = f"the partial {version} is left at {self.storage.where(ref, version)} " + (
                f"({first_line(cleanup)})"
            )
        try:
            in_force = self.current_version(ref) or "no version"
        except Exception:
            in_force = "the previous version"
        return GoldenError(
            f"golden {ref} was not written: {why}; {in_force} stays in force and {done}"
        )

    def next_version(self, ref: GoldenRef) -> str:
        existing = self.versions(ref)
        return f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"

    def approve(self, ref: GoldenRef, version: str, record: dict[str, Any]) -> dict[str, Any]:
        """Put candidate ``version`` of one output in force (:meth:`approve_all`)."""
        return self.approve_all(version, {ref: record})[ref]

    def approve_all(
        self, version: str, records: dict[GoldenRef, dict[str, Any]]
    ) -> dict[GoldenRef, dict[str, Any]]:
        """Put candidate ``version`` of outputs of one model and dataset in force, as one
        step: each verified and its ``record`` (who approved, when, any override) written
        beside it; then, for several outputs, the switch record (:mod:`.journal`), the
        commit point; then each output's pointer. A crash before the commit point leaves
        every output's version in force unchanged, one after it leaves all approved."""
        refs = list(records)
        scopes = {(r.model, r.dataset) for r in refs}
        if len(scopes) != 1:
            raise GoldenError("one approval puts outputs of one model and dataset in force")
        ((model, dataset),) = scopes
        self.settle(model, dataset)
        with ExitStack() as stack:
            expected = {ref: stack.enter_context(self.storage.guard(ref)) for ref in refs}
            replaced = {}
            for ref in refs:
                self._candidate(ref, version, allow_approved=True)
                self.verify(ref, version)
                replaced[ref.output] = self.current_version(ref)
            for ref, record in records.items():
                self.storage.put_note(ref, version, APPROVAL, json.dumps(record, sort_keys=True))
            fault("after-approval")
            journal = len(refs) > 1  # one pointer switches atomically by itself
            if journal:
                targets = {r.output: version for r in refs}
                self.storage.put_journal(model, dataset, record_text(version, targets, replaced))
                fault("after-switch-record")
            manifests = {}
            for i, ref in enumerate(refs):
                fault("before-approval-switch" if i == 0 else "between-approval-switches")
                manifests[ref] = self.manifest(ref, version)
                self._switch_to(ref, version, manifests[ref], expected[ref])
            if journal:
                self.storage.clear_journal(model, dataset)
        return manifests

    def settle(self, model: str, dataset: str) -> list[str]:
        """Finish an approval cut short after its commit point (:mod:`.journal`): switch the
        pointers its record names, then clear it. Returns the outputs switched now."""
        record = pending(self.storage.journal_text(model, dataset))
        if record is None:
            return []
        switched = []
        for output, version in record["outputs"].items():
            ref = GoldenRef(model, dataset, output)
            with self.storage.guard(ref) as expected:
                if self.storage.current(ref) == version:
                    continue
                self._switch_to(ref, version, self.manifest(ref, version), expected)
                switched.append(output)
        self.storage.clear_journal(model, dataset)
        return switched

    def _switch_to(
        self, ref: GoldenRef, version: str, manifest: dict[str, Any], expected: Any
    ) -> None:
        """Put complete ``version`` in force (the storage's one-step switch), its summary
        rendered from ``manifest``."""
        from harness.golden.summary import render_summary

        text = self.storage.manifest_text(ref, version) or ""
        self.storage.switch(ref, version, text, render_summary(manifest), expected)

    def discard(self, ref: GoldenRef, version: str, record: dict[str, Any]) -> None:
        """Set an unapproved candidate aside (it stays listed, marked discarded)."""
        self._candidate(ref, version)
        self.storage.put_note(ref, version, DISCARDED, json.dumps(record, sort_keys=True))

    def candidates(self, ref: GoldenRef) -> list[str]:
        """The versions proposed and neither approved nor discarded."""
        return [v for v in self.versions(ref) if self._status_or_none(ref, v) == "candidate"]

    def _status_or_none(self, ref: GoldenRef, version: str) -> str | None:
        try:
            return self.status(ref, version)
        except GoldenError:
            return None

    def _candidate(self, ref: GoldenRef, version: str, *, allow_approved: bool = False) -> None:
        """``version`` is a candidate of ``ref`` (or, ``allow_approved``, one whose approval
        was recorded but whose switch did not happen); else one clear error."""
        if version not in self.versions(ref):
            raise GoldenError(
                f"{self.storage.where(ref)}: golden {ref} has no version {version} "
                f"(candidates: {', '.join(self.candidates(ref)) or 'none'})"
            )
        status = self.status(ref, version)
        if status == "candidate" or (allow_approved and status == "approved"):
            return
        raise GoldenError(
            f"{self.storage.where(ref, version)}: golden {ref} {version} is {status}, not a "
            f"candidate (candidates: {', '.join(self.candidates(ref)) or 'none'})"
        )

    def _kept(self, ref: GoldenRef, current: str, keep: int) -> list[str]:
        """The newest ``keep`` versions, the one in force and every open candidate always
        among them (a candidate goes only by approval or discarding)."""
        open_ = [v for v in self.versions(ref) if self._status_or_none(ref, v) == "candidate"]
        others = [v for v in self.versions(ref) if v != current and v not in open_]
        return sorted({*others[max(0, len(others) - (keep - 1)) :], current, *open_})

    def restore(self, ref: GoldenRef, version: str) -> dict[str, Any]:
        """Put an earlier version back in force (after verifying it)."""
        if version not in self.versions(ref):
            raise GoldenError(
                f"{self.storage.where(ref)}: golden {ref} has no version {version} "
                f"(versions: {', '.join(self.versions(ref)) or 'none'})"
            )
        self.settle(ref.model, ref.dataset)
        with self.storage.guard(ref) as expected:
            manifest = self.verify(ref, version)
            if self.status(ref, version, manifest) in ("candidate", "discarded"):
                raise GoldenError(
                    f"{self.storage.where(ref, version)}: {version} of {ref} is a proposal never "
                    f"approved; review it, then harness approve {ref.model} --candidate {version}"
                )
            self._switch_to(ref, version, manifest, expected)
        return manifest

    def history(self, ref: GoldenRef) -> list[dict[str, Any]]:
        current = self.current_version(ref)
        out = []
        for version in self.versions(ref):
            try:
                manifest = self.manifest(ref, version)
                prov = manifest["provenance"]
                status = self.status(ref, version, manifest, current)
            except GoldenError as exc:
                prov, status = {"error": str(exc)}, ""
            out.append(
                {"version": version, "current": version == current, "status": status, **prov}
            )
        return out
