"""Where a golden came from, as every report shows it: its *source*.

A golden is only as good as its origin. One emulated on this machine (``harness capture``:
the model run on Spark with the Hive semantics the catalogue can emulate) proves the new
platform against an emulation of the old one; one imported from a real Hive export
(``harness golden import``) proves it against what HDInsight produced; one refreshed after
an approved change carries its reason and approver. The manifest's provenance says which
(``GoldenStore.write`` records it); this module turns it into one small record,
``golden_source`` (``{kind, version, ..., detail}``), that ``summary.json``, the HTML
summary table, the text failure report and the JUnit properties all show, and one line
(:func:`describe`) that says it the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A store's provenance ``source`` (golden.SOURCES) -> the kind of golden a report names.
# An approved proposal (harness propose, then approve) is a refresh whose approver and
# acceptance verdicts are on record.
KINDS = {
    "legacy-emulation": "emulated",
    "imported": "imported",
    "refresh": "refreshed",
    "proposal": "refreshed",
}
UNKNOWN = "unknown"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def golden_source(manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """The source record of a golden from its manifest: ``kind`` (emulated | imported |
    refreshed | unknown), ``version``, when and by whom, what is particular to the kind
    (emulated: the catalogue rules and how far the emulation reached into each step;
    imported: the export; refreshed: the reason and approver) and ``detail``, the line
    every report prints."""
    manifest = manifest if isinstance(manifest, Mapping) else {}
    prov = manifest.get("provenance")
    prov = prov if isinstance(prov, Mapping) else {}
    kind = KINDS.get(str(prov.get("source")), UNKNOWN)
    out: dict[str, Any] = {
        "kind": kind,
        "version": manifest.get("version"),
        "created_at": prov.get("created_at"),
        "created_by": prov.get("created_by"),
    }
    if kind == "emulated":
        out["emulated_rules"] = _list(prov.get("emulated_rules"))
        out["not_emulated_rules"] = _list(prov.get("not_emulated_rules"))
        out["steps"] = [dict(s) for s in _list(prov.get("steps")) if isinstance(s, Mapping)]
    elif kind == "imported":
        out["export"] = prov.get("export") or ", ".join(str(o) for o in _list(prov.get("origin")))
        out["format"] = prov.get("format")
        out["reason"] = prov.get("reason")
    elif kind == "refreshed":
        approval = prov.get("approval")
        approval = approval if isinstance(approval, Mapping) else {}
        out["reason"] = prov.get("reason")
        out["approver"] = approval.get("by") or prov.get("approved_by") or prov.get("created_by")
        if approval.get("override"):
            out["override"] = approval["override"]
    out["detail"] = describe(out)
    return out


def describe(source: Mapping[str, Any] | None) -> str:
    """One line: what kind of golden, which version, and what makes it that kind."""
    if not isinstance(source, Mapping) or not source.get("kind"):
        return "unknown (no provenance)"
    kind = str(source["kind"])
    head = f"{kind} {source['version']}" if source.get("version") else kind
    if kind == "emulated":
        emulated = _list(source.get("emulated_rules"))
        total = len(emulated) + len(_list(source.get("not_emulated_rules")))
        parts = ["legacy emulation on Spark, not the real HDInsight output"]
        if total:
            parts.append(f"{len(emulated)}/{total} catalogue rules emulated")
        steps = [s for s in _list(source.get("steps")) if isinstance(s, Mapping)]
        if steps:
            parts.append(
                "steps: " + ", ".join(f"{s.get('step')} {s.get('semantics')}" for s in steps)
            )
        else:
            parts.append("steps not recorded")
        return f"{head} ({'; '.join(parts)})"
    if kind == "imported":
        export = source.get("export") or "export not recorded"
        return f"{head} (legacy export {export})"
    if kind == "refreshed":
        return (
            f"{head} (reason: {source.get('reason') or '-'}; "
            f"approver: {source.get('approver') or '-'})"
        )
    return head
