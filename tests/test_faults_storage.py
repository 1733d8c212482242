"""Storage faults, for real: a full disk (a 2 MB tmpfs mounted for the test) while a golden
is written, in a folder and at a ``file:`` URI, at each step (data, manifest, the switch);
two real processes refreshing one golden at once; a damaged golden file; comparisons in
threads sharing one session.

Each test records its row of the fault table (``record_property``: ``fault``, ``outcome``,
``data_lost``), ``data_lost`` computed from the golden in force before and after: its
version and the sha256 of every file of it, and whether it still verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from faults import record_fault

from harness.compare import compare, engine
from harness.errors import GoldenError
from harness.golden import GoldenRef, GoldenStore

pytestmark = pytest.mark.faults

REF = GoldenRef("m", "sample", "out")
SCHEMA = "id BIGINT, region STRING, x DOUBLE"
WAIT = 240  # seconds: the bound on every wait for a child process or a file


# ------------------------------------------------------------------------------ helpers


def small(spark, n: int = 100, bump: float = 0.0):
    return spark.createDataFrame(
        [(i, ["north", "south"][i % 2], i * 0.5 + bump) for i in range(n)], SCHEMA
    )


def large(spark, rows: int = 60_000):
    """~1.5 MB of Parquet (random doubles do not compress): more than the disk has left."""
    return spark.range(rows).selectExpr("id", "CAST(id AS STRING) AS region", "rand(7) * id AS x")


def refresh(store: GoldenStore, spark, df, reason: str = "CR-1") -> dict[str, Any]:
    return store.write(
        spark, df, REF, keys=["id"], provenance={"source": "refresh", "reason": reason}
    )


def local_path(store: GoldenStore, version: str | None = None) -> Path:
    where = store.storage.where(REF, version)
    return Path(urlparse(where).path) if where.startswith("file:") else Path(where)


def snapshot(store: GoldenStore) -> dict[str, Any]:
    """The version in force and the sha256 of every file of it."""
    version = store.current_version(REF)
    base = local_path(store, version)
    files = {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }
    return {"version": version, "files": files}


def data_lost(store: GoldenStore, before: dict[str, Any]) -> str:
    """``none`` when the golden in force is the same version, byte for byte, and verifies."""
    after = snapshot(store)
    if after["version"] != before["version"]:
        return f"version in force changed: {before['version']} -> {after['version']}"
    changed = sorted(set(before["files"].items()) ^ set(after["files"].items()))
    if changed:
        return f"files of {before['version']} changed: {', '.join(sorted({c[0] for c in changed}))}"
    try:
        store.verify(REF)
    except GoldenError as exc:
        return f"{before['version']} no longer verifies: {exc}"
    return "none"


# ------------------------------------------------------------------- a small disk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs), unmounted afterwards."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs ({mount.stderr.strip()}): needs root")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=60)


def fill(mnt: Path, leave: int = 0) -> None:
    """Fill the file system, then free ``leave`` bytes."""
    filler = mnt / f"filler-{len(list(mnt.glob('filler-*')))}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        block = b"\xa5" * 65536
        while True:
            try:
                if os.write(fd, block) < len(block):
                    break
            except OSError:
                break
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)


def free(mnt: Path) -> None:
    for filler in mnt.glob("filler-*"):
        filler.unlink()


def stores(spark, mnt: Path) -> dict[str, GoldenStore]:
    return {
        "folder": GoldenStore(mnt / "golden"),
        "uri": GoldenStore((mnt / "golden-uri").as_uri(), lambda: spark),
    }


def full_before(store: GoldenStore, step: str, mnt: Path, monkeypatch) -> None:
    """The disk fills up right before ``step`` (``commit``: the manifest, ``switch``: the
    summary and the pointer) of the next write: a real ENOSPC from the file system."""
    real = getattr(store.storage, step)

    def filled_first(*args, **kwargs):
        fill(mnt)
        return real(*args, **kwargs)

    monkeypatch.setattr(store.storage, step, filled_first)


STEPS = {
    "data": "the golden's data",
    "commit": "the manifest",
    "switch": "the switch (summary, CURRENT / pointer)",
}


@pytest.mark.parametrize("kind", ["folder", "uri"])
@pytest.mark.parametrize("step", list(STEPS))
def test_a_full_disk_while_a_golden_is_written_keeps_the_version_in_force(
    spark, disk: Path, kind: str, step: str, monkeypatch, record_property
) -> None:
    store = stores(spark, disk)[kind]
    refresh(store, spark, small(spark))
    before = snapshot(store)
    if step == "data":
        fill(disk, leave=256 * 1024)  # room to start writing, not to finish
        df = large(spark)
    else:
        full_before(store, step, disk, monkeypatch)
        df = small(spark, bump=1.0)
    with pytest.raises(GoldenError) as raised:
        refresh(store, spark, df)
    message = str(raised.value)
    assert "\n" not in message
    assert f"golden {REF} was not written" in message
    assert "No space left on device" in message, message
    assert f"{before['version']} stays in force" in message
    monkeypatch.undo()
    free(disk)
    lost = data_lost(store, before)
    # nothing partial is taken for a version: no staging folder, no extra version
    if "could not be quarantined" in message:  # a URI on a full disk: nothing can be written
        assert store.versions(REF)[0] == before["version"] and kind == "uri"
    else:
        assert store.versions(REF) == [before["version"]], store.versions(REF)
    assert not list(local_path(store).glob(".staging-*")) and not list(
        local_path(store).glob(".*.tmp")
    )
    if kind == "folder":
        assert "removed" in message
    # the disk has room again: the next refresh goes through, past any partial version
    after = refresh(store, spark, small(spark, bump=2.0))
    assert store.current_version(REF) == after["version"] != before["version"]
    record_fault(
        record_property, f"full disk while writing {STEPS[step]} ({kind} store)", message, lost
    )
    assert lost == "none"


def test_a_damaged_golden_file_is_an_error_naming_it(spark, tmp_path: Path, record_property):
    outcomes, losses = [], []
    for kind, store in (
        ("folder", GoldenStore(tmp_path / "golden")),
        ("uri", GoldenStore((tmp_path / "golden-uri").as_uri(), lambda: spark)),
    ):
        refresh(store, spark, small(spark, 400))
        part = sorted(local_path(store, store.current_version(REF)).rglob("part-*.parquet"))[0]
        blob = bytearray(part.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        part.write_bytes(bytes(blob))
        crc = part.with_name(f".{part.name}.crc")  # Hadoop's local checksum, if any
        for checked in ("as written", "without a checksum file (as on an object store)"):
            if checked != "as written":
                if not crc.exists():
                    continue
                crc.unlink()
            with pytest.raises(GoldenError) as raised:
                store.read(spark, REF)
            message = str(raised.value)
            assert part.name in message, message
            assert "corrupted" in message or "cannot be read" in message
            outcomes.append(f"{kind}, {checked}: {message}")
        losses.append("none" if store.current_version(REF) == "v0001" else "pointer moved")
    lost = "none" if set(losses) == {"none"} else "; ".join(losses)
    record_fault(
        record_property, "a byte flipped in a golden data file", " | ".join(outcomes), lost
    )
    assert lost == "none"


# ------------------------------------------------------- two refreshes at once

CHILD = r"""
import os, sys, time
from pyspark.sql import functions as F, types as T
from harness.backends import get_spark
from harness.golden import GoldenRef, GoldenStore
root, go, bump = sys.argv[1], sys.argv[2], float(sys.argv[3])
spark = get_spark(os.environ.get("HARNESS_BACKEND", "local"))
store = GoldenStore(root, lambda: spark)

@F.udf(T.DoubleType())
def gate(x):
    # the data is written only once the go file is there: the refresh holds its place
    deadline = time.time() + 240
    while go != "-" and not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.1)
    return x

df = spark.range(200).selectExpr("id", "CAST(id AS STRING) AS region", f"id * 0.5 + {bump} AS x")
df = df.select("id", "region", gate("x").alias("x")).coalesce(1)
try:
    m = store.write(spark, df, GoldenRef("m", "sample", "out"), keys=["id"],
                    provenance={"source": "refresh", "reason": f"CR-{bump}"})
    print("WON", m["version"], flush=True)
except Exception as exc:
    print("LOST", type(exc).__name__, exc, flush=True)
"""


def child(root: str, go: str, bump: float, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, root, go, str(bump)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: Callable[[], bool], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while not what():
        if proc.poll() is not None:
            raise AssertionError(f"the first refresh ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "the first refresh never got going"
        time.sleep(0.2)


def outcome_of(proc: subprocess.Popen) -> str:
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith(("WON", "LOST"))]
    assert lines, err[-3000:]
    return lines[-1]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "uri"])
def test_two_refreshes_of_one_golden_at_once_one_wins(
    spark, tmp_path: Path, kind: str, record_property
) -> None:
    """Two real processes: the first holds its refresh open (its data is being written)
    while the second runs a whole refresh; then the first finishes."""
    golden = tmp_path / "golden"
    root = golden.as_uri() if kind == "uri" else str(golden)
    store = GoldenStore(root, lambda: spark)
    refresh(store, spark, small(spark))
    before = snapshot(store)
    go = tmp_path / "go"
    env = {**os.environ, "HARNESS_WORKDIR": str(tmp_path / "work")}
    first = child(root, str(go), 1.0, env)
    try:
        if kind == "folder":  # it holds the lock
            lock = local_path(store) / ".refresh.lock"
            wait_for(
                lambda: f"pid {first.pid}," in (lock.read_text() if lock.exists() else ""), first
            )
        else:  # its data is being written under the next version
            data = local_path(store, "v0002") / "data"
            wait_for(data.exists, first)
        second = outcome_of(child(root, "-", 2.0, env))
    finally:
        go.touch()
    first_outcome = outcome_of(first)
    outcomes = sorted([first_outcome, second])
    assert [o.split()[0] for o in outcomes] == ["LOST", "WON"], outcomes
    winner = next(o for o in outcomes if o.startswith("WON")).split()[1]
    loser = next(o for o in outcomes if o.startswith("LOST"))
    if kind == "folder":
        assert second.startswith("LOST") and f"(pid {first.pid}," in second
        assert "another refresh of m/sample/out is in progress" in second
    else:
        assert first_outcome.startswith("LOST") and "changed while this refresh ran" in loser
        assert "quarantined" in loser
    # the winner's version is in force, complete and verified; the old one intact
    fresh = GoldenStore(root, lambda: spark)
    assert fresh.current_version(REF) == winner
    manifest = fresh.verify(REF)
    assert manifest["provenance"]["previous_version"] == before["version"]
    old_files = {
        str(p.relative_to(local_path(store, before["version"]))): hashlib.sha256(
            p.read_bytes()
        ).hexdigest()
        for p in sorted(local_path(store, before["version"]).rglob("*"))
        if p.is_file()
    }
    lost = "none" if old_files == before["files"] else f"{before['version']} changed"
    record_fault(
        record_property,
        f"two refreshes of one golden at once ({kind} store)",
        f"{winner} won; the other: {loser.removeprefix('LOST GoldenError ')}",
        lost,
    )
    assert lost == "none"


# ------------------------------------------- comparisons in threads, one session


def pairs(spark) -> list[tuple[Any, Any, dict[str, Any]]]:
    """Comparisons with different outcomes: a pass, a value beyond tolerance, missing and
    extra keys, duplicated keys, a wide output of many groups of columns."""
    base = spark.range(0, 2000).selectExpr(
        "id", "CAST(id AS DOUBLE) / 3 AS a", "CAST(id % 7 AS STRING) AS s"
    )
    wide = spark.range(0, 500).selectExpr("id", *[f"id * {i} / 7.0D AS d{i}" for i in range(90)])
    return [
        (base, base.selectExpr("id", "a * (1 + 1e-12) AS a", "s"), {"rtol": 1e-9}),
        (base, base.selectExpr("id", "IF(id % 13 = 0, a + 1, a) AS a", "s"), {}),
        (base, base.where("id % 5 != 0").union(base.selectExpr("id + 5000", "a", "s")), {}),
        (base, base.union(base.where("id % 101 = 0")), {}),
        (
            wide,
            wide.selectExpr("id", *[f"IF(id = 9, d{i} + 1, d{i}) AS d{i}" for i in range(90)]),
            {},
        ),
    ]


def run(e, a, kwargs) -> dict[str, Any]:
    result = compare(e, a, keys=["id"], **kwargs).to_dict()
    result.pop("elapsed_s")
    return result


def test_comparisons_in_threads_of_one_session_match_one_at_a_time(spark, record_property):
    """No session setting is changed, even for a moment: a watcher reads the session's
    settings all the while the comparisons run."""
    cases = pairs(spark)
    conf_before = dict(spark.conf.getAll)
    max_fields = spark.conf.get(engine.MAX_FIELDS)  # its value, or Spark's default
    sequential = [run(*case) for case in cases]
    assert [r["passed"] for r in sequential] == [True, False, False, False, False]

    seen: list[dict[str, str]] = []
    done = threading.Event()

    results: list[Any] = [None] * len(cases) * 2
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            while not done.is_set():
                seen.append({engine.MAX_FIELDS: spark.conf.get(engine.MAX_FIELDS)})
                time.sleep(0.01)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def work(i: int) -> None:
        try:
            results[i] = run(*cases[i % len(cases)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    watcher.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join(WAIT)
    done.set()
    watcher.join(WAIT)
    assert not errors, errors
    assert all(not t.is_alive() for t in workers)
    mismatched = [i for i, r in enumerate(results) if r != sequential[i % len(cases)]]
    changed = {v for s in seen for v in s.values()} - {max_fields}
    conf_after = dict(spark.conf.getAll)
    touched = sorted(
        k for k in set(conf_before) | set(conf_after) if conf_before.get(k) != conf_after.get(k)
    )
    lost = "none" if not mismatched else f"results differ for comparisons {mismatched}"
    record_fault(
        record_property,
        f"{len(results)} comparisons in threads of one session",
        f"{len(results) - len(mismatched)} of {len(results)} equal to their sequential "
        f"result; session settings changed during the run: {sorted(changed) or 'none'}, "
        f"after: {touched or 'none'}",
        lost,
    )
    assert not mismatched and not changed and not touched, (mismatched, changed, touched)
    assert len(seen) > 1  # the watcher watched
    json.dumps(sequential)  # the results are plain data
