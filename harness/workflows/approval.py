"""An approved change to a model's numbers: propose a candidate golden, review it with
model-level evidence, approve it (or discard it).

``propose`` runs the model, compares every output with the golden in force (with the
spec's tolerances: what the parity test would say; and at zero tolerance: what changed,
:mod:`harness.refresh`), measures the output's declared acceptance criteria
(:mod:`harness.acceptance`) and writes each output as a **candidate** version beside the one
in force, never switching to it; the review (``review.json``, ``review.html``) goes to a
folder of its own and the metrics with their verdicts into each candidate's provenance.
``approve`` puts a candidate in force, recording who approved it (and any override); it
refuses while an acceptance check fails, unless overridden with a reason. A refused or
interrupted approval changes nothing that is in force.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from harness import api
from harness.acceptance import evaluate, failures
from harness.errors import GoldenError, HarnessError
from harness.golden import GoldenRef, GoldenStore
from harness.golden.base import now, who
from harness.refresh import changes_against_current, format_changes
from harness.report.review_html import write_review_html
from harness.spec import ModelSpec

REVIEW_JSON = "review.json"
REVIEW_HTML = "review.html"


class ApprovalError(HarnessError):
    """An approval that cannot be given: no such candidate, already current, or a failed
    acceptance check without an override."""


@dataclass
class Proposal:
    """What ``propose`` wrote: the candidate version, its review and where the review is."""

    model: str
    dataset: str
    version: str
    review: dict[str, Any]
    directory: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return all(o["acceptance"]["passed"] for o in self._declared())

    def _declared(self) -> list[dict[str, Any]]:
        return [o for o in self.review["outputs"].values() if o.get("acceptance")]

    def lines(self) -> list[str]:
        """The review in a few lines: per output, parity, what changed, each failed check."""
        out = [f"{self.model}/{self.dataset}: candidate {self.version} ({self.review['reason']})"]
        for name, o in self.review["outputs"].items():
            parity = "passes" if o["parity"]["passed"] else "fails"
            out.append(f"  {name}: strict parity {parity}")
            out += [f"    {line}" for line in o["change_lines"]]
            acc = o.get("acceptance")
            if acc is None:
                out.append("    acceptance: none declared")
                continue
            out.append(f"    acceptance: {'PASSED' if acc['passed'] else 'FAILED'}")
            out += [f"      {line}" for line in failures(acc)]
        return out


def _default_dir(project: api.Project, model: str, dataset: str, version: str) -> Path:
    return project.root / "reports" / "review" / model / dataset / version


def _label_table(
    spark: SparkSession, project: api.Project, run: api.ModelRun, table: str
) -> DataFrame:
    """The table an acceptance label reads: an output of the run, else a model input."""
    if table in run.outputs:
        return run.outputs[table]
    inputs, _ = api.load_inputs(spark, project, run.spec, run.dataset)
    return inputs[table]


def propose(
    spark: SparkSession,
    project: api.Project,
    spec: ModelSpec,
    dataset: str,
    *,
    reason: str,
    out_dir: Path | None = None,
    scale: float = 1.0,
) -> Proposal:
    """Run ``spec``, write each output as a candidate version and the review of it."""
    if not reason.strip():
        raise ApprovalError("harness propose needs --reason 'CR-...: why the change was approved'")
    store = project.store(spark)
    refs = {o: GoldenRef(spec.name, dataset, o) for o in spec.outputs}
    for output, ref in refs.items():
        if spec.outputs[output].acceptance is not None and not store.exists(ref):
            raise GoldenError(f"{store.missing_message(ref)} (acceptance compares against it)")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    run = api.run_model(spark, project, spec, dataset, scale=scale)
    timings["run"] = time.perf_counter() - started
    version = max(store.next_version(ref) for ref in refs.values())
    outputs: dict[str, Any] = {}
    for output, ref in refs.items():
        outputs[output] = _review_output(spark, project, store, run, ref, timings)
    for output, o in outputs.items():
        api.write_golden(
            spark,
            store,
            run,
            output,
            source="proposal",
            reason=reason,
            changes=o["changes"],
            candidate=version,
            extra={
                "parity": o["parity"],
                **({"acceptance": o["acceptance"]} if o.get("acceptance") else {}),
            },
        )
    review = {
        "model": spec.name,
        "dataset": dataset,
        "version": version,
        "reason": reason,
        "proposed_at": now(),
        "proposed_by": who(),
        "fingerprint": run.fingerprint.get("digest"),
        "outputs": outputs,
        "timings": timings,
    }
    directory = out_dir or _default_dir(project, spec.name, dataset, version)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REVIEW_JSON).write_text(json.dumps(review, indent=2, default=str) + "\n")
    write_review_html(review, directory / REVIEW_HTML)
    return Proposal(spec.name, dataset, version, review, directory, timings)


def _review_output(
    spark: SparkSession,
    project: api.Project,
    store: GoldenStore,
    run: api.ModelRun,
    ref: GoldenRef,
    timings: dict[str, float],
) -> dict[str, Any]:
    """One output: parity with the spec's tolerances, the zero-tolerance changes and, when
    the output declares them, its acceptance metrics."""
    output, out = ref.output, run.spec.outputs[ref.output]
    if not store.exists(ref):
        return {
            "parity": {"passed": False, "failing_columns": [], "note": "no golden in force"},
            "changes": None,
            "change_lines": format_changes(None),
            "acceptance": None,
        }
    mark = time.perf_counter()
    compared = api.compare_output(spark, store, run, output)
    result = compared.comparison.to_dict()
    timings[f"{output}.compare"] = time.perf_counter() - mark
    mark = time.perf_counter()
    changes = changes_against_current(
        spark, store, ref, run.outputs[output], keys=list(out.keys), type_policy=out.type_policy
    )
    timings[f"{output}.changes"] = time.perf_counter() - mark
    acceptance = None
    if out.acceptance is not None:
        mark = time.perf_counter()
        golden, _ = store.read(spark, ref)
        label = out.acceptance.label
        acceptance = evaluate(
            run.spec,
            output,
            golden,
            run.outputs[output],
            label_table=_label_table(spark, project, run, label.table) if label else None,
            changes=changes,
        )
        timings[f"{output}.acceptance"] = time.perf_counter() - mark
    return {
        "golden": compared.golden_manifest["version"],
        "parity": {
            "passed": compared.passed,
            "failing_columns": list(compared.comparison.failing_columns),
            "mismatch_counts": result["mismatch_counts"],
            "rows": result["rows"],
        },
        "changes": changes,
        "change_lines": format_changes(changes),
        "acceptance": acceptance,
    }


def _candidate_refs(
    store: GoldenStore, spec: ModelSpec, dataset: str, version: str
) -> dict[str, GoldenRef]:
    """The outputs that have ``version``; none: one error listing the open candidates."""
    refs = {o: GoldenRef(spec.name, dataset, o) for o in spec.outputs}
    found = {o: r for o, r in refs.items() if version in store.versions(r)}
    if not found:
        open_ = sorted({v for r in refs.values() for v in store.candidates(r)})
        raise ApprovalError(
            f"model {spec.name} has no candidate {version} on '{dataset}' "
            f"(candidates: {', '.join(open_) or 'none'}; make one with harness propose "
            f"{spec.name} --dataset {dataset} --reason '...')"
        )
    return found


def approve(
    project: api.Project,
    spec: ModelSpec,
    dataset: str,
    version: str,
    *,
    by: str,
    override: str = "",
    spark: SparkSession | None = None,
) -> dict[str, dict[str, Any]]:
    """Put candidate ``version`` of every output of ``spec`` in force; returns each output's
    approval record. Refuses (changing nothing) when a check failed and no ``override``."""
    if not by.strip():
        raise ApprovalError("harness approve needs --by NAME (who approves the change)")
    store = project.store(spark)
    refs = _candidate_refs(store, spec, dataset, version)
    current = {o: store.current_version(r) for o, r in refs.items()}
    statuses = {o: store.status(r, version, current=current[o]) for o, r in refs.items()}
    todo = {o: r for o, r in refs.items() if statuses[o] != "current"}
    if not todo:
        raise ApprovalError(f"{spec.name}/{dataset} {version} is already current")
    for output in todo:
        if statuses[output] not in ("candidate", "approved"):
            raise ApprovalError(
                f"{spec.name}/{dataset}/{output} {version} is {statuses[output]}, not a "
                "candidate: propose the change again"
            )
    manifests = {o: store.manifest(r, version) for o, r in todo.items()}
    for output, manifest in manifests.items():
        against = manifest["provenance"].get("previous_version")
        if against != current[output]:
            raise ApprovalError(
                f"{spec.name}/{dataset}/{output} {version} was reviewed against {against}, "
                f"but {current[output]} is in force now: propose the change again"
            )
    failed = {
        o: failures(m["provenance"]["acceptance"])
        for o, m in manifests.items()
        if m["provenance"].get("acceptance") and not m["provenance"]["acceptance"]["passed"]
    }
    if failed and not override.strip():
        what = "; ".join(f"{o}: {', '.join(lines)}" for o, lines in failed.items())
        raise ApprovalError(
            f"{spec.name}/{dataset} {version} not approved, acceptance failed ({what}); "
            "nothing changed (approve anyway with --override 'why')"
        )
    records: dict[GoldenRef, dict[str, Any]] = {}
    for output, ref in todo.items():
        prov = manifests[output]["provenance"]
        acc = prov.get("acceptance") or {}
        record = {
            "by": by,
            "at": now(),
            "recorded_by": who(),
            "reason": prov.get("reason", ""),
            "replaced": current[output],
            "override": override.strip() or None,
            "verdicts": {
                **{m["metric"]: m["passed"] for m in acc.get("metrics", [])},
                **{f"column:{c['column']}": c["passed"] for c in acc.get("columns", [])},
            },
            "acceptance_passed": acc.get("passed"),
        }
        records[ref] = record
    store.approve_all(version, records)  # one step for all outputs (golden/journal.py)
    return {ref.output: record for ref, record in records.items()}


def discard(
    project: api.Project,
    spec: ModelSpec,
    dataset: str,
    version: str,
    *,
    by: str,
    reason: str = "",
    spark: SparkSession | None = None,
) -> list[str]:
    """Set candidate ``version`` of every output aside; returns the outputs."""
    store = project.store(spark)
    refs = _candidate_refs(store, spec, dataset, version)
    record = {"by": by, "at": now(), "reason": reason}
    for ref in refs.values():
        store.discard(ref, version, record)
    return list(refs)
