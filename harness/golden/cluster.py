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
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from harness.errors import GoldenError, first_line
from harness.golden.base import MANIFEST, SUMMARY, GoldenRef, Staged, now, who

POINTERS = "pointers"
_VERSION_MANIFEST = re.compile(r"/(v\d{4})/" + re.escape(MANIFEST) + r"/[^/]+$")
_POINTER = re.compile(r"/" + POINTERS + r"/p(\d{6})\.json/[^/]+$")


class GoldenPointerWarning(UserWarning):
    """A pointer object that does not verify was skipped (an interrupted switch)."""


def _missing(exc: Exception) -> bool:
    """The error Spark raises for a path that is not there."""
    return "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc)


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


def content_digest(df: DataFrame) -> dict[str, Any]:
    """Rows and an order-independent digest of every row's values, computed by Spark in
    one aggregation: the sums of two independent row hashes (64-bit xxhash64 and 32-bit
    murmur3), so neither the order of rows nor their partitioning matters."""
    parts = [c for f in df.schema.fields for c in _hashable(f)] or [F.lit(0)]
    row = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.xxhash64(*parts).cast("decimal(38,0)")).alias("h64"),
        F.sum(F.hash(*parts).cast("bigint")).alias("h32"),
    ).collect()[0]
    return {
        "rows": int(row["rows"]),
        "digest": f"xxhash64:{row['h64'] or 0}/murmur3:{row['h32'] or 0}",
    }


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
        """One small text object, written by Spark as a single part."""
        frame = self._spark().createDataFrame([(text,)], "value string").coalesce(1)
        try:
            writer = frame.write.mode("overwrite") if replace else frame.write  # default: error
            writer.text(uri)
        except Exception as exc:
            raise GoldenError(f"{uri}: could not write ({first_line(exc)})") from None

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
        """The complete versions (those with a manifest)."""
        found = {
            m.group(1) for p in self._files(self._base(ref)) if (m := _VERSION_MANIFEST.search(p))
        }
        return sorted(found)

    def manifest_text(self, ref: GoldenRef, version: str) -> str | None:
        key = (ref, version)
        if key not in self._manifests:
            text = self._get(f"{self.where(ref, version)}/{MANIFEST}")
            if text is None:
                return None
            self._manifests[key] = text
        return self._manifests[key]

    def _pointers(self, ref: GoldenRef) -> list[tuple[int, str, str | None]]:
        """(number, location, text) of every pointer object, newest first; the text is None
        for one that cannot be read. All in one read; one by one if that fails."""
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
        found = [
            (int(m.group(1)), path, text) for path, text in rows if (m := _POINTER.search(path))
        ]
        return sorted(found, key=lambda p: p[0], reverse=True)

    def _check(self, ref: GoldenRef, text: str | None) -> tuple[str | None, str]:
        """The version a pointer names if it verifies, else None and why not."""
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
        for number, path, text in pointers:
            version, why = self._check(ref, text)
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

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        """Write the data by the executors (overwriting what a crashed write of the same,
        never completed version left), then count and digest what was written."""
        self._session = self._session or (lambda: spark)
        uri = f"{self.where(ref, version)}/data"
        try:
            df.write.mode("overwrite").parquet(uri)
            frame = spark.read.schema(df.schema).parquet(uri)
            integrity = content_digest(frame)
        except Exception as exc:
            raise GoldenError(f"could not write golden {ref} to {uri}: {first_line(exc)}") from None
        return Staged(integrity, frame)

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        self._put(f"{self.where(ref, version)}/{MANIFEST}", manifest, replace=True)
        self._manifests[(ref, version)] = manifest

    def switch(self, ref: GoldenRef, version: str, manifest: str, summary: str) -> None:
        """A summary for readers, then the new pointer, last: the switch itself."""
        self._put(f"{self._base(ref)}/{SUMMARY}", summary, replace=True)
        pointers = self._pointers(ref)
        number = (pointers[0][0] + 1) if pointers else 1
        body = {
            "version": version,
            "manifest_sha256": _sha(manifest),
            "number": number,
            "written_at": now(),
            "written_by": who(),
        }
        body["check"] = _sha(json.dumps(body, sort_keys=True))
        self._put(
            f"{self._base(ref)}/{POINTERS}/p{number:06d}.json",
            json.dumps(body, sort_keys=True),
            replace=False,
        )

    def prune(self, ref: GoldenRef, keep: list[str]) -> None:
        """Kept: old versions go by the storage's lifecycle rules (no portable delete)."""

    def note_text(self, ref: GoldenRef, version: str, name: str) -> str | None:
        return self._get(f"{self.where(ref, version)}/{name}", strict=False)

    def put_note(self, ref: GoldenRef, version: str, name: str, text: str) -> None:
        self._put(f"{self.where(ref, version)}/{name}", text, replace=True)

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
        where = self.where(ref, version)
        if "digest" not in manifest:
            raise GoldenError(f"{where}/{MANIFEST}: golden manifest lacks 'digest'")
        try:
            found = content_digest(self._frame(self._spark(), ref, version, manifest))
        except GoldenError:
            raise
        except Exception as exc:
            raise GoldenError(
                f"{where}/data: golden data cannot be read by the cluster, corrupted or "
                f"incomplete ({first_line(exc)}); restore a version with harness golden restore"
            ) from None
        if found["rows"] != manifest["rows"]:
            raise GoldenError(
                f"{where}/data: golden {ref} has {found['rows']} rows, manifest says "
                f"{manifest['rows']} (files were added or removed)"
            )
        if found["digest"] != manifest["digest"]:
            raise GoldenError(
                f"{where}/data: golden data was modified or corrupted (content digest "
                f"{found['digest']} != manifest {manifest['digest']}); goldens change only "
                "through --update-golden or harness golden import"
            )

    def read(
        self, spark: SparkSession, ref: GoldenRef, version: str, manifest: dict[str, Any]
    ) -> DataFrame:
        return self._frame(spark, ref, version, manifest)
