"""Bundle fingerprints: what produced a result, so a golden can say it and a failure can
name what changed since (a fixture version, a package version, the model code).

A fingerprint is a flat ``{part: value}`` mapping plus a digest over it. Parts:
``spec``, ``code:<file>``, ``fixture:<table>`` (bundle ref and manifest digest),
``python:<package>``, ``r:<package>``, ``R``. Engine versions (Spark, Python, Java) are
recorded beside it, not in it: the same model on a new engine is the point of the test.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from typing import Any

from harness.errors import HarnessError
from harness.fixtures import Bundle, sha256_file
from harness.spec import ModelSpec

ALWAYS_PYTHON = ("pyspark", "pandas", "numpy", "pyarrow")


def python_version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def r_versions(packages: list[str]) -> dict[str, str]:
    """R's own version and the installed versions of ``packages`` (via rpy2)."""
    from harness.rsession import r_package_versions

    return r_package_versions(packages)


def compute(spec: ModelSpec, bundles: dict[str, Bundle]) -> dict[str, Any]:
    parts: dict[str, str] = {"spec": sha256_file(spec.spec_path)[:16]}
    for path in spec.code_files:
        if path != spec.spec_path:
            parts[f"code:{path.relative_to(spec.directory)}"] = sha256_file(path)[:16]
    for table, bundle in sorted(bundles.items()):
        parts[f"fixture:{table}"] = f"{bundle.ref} {bundle.manifest_digest[-16:]}"
    for pkg in sorted(set(ALWAYS_PYTHON) | set(spec.packages.get("python", {}))):
        parts[f"python:{pkg}"] = python_version_of(pkg)
    if spec.uses_r or spec.packages.get("r"):
        for pkg, version in r_versions(sorted(spec.packages.get("r", {}))).items():
            parts["R" if pkg == "R" else f"r:{pkg}"] = version
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"digest": f"sha256:{digest[:32]}", "parts": parts}


def engine_versions(spark: Any = None, *, r: bool = False) -> dict[str, str]:
    """Python, pyspark, the harness, Spark (given a session) and, with ``r`` (an R step
    ran), R's own version, read through rpy2 like the fingerprint's."""
    versions = {
        "python": platform.python_version(),
        "pyspark": python_version_of("pyspark"),
        "harness": python_version_of("parity-harness"),
    }
    if spark is not None:
        try:
            versions["spark"] = spark.version
        except Exception:  # a broken session should not hide the rest
            versions["spark"] = "unknown"
    if r:
        try:
            versions["R"] = r_versions([])["R"]
        except HarnessError:  # R missing: the R step failed and says so itself
            versions["R"] = "unknown"
    return versions


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Readable differences between a golden's recorded fingerprint and the current one."""
    if not old or "parts" not in old:
        return ["the golden records no fingerprint (an imported golden)"]
    before, after = old["parts"], new["parts"]
    out = []
    for part in sorted(set(before) | set(after)):
        b, a = before.get(part), after.get(part)
        if b == a:
            continue
        label = part.replace("code:", "model code ").replace("fixture:", "fixture ")
        label = label.replace("python:", "python package ").replace("r:", "R package ")
        if b is None:
            out.append(f"{label}: added ({a})")
        elif a is None:
            out.append(f"{label}: removed (was {b})")
        elif part.startswith("code:") or part == "spec":
            out.append(f"{label}: changed")
        else:
            out.append(f"{label}: {b} -> {a}")
    return out
