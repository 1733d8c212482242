"""Goldens where the cluster keeps its data: any URI Spark reads and writes (``file:``,
``abfss://``, ``dbfs:/Volumes/...``), with every byte read and written by Spark.

Nothing of a golden passes through the client: the data is written by the executors,
the manifest and the pointer are small JSON objects written through Spark (one text part
each), and integrity is verified on the cluster: the row count and an order-independent
content digest (:func:`content_digest`) that Spark computes over the rows, against the
manifest's. A client that cannot see the storage (Databricks Connect from a laptop) works
the same as a job on the cluster.

Object stores cannot rename atomically, so the version in force is not a file that is
replaced: each switch writes a new, numbered pointer object (``pointers/p000007.json``)
last, naming the version and the sha256 of its manifest, with a checksum of its own. The
newest pointer that verifies is in force; one that does not (a write cut short) is skipped
with a warning, so the previous version stays in force. Old versions are kept: removing
them is left to the storage's lifecycle rules (Spark has no portable delete).

Two writers at once, without a lock (there is none portable to object stores): a version's
data is written only where no folder is (Spark's ``errorifexists``; a taken number, by a
writer still at work or one that crashed, is skipped), and the switch is a compare-and-swap
of the pointer: it fails when a pointer newer than the one in force when the write began
exists, or when the next number is taken, and it reads its pointer back (two writers that
passed the existence check at the same instant leave a pointer of two parts, which no
reader takes). A version whose write failed is quarantined with a ``QUARANTINED`` object.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from harness.errors import GoldenError, first_line
from harness.golden.base import (
    MANIFEST,
    SUMMARY,
    GoldenRef,
    Staged,
    error_text,
    io_failure,
    now,
    who,
)
from harness.golden.journal import SWITCH, done_text

POINTERS = "pointers"
QUARANTINED = "QUARANTINED"  # beside a version whose write failed: never listed, never in force
_VERSION_MANIFEST = re.compile(r"/(v\d{4})/" + re.escape(MANIFEST) + r"/[^/]+$")
_VERSION_QUARANTINED = re.compile(r"/(v\d{4})/" + QUARANTINED + r"/[^/]+$")
_POINTER = re.compile(r"/" + POINTERS + r"/p(\d{6})\.json/[^/]+$")
_SKIPS = 100  # version numbers a write may skip (taken by other writers or crashed ones)


class GoldenSummaryWarning(UserWarning):
    """A version was put in force, but its summary (for readers) could not be written."""


class _Taken(GoldenError):
    """The object a write would create is there already (another writer's)."""


class GoldenPointerWarning(UserWarning):
    """A pointer object that does not verify was skipped (an interrupted switch)."""


def _missing(exc: Exception) -> bool:
    """The error Spark raises for a path that is not there."""
    return "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc)


def _exists(exc: Exception) -> bool:
    """The error Spark raises for an ``errorifexists`` write to a path that is there."""
    return "PATH_ALREADY_EXISTS" in str(exc) or "already exists" in str(exc)


def _unline(text: str) -> str:
    """An object's text without the line end Spark's text writer added to it."""
    return text[:-1] if text.endswith("\n") else text


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hashable(field: T.StructField) -> list[Column]:
    """A column as hash input, with its null flag (so (NULL, 1) and (1, NULL) differ);
    maps, which Spark cannot hash, as their JSON."""
    col = F.col(f"`{field.name.replace('`', '``')}`")
    value = F.to_json(col) if isinstance(field.dataType, T.MapType) else col
    return [value, col.isNull()]


def _pointer_text(version: str, manifest: str, number: int) -> str:
    """Pointer ``number``'s object: the version, its manifest's sha256, who wrote it, a
    nonce (two writers never write the same text) and a checksum of all that."""
    body = {
        "version": version,
        "manifest_sha256": _sha(manifest),
        "number": number,
        "written_at": now(),
        "written_by": who(),
        "nonce": uuid.uuid4().hex,
    }
    body["check"] = _sha(json.dumps(body, sort_keys=True))
    return json.dumps(body, sort_keys=True)


def _file_named(exc: BaseException, files: dict[str, Any]) -> str | None:
    """The data file a read error names: one of the manifest's, else a Spark part file."""
    text = error_text(exc)
    for name in files:
        if name in text:
            return name
    found = re.search(r"/(part-[\w.-]+?\.parquet)\b", text)
    return found.group(1) if found else None


def _read_failure(exc: BaseException) -> str:
    """Why a golden could not be read, in one line: the reader's own complaint (a checksum,
    a Parquet page that does not decode) rather than the wrapper around it."""
    for line in error_text(exc).splitlines():
        line = line.strip().removeprefix(": ")
        if re.search(
            r"Checksum|checksum error|ParquetDecodingException|can not read|"
            r"is not a Parquet file|EOFException|corrupt",
            line,
            re.IGNORECASE,
        ):
            return line[:300]
    return first_line(exc)


def _digest(rows: int, h64: Any, h32: Any) -> dict[str, Any]:
    return {"rows": int(rows), "digest": f"xxhash64:{h64 or 0}/murmur3:{h32 or 0}"}


def content_digest(df: DataFrame) -> dict[str, Any]:
    """Rows and an order-independent digest of every row's values, computed by Spark in
    one aggregation: the sums of two independent row hashes (64-bit xxhash64 and 32-bit
    murmur3), so neither the order of rows nor their partitioning matters."""
    row = df.agg(*_digest_columns(df)).collect()[0]
    return _digest(row["rows"], row["h64"], row["h32"])


def file_digests(df: DataFrame) -> dict[str, Any]:
    """:func:`content_digest` of a frame read from files, and the same per file (``files``:
    part name -> rows and digest), in one aggregation: a damaged golden's error can then
    name the file."""
    found = (
        df.select("*", F.col("_metadata.file_path").alias("_file"))
        .groupBy("_file")
        .agg(*_digest_columns(df))
        .collect()
    )
    files = {
        str(r["_file"]).rsplit("/", 1)[-1]: _digest(r["rows"], r["h64"], r["h32"]) for r in found
    }
    total = _digest(
        sum(int(r["rows"]) for r in found),
        sum(int(r["h64"] or 0) for r in found),
        sum(int(r["h32"] or 0) for r in found),
    )
    return {**total, "files": files}


def _digest_columns(df: DataFrame) -> list[Column]:
    parts = [c for f in df.schema.fields for c in _hashable(f)] or [F.lit(0)]
    return [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.xxhash64(*parts).cast("decimal(38,0)")).alias("h64"),
        F.sum(F.hash(*parts).cast("bigint")).alias("h32"),
    ]


class ClusterStorage:
    """A golden root that is a URI: Spark reads and writes everything under it."""

    def __init__(self, root: str, session: Callable[[], SparkSession] | None = None):
        self.root = root.rstrip("/")
        self._session = session
        self._manifests: dict[tuple[GoldenRef, str], str] = {}  # complete versions never change

    def _spark(self) -> SparkSession:
        if self._session is None:
            raise GoldenError(
                f"golden root {self.root} is the cluster's storage, read and written by "
                "Spark: this command needs a session (--backend / --remote)"
            )
        return self._session()

    def _base(self, ref: GoldenRef) -> str:
        return f"{self.root}/{ref.model}/{ref.dataset}/{ref.output}"

    def where(self, ref: GoldenRef, version: str | None = None) -> str:
        return f"{self._base(ref)}/{version}" if version else self._base(ref)

    # ---------------------------------------------------------------- small objects

    def _files(self, uri: str) -> list[str]:
        """Every file under ``uri`` (Spark lists; no content is read); [] if none."""
        spark = self._spark()
        try:
            rows = (
                spark.read.format("binaryFile")
                .option("recursiveFileLookup", "true")
                .load(uri)
                .select("path")
                .collect()
            )
        except Exception as exc:
            if _missing(exc):
                return []
            raise GoldenError(f"{uri}: cannot list the golden store ({first_line(exc)})") from None
        return [r["path"] for r in rows]

    def _put(self, uri: str, text: str, *, replace: bool) -> None:
        """One small text object, written by Spark as a single part; not ``replace``: only
        where none is (else :class:`_Taken`)."""
        frame = self._spark().createDataFrame([(text,)], "value string").coalesce(1)
        try:
            writer = frame.write.mode("overwrite") if replace else frame.write  # default: error
            writer.text(uri)
        except Exception as exc:
            if not replace and _exists(exc):
                raise _Taken(f"{uri} exists") from None
            raise GoldenError(f"writing {uri} failed: {io_failure(exc)}") from None

    def _get(self, uri: str, *, strict: bool = True) -> str | None:
        """The object's text; None when it is not there (or, not ``strict``, unreadable)."""
        spark = self._spark()
        try:
            rows = spark.read.text(uri, wholetext=True).collect()
        except Exception as exc:
            if _missing(exc) or not strict:
                return None
            raise GoldenError(f"{uri}: cannot read ({first_line(exc)})") from None
        if not rows:
            return None
        return _unline("".join(r["value"] for r in rows))

    # -------------------------------------------------------------------- versions

    def versions(self, ref: GoldenRef) -> list[str]:
        """The complete versions (those with a manifest, not quarantined)."""
        files = self._files(self._base(ref))
        found = {m.group(1) for p in files if (m := _VERSION_MANIFEST.search(p))}
        quarantined = {m.group(1) for p in files if (m := _VERSION_QUARANTINED.search(p))}
        return sorted(found - quarantined)

    def manifest_text(self, ref: GoldenRef, version: str) -> str | None:
        key = (ref, version)
        if key not in self._manifests:
            text = self._get(f"{self.where(ref, version)}/{MANIFEST}")
            if text is None:
                return None
            self._manifests[key] = text
        return self._manifests[key]

    def _pointers(self, ref: GoldenRef) -> list[tuple[int, str, list[str | None]]]:
        """(number, location, texts) of every pointer object, newest first: the text of each
        of its parts (one, unless two writers wrote it at once), None for one that cannot be
        read. All in one read; one by one if that fails."""
        uri = f"{self._base(ref)}/{POINTERS}"
        spark = self._spark()
        rows: list[tuple[str, str | None]]
        try:
            rows = [
                (r["path"], _unline(r["value"]))
                for r in spark.read.text(uri, wholetext=True, recursiveFileLookup=True)
                .select("value", F.col("_metadata.file_path").alias("path"))
                .collect()
            ]
        except Exception as exc:
            if _missing(exc):
                return []
            rows = [(path, self._get(path, strict=False)) for path in self._files(uri)]
        found: dict[int, tuple[str, list[str | None]]] = {}
        for path, text in sorted(rows, key=lambda r: r[0]):
            if m := _POINTER.search(path):
                found.setdefault(int(m.group(1)), (path.rsplit("/", 1)[0], []))[1].append(text)
        return [(n, *found[n]) for n in sorted(found, reverse=True)]

    def _check(self, ref: GoldenRef, texts: list[str | None]) -> tuple[str | None, str]:
        """The version a pointer names if it verifies, else None and why not."""
        if len(texts) != 1:
            return None, f"{len(texts)} refreshes wrote it at once"
        text = texts[0]
        if text is None:
            return None, "it cannot be read"
        try:
            pointer = json.loads(text)
            body = {k: v for k, v in pointer.items() if k != "check"}
        except (ValueError, AttributeError):
            return None, "not valid JSON"
        if pointer.get("check") != _sha(json.dumps(body, sort_keys=True)):
            return None, "its checksum does not match its content"
        manifest = self.manifest_text(ref, str(body.get("version")))
        if manifest is None:
            return None, f"it names {body.get('version')}, which has no manifest"
        if _sha(manifest) != body.get("manifest_sha256"):
            return None, f"the manifest of {body['version']} is not the one it names"
        return str(body["version"]), ""

    def current(self, ref: GoldenRef) -> str | None:
        pointers = self._pointers(ref)
        for number, path, texts in pointers:
            version, why = self._check(ref, texts)
            if version is not None:
                return version
            warnings.warn(
                GoldenPointerWarning(
                    f"{path}: golden pointer p{number:06d} skipped ({why}); the previous "
                    "pointer's version stays in force"
                ),
                stacklevel=2,
            )
        if pointers:
            raise GoldenError(
                f"{self._base(ref)}/{POINTERS}: none of the {len(pointers)} golden pointers "
                "verifies; restore a version with harness golden restore"
            )
        return None

    # -------------------------------------------------------------------- writing

    @contextmanager
    def guard(self, ref: GoldenRef) -> Iterator[int]:
        """No lock (none is portable to object stores): the newest pointer's number, which
        :meth:`switch` compares with."""
        pointers = self._pointers(ref)
        yield pointers[0][0] if pointers else 0

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        """Write the data by the executors where no folder is (a number taken by another
        writer, at work or crashed, is skipped: never overwritten), then count and digest
        what was written."""
        self._session = self._session or (lambda: spark)
        number = int(version[1:])
        for attempt in range(number, number + _SKIPS):
            version = f"v{attempt:04d}"
            uri = f"{self.where(ref, version)}/data"
            try:
                df.write.parquet(uri)  # errorifexists
            except Exception as exc:
                if _exists(exc):
                    continue
                raise GoldenError(f"writing its data to {uri} failed: {io_failure(exc)}") from None
            try:
                frame = spark.read.schema(df.schema).parquet(uri)
                found = file_digests(frame)
                integrity = {
                    "rows": found["rows"],
                    "digest": found["digest"],
                    "file_digests": found["files"],
                }
            except Exception as exc:
                raise GoldenError(
                    f"reading back its data at {uri} failed: {io_failure(exc)}"
                ) from None
            return Staged(integrity, frame, version=version)
        raise GoldenError(
            f"{self._base(ref)}: versions v{number:04d} to {version} are all taken by other "
            "writes; is a refresh looping? Remove the incomplete ones"
        )

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        try:
            self._put(f"{self.where(ref, version)}/{MANIFEST}", manifest, replace=False)
        except _Taken:
            raise GoldenError(
                f"another refresh wrote a manifest for {version} at the same time"
            ) from None
        except GoldenError as exc:
            raise GoldenError(f"writing its manifest failed: {exc}") from None
        self._manifests[(ref, version)] = manifest

    def switch(
        self, ref: GoldenRef, version: str, manifest: str, summary: str, expected: Any = None
    ) -> None:
        """The new pointer, the switch itself, as a compare-and-swap with ``expected`` (the
        newest pointer when the write began); then the summary, for readers (derived from
        the manifest: a failure to write it is a warning, and the next switch rewrites it)."""
        base = self._base(ref)
        pointers = self._pointers(ref)
        newest = pointers[0][0] if pointers else 0
        if expected is not None and newest != expected:
            raise GoldenError(self._changed(ref, pointers[0][2], newest, expected))
        number, text = newest + 1, ""
        for _ in range(_SKIPS):
            text = _pointer_text(version, manifest, number)
            try:
                self._put(f"{base}/{POINTERS}/p{number:06d}.json", text, replace=False)
                break
            except _Taken:
                seen = self._pointers(ref)
                if seen and seen[0][0] > newest:  # another writer switched meanwhile
                    raise GoldenError(self._changed(ref, seen[0][2], seen[0][0], newest)) from None
                number += 1  # a pointer nobody finished writing (a failed or crashed switch)
            except GoldenError as exc:
                raise GoldenError(f"writing its pointer failed: {exc}") from None
        else:
            raise GoldenError(f"{base}/{POINTERS}: {_SKIPS} pointer numbers taken, none readable")
        # Read back: this pointer must be the newest, and whole. Two writers that passed the
        # existence check at the same instant wrote two parts (a pointer no reader takes); a
        # writer that took a later number meanwhile is the one in force.
        seen = self._pointers(ref)
        if not seen or seen[0][0] != number or seen[0][2] != [text]:
            raise GoldenError(
                f"{base}/{POINTERS}/p{number:06d}.json: another refresh switched at the same moment"
            )
        try:
            self._put(f"{base}/{SUMMARY}", summary, replace=True)
        except GoldenError as exc:
            warnings.warn(
                GoldenSummaryWarning(
                    f"golden {ref}: {version} is in force, but its summary was not written "
                    f"({exc}); the next refresh or restore writes it"
                ),
                stacklevel=2,
            )

    def _changed(self, ref: GoldenRef, texts: list[str | None], number: int, since: int) -> str:
        """Why a switch lost: the pointer another writer wrote meanwhile, and by whom."""
        try:
            other = json.loads(texts[0] or "") if len(texts) == 1 else {}
        except ValueError:
            other = {}
        by = (
            f"{other.get('version')} by {other.get('written_by')} at {other.get('written_at')}"
            if other
            else "by another refresh"
        )
        return (
            f"golden {ref} changed while this refresh ran (pointer p{number:06d}, "
            f"{by}, is newer than p{since:06d}, in force when it began)"
        )

    def discard(self, ref: GoldenRef, version: str, staged: Staged | None) -> str:
        """No portable delete: a ``QUARANTINED`` object beside it keeps it out of the versions
        (a version without a manifest is not one anyway, and its number is never reused)."""
        where = self.where(ref, version)
        try:
            self._put(f"{where}/{QUARANTINED}", f"write failed at {now()} by {who()}", replace=True)
        except GoldenError as exc:
            why = str(exc).rsplit(" failed: ", 1)[-1]  # the cause, without the long URI again
            return (
                f"the partial {version} could not be quarantined ({why}): it is not in force "
                "and its number is never reused"
            )
        return f"the partial {version} was quarantined ({where}/{QUARANTINED})"

    def prune(self, ref: GoldenRef, keep: list[str]) -> None:
        """Kept: old versions go by the storage's lifecycle rules (no portable delete)."""

    def note_text(self, ref: GoldenRef, version: str, name: str) -> str | None:
        return self._get(f"{self.where(ref, version)}/{name}", strict=False)

    def put_note(self, ref: GoldenRef, version: str, name: str, text: str) -> None:
        self._put(f"{self.where(ref, version)}/{name}", text, replace=True)

    def _journal(self, model: str, dataset: str) -> str:
        return f"{self.root}/{model}/{dataset}/{SWITCH}"

    def journal_text(self, model: str, dataset: str) -> str | None:
        return self._get(self._journal(model, dataset), strict=False)

    def put_journal(self, model: str, dataset: str, text: str) -> None:
        """Overwritten (no rename on object stores): cut short, it does not verify, and a
        record that does not verify names nothing."""
        self._put(self._journal(model, dataset), text, replace=True)

    def clear_journal(self, model: str, dataset: str) -> None:
        self._put(self._journal(model, dataset), done_text(), replace=True)

    # ------------------------------------------------------------------- verifying

    def _frame(
        self, spark: SparkSession, ref: GoldenRef, version: str, manifest: dict[str, Any]
    ) -> DataFrame:
        if "spark_schema" not in manifest:
            raise GoldenError(
                f"{self.where(ref, version)}/{MANIFEST}: golden manifest lacks 'spark_schema'"
            )
        schema = T.StructType.fromJson(manifest["spark_schema"])
        return spark.read.schema(schema).parquet(f"{self.where(ref, version)}/data")

    def verify(self, ref: GoldenRef, version: str, manifest: dict[str, Any]) -> None:
        """Rows and content digest, computed on the cluster; per file where the manifest
        has them (goldens written since they were added), so an error names the file."""
        where = self.where(ref, version)
        if "digest" not in manifest:
            raise GoldenError(f"{where}/{MANIFEST}: golden manifest lacks 'digest'")
        expected = manifest.get("file_digests")
        try:
            frame = self._frame(self._spark(), ref, version, manifest)
            found = file_digests(frame) if expected is not None else content_digest(frame)
        except GoldenError:
            raise
        except Exception as exc:
            name = _file_named(exc, expected or {})
            raise GoldenError(
                f"{where}/data{'/' + name if name else ''}: golden data cannot be read by the "
                f"cluster, corrupted or incomplete ({_read_failure(exc)}); restore a version "
                "with harness golden restore"
            ) from None
        if expected is not None:
            self._verify_files(ref, where, expected, found["files"])
        if found["rows"] != manifest["rows"]:
            raise GoldenError(
                f"{where}/data: golden {ref} has {found['rows']} rows, manifest says "
                f"{manifest['rows']} (files were added or removed)"
            )
        if found["digest"] != manifest["digest"]:
            raise GoldenError(
                f"{where}/data: golden data was modified or corrupted (content digest "
                f"{found['digest']} != manifest {manifest['digest']}); goldens change only "
                "through pytest --harness-update-golden or harness golden import"
            )

    @staticmethod
    def _verify_files(
        ref: GoldenRef, where: str, expected: dict[str, Any], found: dict[str, Any]
    ) -> None:
        """Each data file against its manifest entry: the first difference, naming the file."""
        for name, want in sorted(expected.items()):
            got = found.get(name)
            if got is None:
                raise GoldenError(
                    f"{where}/data/{name}: golden data file is missing (golden {ref} has "
                    f"{sum(f['rows'] for f in found.values())} rows, manifest says "
                    f"{sum(f['rows'] for f in expected.values())})"
                )
            if got != want:
                raise GoldenError(
                    f"{where}/data/{name}: golden data was modified or corrupted (content "
                    f"digest {got['digest']}, {got['rows']} rows != manifest {want['digest']}, "
                    f"{want['rows']} rows); goldens change only through pytest "
                    "--harness-update-golden or harness golden import"
                )
        extra = sorted(set(found) - set(expected))
        if extra:
            raise GoldenError(
                f"{where}/data: unexpected data file(s) in golden {ref}: {', '.join(extra)}"
            )

    def read(
        self, spark: SparkSession, ref: GoldenRef, version: str, manifest: dict[str, Any]
    ) -> DataFrame:
        return self._frame(spark, ref, version, manifest)
