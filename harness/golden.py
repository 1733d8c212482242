"""The golden store: legacy outputs as Parquet, each with a manifest that says what it is.

Layout: ``<root>/<model>/<dataset>/<output>/``

* ``v0001/``, ``v0002/`` ... one folder per version: ``data/part-*.parquet`` and
  ``manifest.json`` (schema, rows, keys, per-file sha256, provenance, summary stats);
* ``CURRENT``: the version in force, replaced atomically (``os.replace``) as the very last
  step of a write, so a crash or Ctrl-C mid-refresh leaves the previous golden in force;
* ``summary.ambr``: a small text snapshot (syrupy's amber format) of the current version's
  schema, row count and statistics, so a refresh shows up as a readable diff in review.

Previous versions stay retrievable (``harness golden history`` / ``restore``).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from harness.backends import sees_local_files
from harness.errors import GoldenError, first_line
from harness.fixtures import sha256_file

FORMAT = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SUMMARY = "summary.ambr"
KEEP_VERSIONS = 5
SOURCES = ("legacy-emulation", "refresh", "imported")  # capture, --update-golden, import


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _who() -> str:
    try:
        user = os.environ.get("HARNESS_USER") or getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _fault(point: str) -> None:
    """Test hook: simulate a crash at ``point`` (used by the interrupted-refresh tests)."""
    if os.environ.get("HARNESS_FAULT") == point:
        os._exit(137)


@dataclass(frozen=True)
class GoldenRef:
    model: str
    dataset: str
    output: str

    def __str__(self) -> str:
        return f"{self.model}/{self.dataset}/{self.output}"


class GoldenStore:
    """Read, verify, write (atomically, versioned) and import golden outputs."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, ref: GoldenRef) -> Path:
        return self.root / ref.model / ref.dataset / ref.output

    def versions(self, ref: GoldenRef) -> list[str]:
        base = self.path(ref)
        return (
            sorted(p.name for p in base.glob("v[0-9][0-9][0-9][0-9]") if p.is_dir())
            if base.is_dir()
            else []
        )

    def current_version(self, ref: GoldenRef) -> str | None:
        pointer = self.path(ref) / CURRENT
        if not pointer.is_file():
            return None
        return pointer.read_text().strip() or None

    def exists(self, ref: GoldenRef) -> bool:
        return self.current_version(ref) is not None

    def missing_message(self, ref: GoldenRef) -> str:
        return (
            f"no golden for {ref} in {self.root} — capture it from the legacy platform "
            f"(harness capture {ref.model} --dataset {ref.dataset}), import an export "
            f"(harness golden import {ref.model} {ref.output} FILES --dataset {ref.dataset}), "
            f"or, for an approved new output, run pytest -k {ref.model} --update-golden "
            f"--reason '<approval ref>'"
        )

    # ------------------------------------------------------------------------ verifying

    def _version(self, ref: GoldenRef, version: str | None = None) -> str:
        """``version``, else the one CURRENT points to; a clear error when there is none."""
        version = version or self.current_version(ref)
        if version is None:
            raise GoldenError(self.missing_message(ref))
        return version

    def manifest(self, ref: GoldenRef, version: str | None = None) -> dict[str, Any]:
        version = self._version(ref, version)
        path = self.path(ref) / version / MANIFEST
        if not path.is_file():
            raise GoldenError(
                f"{path}: golden {ref} {version} has no manifest (CURRENT points "
                f"to a version that is not there); restore one with harness "
                f"golden restore {ref.model} {ref.output} --dataset {ref.dataset}"
            )
        try:
            manifest = json.loads(path.read_text())
        except ValueError as exc:
            raise GoldenError(f"{path}: golden manifest is not valid JSON ({exc})") from None
        for field in ("schema", "rows", "files", "keys", "provenance"):
            if field not in manifest:
                raise GoldenError(f"{path}: golden manifest lacks '{field}'")
        return manifest

    def verify(self, ref: GoldenRef, version: str | None = None) -> dict[str, Any]:
        """Check every data file against the manifest; a corrupt golden is never a pass."""
        manifest = self.manifest(ref, version)
        base = self.path(ref) / self._version(ref, version)
        present = {str(p.relative_to(base)) for p in (base / "data").rglob("*.parquet")}
        for name, sha in manifest["files"].items():
            file = base / name
            if not file.is_file():
                raise GoldenError(
                    f"{file}: golden data file is missing (golden {ref} is "
                    "incomplete; restore it from version control or history)"
                )
            actual = sha256_file(file)
            if actual != sha:
                raise GoldenError(
                    f"{file}: golden data was modified or corrupted (sha256 "
                    f"{actual[:12]} != manifest {sha[:12]}); goldens change only "
                    "through --update-golden or harness golden import"
                )
        extra = present - set(manifest["files"])
        if extra:
            raise GoldenError(
                f"{base}: unexpected data file(s) in golden {ref}: {', '.join(sorted(extra))}"
            )
        rows = 0
        for name in manifest["files"]:
            try:
                rows += pq.read_metadata(base / name).num_rows
            except Exception as exc:
                raise GoldenError(f"{base / name}: golden Parquet cannot be read ({exc})") from None
        if rows != manifest["rows"]:
            raise GoldenError(
                f"{base}: golden {ref} has {rows} rows, manifest says {manifest['rows']}"
            )
        return manifest

    def read(self, spark: SparkSession, ref: GoldenRef) -> tuple[DataFrame, dict[str, Any]]:
        """Verified golden as a DataFrame: read by Spark when the backend sees this machine's
        files, else on the client (a remote cluster cannot read our Parquet paths)."""
        manifest = self.verify(ref)
        base = self.path(ref) / self._version(ref)
        schema = T.StructType.fromJson(manifest["spark_schema"])
        files = [str(base / name) for name in sorted(manifest["files"])]
        if not files:
            return spark.createDataFrame([], schema), manifest
        if sees_local_files(spark):
            return spark.read.schema(schema).parquet(*files), manifest
        table = pq.ParquetDataset(files).read()
        return spark.createDataFrame(table.to_pandas(), schema=schema), manifest

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
    ) -> dict[str, Any]:
        """Write a new version and switch CURRENT to it atomically. Returns the manifest.
        Spark writes the Parquet when the backend sees this machine's files, else the client."""
        if provenance.get("source") not in SOURCES:
            raise GoldenError(f"provenance source must be one of {SOURCES}")
        if provenance.get("source") == "refresh" and not provenance.get("reason"):
            raise GoldenError("a golden refresh needs a reason (--reason 'CR-123: ...')")
        base = self.path(ref)
        base.mkdir(parents=True, exist_ok=True)
        for stale in base.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = base / f".staging-{uuid.uuid4().hex[:8]}"
        ordered = df.sortWithinPartitions(*keys) if keys else df
        local_files = sees_local_files(spark)
        try:
            if local_files:
                ordered.coalesce(1).write.parquet(str(staging / "data"))
            else:
                (staging / "data").mkdir(parents=True)
                pq.write_table(ordered.toArrow(), staging / "data" / "part-00000.parquet")
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise GoldenError(f"could not write golden {ref}: {first_line(exc)}") from None
        files = {}
        for i, part in enumerate(sorted((staging / "data").glob("part-*.parquet"))):
            target = staging / "data" / f"part-{i:05d}.parquet"
            part.rename(target)
            files[f"data/{target.name}"] = sha256_file(target)
        for junk in (staging / "data").iterdir():
            if junk.name not in {Path(f).name for f in files}:
                junk.unlink()
        _fault("after-data")
        rows = sum(pq.read_metadata(staging / f).num_rows for f in files)
        previous = self.current_version(ref)
        existing = self.versions(ref)
        version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
        manifest = {
            "format": FORMAT,
            "model": ref.model,
            "dataset": ref.dataset,
            "output": ref.output,
            "version": version,
            "keys": list(keys),
            "rows": rows,
            "files": files,
            "schema": [
                {"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields
            ],
            "spark_schema": json.loads(df.schema.json()),
            "stats": column_stats(
                spark.read.parquet(*[str(staging / f) for f in files]) if local_files else df
            ),
            "provenance": {
                "created_at": _now(),
                "created_by": _who(),
                "previous_version": previous,
                **provenance,
            },
        }
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
        )
        _fault("after-manifest")
        os.replace(staging, base / version)
        _fault("before-switch")
        self._switch(ref, version, manifest)
        self._prune(ref, keep)
        return manifest

    def _switch(self, ref: GoldenRef, version: str, manifest: dict[str, Any]) -> None:
        base = self.path(ref)
        for name, text in ((SUMMARY, render_summary(manifest)), (CURRENT, version + "\n")):
            tmp = base / f".{name}.tmp"
            with tmp.open("w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, base / name)

    def _prune(self, ref: GoldenRef, keep: int) -> None:
        current = self.current_version(ref)
        old = [v for v in self.versions(ref) if v != current]
        for version in old[: max(0, len(old) - (keep - 1))]:
            shutil.rmtree(self.path(ref) / version, ignore_errors=True)

    def restore(self, ref: GoldenRef, version: str) -> dict[str, Any]:
        """Point CURRENT back at an earlier version (after verifying it)."""
        manifest = self.verify(ref, version)
        self._switch(ref, version, manifest)
        return manifest

    def history(self, ref: GoldenRef) -> list[dict[str, Any]]:
        current = self.current_version(ref)
        out = []
        for version in self.versions(ref):
            try:
                prov = self.manifest(ref, version)["provenance"]
            except GoldenError as exc:
                prov = {"error": str(exc)}
            out.append({"version": version, "current": version == current, **prov})
        return out


def column_stats(df: DataFrame) -> dict[str, dict[str, Any]]:
    """Per-column nulls, min and max (and mean for numbers), in one aggregation."""
    aggs = [F.count(F.lit(1)).alias("__rows")]
    numeric = []
    for i, f in enumerate(df.schema.fields):
        col = F.col(f"`{f.name.replace('`', '``')}`")
        aggs.append(F.count_if(col.isNull()).alias(f"n{i}"))
        if isinstance(
            f.dataType, (T.NumericType, T.DateType, T.TimestampType, T.StringType, T.BooleanType)
        ):
            aggs += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}")]
        if isinstance(f.dataType, T.NumericType):
            numeric.append(i)
            aggs.append(F.avg(col.cast("double")).alias(f"mean{i}"))
    row = df.agg(*aggs).collect()[0].asDict()
    out = {}
    for i, f in enumerate(df.schema.fields):
        stats: dict[str, Any] = {"nulls": row[f"n{i}"]}
        if f"lo{i}" in row:
            stats["min"], stats["max"] = _plain(row[f"lo{i}"]), _plain(row[f"hi{i}"])
        if i in numeric:
            stats["mean"] = _plain(row[f"mean{i}"])
        out[f.name] = stats
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return (
            float(f"{value:.12g}") if value == value and abs(value) != float("inf") else str(value)
        )
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return str(value)


def render_summary(manifest: dict[str, Any]) -> str:
    """The reviewable snapshot of a golden, in syrupy's amber format."""
    from syrupy.extensions.amber.serializer import AmberDataSerializer

    prov = manifest.get("provenance", {})
    data = {
        "golden": f"{manifest['model']}/{manifest['dataset']}/{manifest['output']}",
        "version": manifest["version"],
        "rows": manifest["rows"],
        "keys": manifest["keys"],
        "schema": {c["name"]: c["type"] for c in manifest["schema"]},
        "stats": manifest.get("stats", {}),
        "provenance": {
            k: prov.get(k)
            for k in ("source", "reason", "created_by", "created_at", "origin", "changes")
            if prov.get(k)
        },
    }
    return (
        f"# golden summary (generated; review its diff on refresh)\n"
        f"{AmberDataSerializer.serialize(data)}\n"
    )
