"""Goldens in a folder on this machine (kept in git): one Parquet file per version.

Integrity is a sha256 per data file in the manifest, checked on the client, so a golden
can be verified without Spark; the version in force is the ``CURRENT`` file, replaced with
``os.replace`` as the last step of a write. Spark writes the Parquet when the backend sees
this machine's files; otherwise (a remote cluster) the client writes and reads it.

One writer at a time: a write holds an exclusive ``fcntl.flock`` on the golden's
``.refresh.lock`` (the operating system releases it when the process dies, so a crash never
leaves it held), and a second refresh fails at once naming the holder. A write that fails
(a full disk, an I/O error) removes what it wrote; the version in force is never touched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from harness.backends import sees_local_files
from harness.errors import GoldenError
from harness.fixtures import sha256_file
from harness.golden.base import MANIFEST, SUMMARY, GoldenRef, Staged, io_failure, now, who
from harness.golden.journal import SWITCH

CURRENT = "CURRENT"
LOCK = ".refresh.lock"  # flock'ed while a write runs; holds the writer's pid, for messages


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

    @contextmanager
    def guard(self, ref: GoldenRef) -> Iterator[None]:
        """An exclusive lock on the golden for one write; a second writer fails at once."""
        base = self._base(ref)
        try:
            base.mkdir(parents=True, exist_ok=True)
            fd = os.open(base / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise GoldenError(f"{base}: cannot lock golden {ref} ({io_failure(exc)})") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip()
                raise GoldenError(
                    f"another refresh of {ref} is in progress ({holder or 'pid unknown'}); "
                    "nothing was written: rerun this one when it has finished"
                ) from None
            with suppress(OSError):  # who holds it, for the message above (a full disk: none)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}, {who()}, since {now()}\n".encode(), 0)
            yield None
            with suppress(OSError):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the lock

    def stage(self, spark: SparkSession, df: DataFrame, ref: GoldenRef, version: str) -> Staged:
        base = self._base(ref)
        for stale in base.glob(".staging-*"):  # left by a crashed write (the lock is ours)
            shutil.rmtree(stale, ignore_errors=True)
        staging = base / f".staging-{uuid.uuid4().hex[:8]}"
        local_files = sees_local_files(spark)
        try:
            base.mkdir(parents=True, exist_ok=True)
            if local_files:
                df.coalesce(1).write.parquet(str(staging / "data"))
            else:
                (staging / "data").mkdir(parents=True)
                pq.write_table(df.toArrow(), staging / "data" / "part-00000.parquet")
            files = {}
            for i, part in enumerate(sorted((staging / "data").glob("part-*.parquet"))):
                target = staging / "data" / f"part-{i:05d}.parquet"
                part.rename(target)
                files[f"data/{target.name}"] = sha256_file(target)
            for junk in (staging / "data").iterdir():
                if junk.name not in {Path(f).name for f in files}:
                    junk.unlink()
            rows = sum(pq.read_metadata(staging / f).num_rows for f in files)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise GoldenError(f"writing its data failed: {io_failure(exc)}") from None
        frame = spark.read.parquet(*[str(staging / f) for f in files]) if local_files else df
        return Staged({"rows": rows, "files": files}, frame, staging)

    def commit(self, ref: GoldenRef, version: str, staged: Staged, manifest: str) -> None:
        staging: Path = staged.handle
        try:
            _write_synced(staging / MANIFEST, manifest)
            os.replace(staging, self._base(ref) / version)
        except OSError as exc:
            raise GoldenError(f"writing its manifest failed: {io_failure(exc)}") from None

    def switch(
        self, ref: GoldenRef, version: str, manifest: str, summary: str, expected: Any = None
    ) -> None:
        """Both small files written aside first (where a full disk fails), then renamed:
        the summary, and ``CURRENT`` last, the switch itself."""
        base = self._base(ref)
        aside = {name: base / f".{name}.tmp" for name in (SUMMARY, CURRENT)}
        old_summary = base / SUMMARY
        kept = old_summary.read_text() if old_summary.is_file() else None
        try:
            _write_synced(aside[SUMMARY], summary)
            _write_synced(aside[CURRENT], version + "\n")
            os.replace(aside[SUMMARY], base / SUMMARY)
            try:
                os.replace(aside[CURRENT], base / CURRENT)
            except OSError:
                if kept is not None:  # the summary goes back to the version in force
                    with suppress(OSError):
                        old_summary.write_text(kept)
                raise
        except OSError as exc:
            for tmp in aside.values():
                tmp.unlink(missing_ok=True)
            raise GoldenError(f"switching CURRENT to it failed: {io_failure(exc)}") from None

    def discard(self, ref: GoldenRef, version: str, staged: Staged | None) -> str:
        if version == self.current(ref):  # never the version in force
            return f"{version} is in force"
        gone = [p for p in (staged.handle if staged else None, self._base(ref) / version) if p]
        for path in gone:
            shutil.rmtree(path, ignore_errors=True)
        left = [str(p) for p in gone if Path(p).exists()]
        if left:
            return f"the partial version could not be removed: remove {', '.join(left)}"
        return f"the partial {version} was removed"

    def prune(self, ref: GoldenRef, keep: list[str]) -> None:
        for version in self.versions(ref):
            if version not in keep:
                shutil.rmtree(self._base(ref) / version, ignore_errors=True)

    def note_text(self, ref: GoldenRef, version: str, name: str) -> str | None:
        path = self._base(ref) / version / name
        return path.read_text() if path.is_file() else None

    def put_note(self, ref: GoldenRef, version: str, name: str, text: str) -> None:
        _replace_synced(self._base(ref) / version / name, text)

    def _journal(self, model: str, dataset: str) -> Path:
        return self.path / model / dataset / SWITCH

    def journal_text(self, model: str, dataset: str) -> str | None:
        path = self._journal(model, dataset)
        return path.read_text() if path.is_file() else None

    def put_journal(self, model: str, dataset: str, text: str) -> None:
        path = self._journal(model, dataset)
        try:
            _replace_synced(path, text)
        except OSError as exc:
            raise GoldenError(
                f"{path}: writing the switch record failed: {io_failure(exc)}"
            ) from None

    def clear_journal(self, model: str, dataset: str) -> None:
        self._journal(model, dataset).unlink(missing_ok=True)

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
                    "through pytest --harness-update-golden or harness golden import"
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


def _replace_synced(path: Path, text: str) -> None:
    """``path`` replaced by ``text`` in one step: written synced beside it, then renamed
    (a failure removes the file written beside it and leaves ``path`` as it was)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _write_synced(tmp, text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _write_synced(path: Path, text: str) -> None:
    """``text`` in ``path``, on the disk (not only in the page cache) when this returns."""
    with path.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
