"""Goldens in a folder on this machine (kept in git): one Parquet file per version.

Integrity is a sha256 per data file in the manifest, checked on the client, so a golden
can be verified without Spark; the version in force is the ``CURRENT`` file, replaced with
``os.replace`` as the last step of a write. Spark writes the Parquet when the backend sees
this machine's files; otherwise (a remote cluster) the client writes and reads it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from harness.backends import sees_local_files
from harness.errors import GoldenError, first_line
from harness.fixtures import sha256_file
from harness.golden.base import MANIFEST, SUMMARY, GoldenRef, Staged

CURRENT = "CURRENT"


class DiskStorage:
    """A golden root that is a folder on the client's disk."""

    def __init__(self, root: Path):
        self.path = root
        self.root = str(root)

    def _base(self, ref: GoldenRef) -> Path:
        return self.path / ref.model / ref.dataset / ref.output

    def where(self, ref: GoldenRef, version: str | None = None) -> str:
        base = self._base(ref)
        return str(base / version if version else base)

    def versions(self, ref: GoldenRef) -> list[str]:
        base = self._base(ref)
        return (
            sorted(p.name for p in base.glob("v[0-9][0-9][0-9][0-9]") if p.is_dir())
            if base.is_dir()
            else []
        )

    def current(self, ref: GoldenRef) -> str | None:
        pointer = self._base(ref) / CURRENT
        if not pointer.is_file():
            return None
        return pointer.read_text().strip() or None

    def manifest_text(self, ref: GoldenRef, version: str) -> str | None:
        path = self._base(ref) / version / MANIFEST
        return path.read_text() if path.is_file() else None

    # -------------------------------------------------------------------------- writing

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        base = self._base(ref)
        base.mkdir(parents=True, exist_ok=True)
        for stale in base.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = base / f".staging-{uuid.uuid4().hex[:8]}"
        local_files = sees_local_files(spark)
        try:
            if local_files:
                df.coalesce(1).write.parquet(str(staging / "data"))
            else:
                (staging / "data").mkdir(parents=True)
                pq.write_table(df.toArrow(), staging / "data" / "part-00000.parquet")
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
        rows = sum(pq.read_metadata(staging / f).num_rows for f in files)
        frame = spark.read.parquet(*[str(staging / f) for f in files]) if local_files else df
        return Staged({"rows": rows, "files": files}, frame, staging)

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        staging: Path = staged.handle
        (staging / MANIFEST).write_text(manifest)
        os.replace(staging, self._base(ref) / version)

    def switch(self, ref: GoldenRef, version: str, manifest: str, summary: str) -> None:
        base = self._base(ref)
        for name, text in ((SUMMARY, summary), (CURRENT, version + "\n")):
            tmp = base / f".{name}.tmp"
            with tmp.open("w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, base / name)

    def prune(self, ref: GoldenRef, keep: list[str]) -> None:
        for version in self.versions(ref):
            if version not in keep:
                shutil.rmtree(self._base(ref) / version, ignore_errors=True)

    def note_text(self, ref: GoldenRef, version: str, name: str) -> str | None:
        path = self._base(ref) / version / name
        return path.read_text() if path.is_file() else None

    def put_note(self, ref: GoldenRef, version: str, name: str, text: str) -> None:
        folder = self._base(ref) / version
        tmp = folder / f".{name}.tmp"
        with tmp.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)

    # ------------------------------------------------------------------------ verifying

    def verify(self, ref: GoldenRef, version: str, manifest: dict[str, Any]) -> None:
        base = self._base(ref) / version
        if "files" not in manifest:
            raise GoldenError(f"{base / MANIFEST}: golden manifest lacks 'files'")
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

    def read(
        self, spark: SparkSession, ref: GoldenRef, version: str, manifest: dict[str, Any]
    ) -> DataFrame:
        """Read by Spark when the backend sees this machine's files, else on the client
        (a remote cluster cannot read our Parquet paths)."""
        base = self._base(ref) / version
        schema = T.StructType.fromJson(manifest["spark_schema"])
        files = [str(base / name) for name in sorted(manifest["files"])]
        if not files:
            return spark.createDataFrame([], schema)
        if sees_local_files(spark):
            return spark.read.schema(schema).parquet(*files)
        table = pq.ParquetDataset(files).read()
        return spark.createDataFrame(table.to_pandas(), schema=schema)
