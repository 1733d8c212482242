"""A model's approval of several outputs is one step: a process killed at any moment of it
leaves either every output on its old version or every output on its new one, never a mix,
on disk and at a URI; the next approval or write finishes the pointers. Real processes
killed at the store's fault points, real files, real local Spark for the URI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.golden import GoldenRef, GoldenStore
from harness.golden.journal import done_text, pending, record_text

MODEL, DATASET = "m", "full"
OUTPUTS = ("scores", "deciles")
REFS = [GoldenRef(MODEL, DATASET, o) for o in OUTPUTS]
SCHEMA = "id BIGINT, score DOUBLE"

CRASHING_APPROVAL = """
import sys
from harness.golden import GoldenRef, GoldenStore
root, version, *outputs = sys.argv[1:]
session = None
if root.startswith("file:"):  # the cluster's storage: Spark does the I/O
    from harness.backends import get_spark
    spark = get_spark("local")
    session = lambda: spark
store = GoldenStore(root, session)
store.approve_all(version, {GoldenRef("m", "full", o): {"by": "crash test"} for o in outputs})
print("completed")
"""


def approve_and_die(root: str, fault: str, workdir: Path) -> None:
    env = {**os.environ, "HARNESS_FAULT": fault, "HARNESS_WORKDIR": str(workdir)}
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_APPROVAL, root, "v0002", *OUTPUTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 137 and "completed" not in proc.stdout, proc.stderr[-2000:]


def two_outputs_with_a_candidate(spark, store: GoldenStore) -> None:
    """v0001 of both outputs in force (score = id), candidate v0002 of both (score = 2 id)."""
    for factor, source in ((1.0, "refresh"), (2.0, "proposal")):
        for ref in REFS:
            df = spark.createDataFrame([(i, i * factor) for i in range(20)], SCHEMA)
            store.write(
                spark,
                df,
                ref,
                keys=["id"],
                provenance={"source": source, "reason": "CR-7: retrain"},
                candidate=source == "proposal",
            )


def in_force(spark, store: GoldenStore) -> dict[str, tuple[str | None, float]]:
    """Each output's version in force and what its golden reads (the score of id 3)."""
    out = {}
    for ref in REFS:
        golden, _ = store.read(spark, ref)
        out[ref.output] = (store.current_version(ref), golden.where("id = 3").first()["score"])
    return out


def root_of(kind: str, tmp_path: Path) -> str:
    folder = tmp_path / "golden"
    return folder.as_uri() if kind == "uri" else str(folder)


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("folder", "after-approval"),
        ("folder", "after-switch-record"),
        ("folder", "between-approval-switches"),
        ("uri", "after-approval"),
        ("uri", "between-approval-switches"),
    ],
)
def test_a_killed_model_approval_never_leaves_a_mix(
    spark, tmp_path: Path, kind: str, fault: str
) -> None:
    root = root_of(kind, tmp_path)
    two_outputs_with_a_candidate(spark, GoldenStore(root, lambda: spark))
    approve_and_die(root, fault, tmp_path / "work")
    store = GoldenStore(root, lambda: spark)  # as another process: nothing cached
    committed = fault != "after-approval"
    want = ("v0002", 6.0) if committed else ("v0001", 3.0)
    assert in_force(spark, store) == {o: want for o in OUTPUTS}
    raw = [store.storage.current(ref) for ref in REFS]  # the pointers alone
    if fault == "between-approval-switches":
        assert raw == ["v0002", "v0001"]  # one pointer moved: the record covers the other
    elif fault == "after-switch-record":
        assert raw == ["v0001", "v0001"]
    if not committed:  # approvals recorded, nothing in force: approving again ends it
        assert [store.status(r, "v0002") for r in REFS] == ["approved", "approved"]
        store.approve_all("v0002", {r: {"by": "second try"} for r in REFS})
    elif kind == "folder":  # the next approval or write of the model finishes the pointers
        moved = sorted(store.settle(MODEL, DATASET))
        assert moved == sorted(o for o, v in zip(OUTPUTS, raw, strict=True) if v != "v0002")
    else:  # a refresh of one output first finishes the approval, then writes on top of it
        df = spark.createDataFrame([(i, i * 3.0) for i in range(20)], SCHEMA)
        prov = {"source": "refresh", "reason": "CR-8"}
        manifest = store.write(spark, df, REFS[0], keys=["id"], provenance=prov)
        assert manifest["provenance"]["previous_version"] == "v0002"
        assert store.current_version(REFS[0]) == manifest["version"]
        assert store.storage.current(REFS[1]) == "v0002"
        return
    assert pending(store.storage.journal_text(MODEL, DATASET)) is None
    assert [store.storage.current(ref) for ref in REFS] == ["v0002", "v0002"]
    assert in_force(spark, store) == {o: ("v0002", 6.0) for o in OUTPUTS}
    assert store.manifest(REFS[1])["provenance"]["approval"]["by"] in ("crash test", "second try")


def test_a_switch_record_names_a_switch_only_when_whole() -> None:
    text = record_text("v0002", {"a": "v0002", "b": "v0002"}, {"a": "v0001", "b": None})
    assert pending(text) == {
        **pending(text),  # type: ignore[dict-item]
        "version": "v0002",
        "outputs": {"a": "v0002", "b": "v0002"},
        "done": False,
    }
    assert pending(text[: len(text) // 2]) is None  # cut short while written
    assert pending(text.replace('"b": "v0002"', '"b": "v0009"')) is None  # altered
    assert pending(done_text()) is None and pending(None) is None and pending("") is None
