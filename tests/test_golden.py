"""The golden store on a copy of the project: a corrupted or hand-edited golden is caught,
a refresh writes a new version with provenance and keeps the old one, and a refresh
interrupted at any point leaves the old golden in force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import run_suites

from harness.errors import GoldenError
from harness.golden import GoldenRef, GoldenStore

MODEL = "adoption_rate"
REF = GoldenRef(MODEL, "sample", "adoption_rates")


def test_corrupted_golden_is_an_error_never_a_pass(
    pytester: pytest.Pytester, project: Path
) -> None:
    store = GoldenStore(project / "golden")
    data = next((store.path(REF) / store.current_version(REF) / "data").glob("*.parquet"))
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    result = run_suites(pytester, project, "-k", "values")
    result.assert_outcomes(failed=1)
    assert "golden data was modified or corrupted" in result.stdout.str()


def test_hand_edited_manifest_is_caught(project: Path) -> None:
    store = GoldenStore(project / "golden")
    manifest = store.path(REF) / store.current_version(REF) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["rows"] += 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(GoldenError, match="manifest says"):
        store.verify(REF)


def test_refresh_writes_new_version_with_provenance_and_keeps_the_old(
    pytester: pytest.Pytester, project: Path
) -> None:
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    hql = project / "suites" / MODEL / "adoption_rate.hql"
    hql.write_text(hql.read_text().replace("AVG(p.base_premium *", "AVG(2.0 * p.base_premium *"))
    result = run_suites(
        pytester,
        project,
        "-k",
        MODEL,
        "--harness-update-golden",
        "--harness-reason",
        "CR-123: premium doubled",
    )
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert "golden refresh" in out and "expected_premium" in out  # summary of what changed
    after = store.current_version(REF)
    assert after != before and before in store.versions(REF)
    prov = store.manifest(REF)["provenance"]
    assert prov["source"] == "refresh" and prov["reason"] == "CR-123: premium doubled"
    assert prov["previous_version"] == before and prov["fingerprint"]["parts"]
    assert "CR-123" in (store.path(REF) / "summary.ambr").read_text()
    store.restore(REF, before)  # reversible
    assert store.current_version(REF) == before


# ----------------------------------------------------- interrupted refresh (crash)

CRASHING_REFRESH = """
import os
import sys
from harness.golden import GoldenRef, GoldenStore
from harness.backends import get_spark
spark = get_spark(os.environ.get("HARNESS_BACKEND", "local"))
store = GoldenStore(sys.argv[1])
ref = GoldenRef("adoption_rate", "sample", "adoption_rates")
df = spark.createDataFrame([("x", "y", "2024-01", 1, 1, 1.0, 1.0)],
    "product_name string, region string, month string, contacts bigint, adoptions bigint, "
    "adoption_rate double, expected_premium double")
store.write(spark, df, ref, keys=["product_name", "region", "month"],
            provenance={"source": "refresh", "reason": "crash test"})
print("completed")
"""


@pytest.mark.parametrize("fault", ["after-data", "after-manifest", "before-switch"])
def test_interrupted_refresh_leaves_the_old_golden_in_force(project: Path, fault: str) -> None:
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    manifest_before = store.verify(REF)
    env = {**os.environ, "HARNESS_FAULT": fault, "HARNESS_WORKDIR": str(project / ".harness")}
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_REFRESH, str(project / "golden")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 137 and "completed" not in proc.stdout, proc.stderr[-2000:]
    assert store.current_version(REF) == before
    assert store.verify(REF) == manifest_before  # still intact, still verifies


def test_refresh_within_tolerance_says_what_changed_and_records_it(
    pytester: pytest.Pytester, project: Path
) -> None:
    """The values move by 1e-10 relative, inside rtol 1e-9: the refresh still lists them."""
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    rows = store.manifest(REF)["rows"]
    hql = project / "suites" / MODEL / "adoption_rate.hql"
    hql.write_text(
        hql.read_text().replace("AVG(p.base_premium *", "AVG(1.0000000001 * p.base_premium *")
    )
    result = run_suites(
        pytester, project, "-k", MODEL, "--harness-update-golden", "--harness-reason", "CR-9"
    )
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    changes = store.manifest(REF)["provenance"]["changes"]
    assert changes["against"] == before and changes["keys_added"] == changes["keys_removed"] == 0
    assert list(changes["columns"]) == ["expected_premium"]  # nothing else moved
    premium = changes["columns"]["expected_premium"]
    assert 0 < premium["changed"] <= rows and premium["null_changes"] == 0
    assert 5e-11 < premium["max_rel_change"] < 2e-10 and premium["max_abs_change"] > 0
    assert f"against {before}: {rows:,} -> {rows:,} rows, 0 keys added, 0 removed" in out
    assert (
        f"  expected_premium: {premium['changed']:,} of {rows:,} values changed, largest "
        f"change {premium['max_abs_change']:.4g} absolute, {premium['max_rel_change']:.4g} relative"
    ) in out
    summary = (store.path(REF) / "summary.ambr").read_text()
    assert "'changes': dict(" in summary and "'expected_premium': dict(" in summary


# ---------------------------------------------- interrupted proposal or approval (crash)

CRASHING_APPROVAL = """
import os
import sys
from harness.golden import GoldenRef, GoldenStore
from harness.backends import get_spark
spark = get_spark(os.environ.get("HARNESS_BACKEND", "local"))
store = GoldenStore(sys.argv[1], lambda: spark)
ref = GoldenRef(*sys.argv[2].split("/"))
current = store.read(spark, ref)[0]
candidate = store.next_version(ref)
store.write(spark, current.limit(3), ref, keys=sys.argv[3].split(","), candidate=True,
            provenance={"source": "proposal", "reason": "crash test"})
store.approve(ref, candidate, {"by": "crash test"})
print("completed")
"""


def crash(root: str, ref: GoldenRef, keys: list[str], fault: str, workdir: Path) -> None:
    """Propose a candidate of ``ref`` and approve it in a process that dies at ``fault``."""
    env = {**os.environ, "HARNESS_FAULT": fault, "HARNESS_WORKDIR": str(workdir)}
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_APPROVAL, root, str(ref), ",".join(keys)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 137 and "completed" not in proc.stdout, proc.stderr[-2000:]


@pytest.mark.parametrize("fault", ["after-manifest", "after-approval", "before-approval-switch"])
def test_interrupted_proposal_or_approval_leaves_the_version_in_force(
    project: Path, fault: str
) -> None:
    store = GoldenStore(project / "golden")
    before = store.current_version(REF)
    manifest_before = store.verify(REF)
    keys = manifest_before["keys"]
    crash(str(project / "golden"), REF, keys, fault, project / ".harness")
    assert store.current_version(REF) == before
    assert store.verify(REF) == manifest_before  # still intact, still verifies
    candidate = [h for h in store.history(REF) if h["version"] > before]
    assert len(candidate) == 1 and not candidate[0]["current"]
    if fault == "after-manifest":  # proposed, never approved: an open candidate
        assert candidate[0]["status"] == "candidate"
        assert store.candidates(REF) == [candidate[0]["version"]]
    else:  # the approval was recorded, the switch never happened: approving again ends it
        assert candidate[0]["status"] == "approved"
        store.approve(REF, candidate[0]["version"], {"by": "second try"})
        assert store.current_version(REF) == candidate[0]["version"]
