"""The golden store at a URI (``file:`` here, as ``abfss://`` or ``dbfs:/Volumes`` in a
deployment): Spark writes and reads everything, the content digest is computed by Spark and
catches a modified or truncated golden, the version in force is the newest pointer object
that verifies (a broken one is skipped, the previous version stays in force), and history
and restore work through pointers. Real local Spark, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.errors import GoldenError
from harness.golden import GoldenRef, GoldenStore, is_uri
from harness.golden.cluster import GoldenPointerWarning, content_digest

REF = GoldenRef("m", "full", "scores")
SCHEMA = "id BIGINT, region STRING, score DOUBLE"


def rows(n: int = 200, bump: float = 0.0) -> list[tuple]:
    return [
        (i, ["north", None, "south"][i % 3], i * 0.5 + (bump if i == 7 else 0.0)) for i in range(n)
    ]


def write(store: GoldenStore, spark, data: list[tuple], reason: str = "CR-1") -> dict:
    df = spark.createDataFrame(data, SCHEMA).repartition(3)
    return store.write(
        spark, df, REF, keys=["id"], provenance={"source": "refresh", "reason": reason}
    )


@pytest.fixture
def store(spark, tmp_path: Path) -> GoldenStore:
    return GoldenStore((tmp_path / "golden").as_uri(), lambda: spark)


def version_dir(store: GoldenStore, version: str) -> Path:
    return Path(store.root.removeprefix("file://")) / "m" / "full" / "scores" / version


def test_uri_roots_are_told_from_folders() -> None:
    for uri in ("file:/tmp/g", "abfss://c@acct.dfs.core.windows.net/g", "dbfs:/Volumes/x/y/g"):
        assert is_uri(uri)
    assert not is_uri("golden") and not is_uri("/tmp/golden") and not is_uri(Path("/tmp/g"))


def test_write_then_read_verifies_on_the_cluster(spark, store: GoldenStore) -> None:
    manifest = write(store, spark, rows())
    assert manifest["version"] == "v0001" and manifest["rows"] == 200
    assert "files" not in manifest and manifest["digest"].startswith("xxhash64:")
    golden, read_manifest = store.read(spark, REF)
    assert read_manifest == manifest
    fresh = GoldenStore(store.root, lambda: spark)  # as another process: nothing cached
    assert fresh.current_version(REF) == "v0001" and fresh.verify(REF) == manifest
    assert sorted(tuple(r) for r in golden.collect()) == rows()
    # the layout: data and manifest per version, numbered pointers, the summary
    base = version_dir(store, "v0001").parent
    assert (base / "v0001" / "data").is_dir() and (base / "v0001" / "manifest.json").is_dir()
    assert (base / "pointers" / "p000001.json").is_dir() and (base / "summary.ambr").is_dir()


def test_digest_ignores_order_and_partitioning_but_not_values(spark) -> None:
    a = content_digest(spark.createDataFrame(rows(), SCHEMA).repartition(4))
    b = content_digest(spark.createDataFrame(list(reversed(rows())), SCHEMA).coalesce(1))
    c = content_digest(spark.createDataFrame(rows(bump=1e-12), SCHEMA))
    swapped = [(i, r, s) for i, r, s in rows()]
    swapped[0], swapped[1] = (0, None, 0.0), (1, "north", 0.5)  # NULL moved to another row
    d = content_digest(spark.createDataFrame(swapped, SCHEMA))
    assert a == b and a["rows"] == 200
    assert c["digest"] != a["digest"] and d["digest"] != a["digest"]


def test_modified_golden_is_caught_by_its_digest(spark, store: GoldenStore) -> None:
    write(store, spark, rows())
    data = version_dir(store, "v0001") / "data"
    parts = sorted(data.glob("part-*.parquet"))
    table = pq.read_table(parts[0])
    scores = table.column("score").to_pylist()
    scores[0] = (scores[0] or 0.0) + 1.0  # same rows, one value changed, valid Parquet
    pq.write_table(table.set_column(2, "score", pa.array(scores)), parts[0])
    crc = parts[0].with_name(f".{parts[0].name}.crc")
    with pytest.raises(GoldenError, match="cannot be read by the cluster"):
        store.read(spark, REF)  # the local file system's checksum notices first
    crc.unlink()  # as on an object store, which keeps no .crc beside the file
    with pytest.raises(GoldenError, match=r"modified or corrupted \(content digest"):
        store.read(spark, REF)


def test_truncated_and_removed_files_are_caught(spark, store: GoldenStore) -> None:
    write(store, spark, rows())
    parts = sorted((version_dir(store, "v0001") / "data").glob("part-*.parquet"))
    parts[-1].unlink()
    with pytest.raises(GoldenError, match="rows, manifest says 200"):
        store.verify(REF)
    parts[0].write_bytes(parts[0].read_bytes()[:40])
    with pytest.raises(GoldenError, match="cannot be read by the cluster"):
        store.verify(REF)


def test_refresh_history_and_restore_go_through_pointers(spark, store: GoldenStore) -> None:
    write(store, spark, rows())
    second = write(store, spark, rows(bump=2.0), reason="CR-2: scores moved")
    assert second["provenance"]["previous_version"] == "v0001"
    assert store.current_version(REF) == "v0002"
    assert [(h["version"], h["current"]) for h in store.history(REF)] == [
        ("v0001", False),
        ("v0002", True),
    ]
    restored = store.restore(REF, "v0001")
    assert restored["version"] == "v0001" and store.current_version(REF) == "v0001"
    pointers = sorted(p.name for p in (version_dir(store, "v0001").parent / "pointers").iterdir())
    assert pointers == ["p000001.json", "p000002.json", "p000003.json"]
    with pytest.raises(GoldenError, match="has no version v0009"):
        store.restore(REF, "v0009")


def test_a_pointer_that_does_not_verify_leaves_the_previous_version_in_force(
    spark, store: GoldenStore
) -> None:
    write(store, spark, rows())
    write(store, spark, rows(bump=2.0))
    pointers = version_dir(store, "v0001").parent / "pointers"
    newest = next((pointers / "p000002.json").glob("part-*"))
    text = json.loads(newest.read_text())
    newest.write_text(json.dumps({**text, "version": "v0001"}))  # edited: checksum fails
    with pytest.warns(GoldenPointerWarning, match="p000002 skipped .it cannot be read"):
        assert store.current_version(REF) == "v0001"  # the file system's .crc noticed
    newest.with_name(f".{newest.name}.crc").unlink()  # as on an object store: no .crc
    with pytest.warns(GoldenPointerWarning, match="p000002 skipped .its checksum"):
        assert store.current_version(REF) == "v0001"
    newest.write_text(newest.read_text()[:20])  # cut short, as by a crash mid-write
    with pytest.warns(GoldenPointerWarning, match="not valid JSON"):
        assert store.current_version(REF) == "v0001"
    # the next switch goes past the broken pointer and is in force
    with pytest.warns(GoldenPointerWarning):
        write(store, spark, rows(bump=3.0))
    assert store.current_version(REF) == "v0003"


def test_a_uri_store_without_a_session_says_what_it_needs(tmp_path: Path) -> None:
    store = GoldenStore((tmp_path / "g").as_uri())
    with pytest.raises(
        GoldenError, match="read and written by Spark: this command needs a session"
    ):
        store.current_version(REF)


def test_a_candidate_is_never_in_force_until_approved(spark, store: GoldenStore) -> None:
    write(store, spark, rows())
    df = spark.createDataFrame(rows(bump=3.0), SCHEMA)
    store.write(
        spark,
        df,
        REF,
        keys=["id"],
        provenance={"source": "proposal", "reason": "CR-3: retrain"},
        candidate=True,
    )
    assert store.current_version(REF) == "v0001" and store.candidates(REF) == ["v0002"]
    assert [h["status"] for h in store.history(REF)] == ["current", "candidate"]
    store.write(  # a second proposal, set aside
        spark,
        df,
        REF,
        keys=["id"],
        provenance={"source": "proposal", "reason": "CR-4"},
        candidate=True,
    )
    store.discard(REF, "v0003", {"by": "A. Approver", "reason": "superseded"})
    assert [h["status"] for h in store.history(REF)] == ["current", "candidate", "discarded"]
    assert store.candidates(REF) == ["v0002"]
    with pytest.raises(GoldenError, match="v0003 is discarded, not a candidate"):
        store.approve(REF, "v0003", {"by": "x"})
    with pytest.raises(GoldenError, match="a proposal never approved"):
        store.restore(REF, "v0002")
    with pytest.raises(GoldenError, match="has no version v0009"):
        store.approve(REF, "v0009", {"by": "x"})
    store.approve(REF, "v0002", {"by": "A. Approver", "override": None})
    assert store.current_version(REF) == "v0002"
    prov = store.manifest(REF)["provenance"]
    assert prov["approval"]["by"] == "A. Approver" and prov["reason"] == "CR-3: retrain"
    assert store.read(spark, REF)[0].where("id = 7").first()["score"] == 3.5 + 3.0
    with pytest.raises(GoldenError, match="is current, not a candidate"):
        store.approve(REF, "v0002", {"by": "x"})


def test_an_interrupted_approval_at_a_uri_leaves_the_version_in_force(
    spark, store: GoldenStore, tmp_path: Path
) -> None:
    from test_golden import crash

    write(store, spark, rows())
    crash(store.root, REF, ["id"], "before-approval-switch", tmp_path / "work")
    fresh = GoldenStore(store.root, lambda: spark)  # no cached manifests
    assert fresh.current_version(REF) == "v0001"
    assert [h["status"] for h in fresh.history(REF)] == ["current", "approved"]
    fresh.verify(REF)
