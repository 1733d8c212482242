"""Print the fault-injection table from a JUnit file of a ``pytest -m faults`` run.

Each fault test records ``fault``, ``outcome`` and ``data_lost`` (its own check of the
goldens before and after) as JUnit properties; this renders one Markdown row per test, with
pytest's verdict, so the table can be quoted as it is. Exit 1 when a test failed or a row
reports data lost.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def rows(junit_path: str) -> list[dict[str, str]]:
    found = []
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        if "fault" not in props:
            continue
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        verdict = "FAILED" if failed else "skipped" if skipped else "passed"
        found.append({**props, "verdict": verdict, "seconds": case.get("time", "")})
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: fault_table.py JUNIT_XML", file=sys.stderr)
        return 2
    table = rows(argv[0])
    print("| fault | what happened | data lost | test | s |")
    print("|---|---|---|---|---|")
    for r in table:
        cells = (r["fault"], r.get("outcome", ""), r.get("data_lost", "?"), r["verdict"])
        print("| " + " | ".join(c.replace("|", "/") for c in cells) + f" | {r['seconds']} |")
    bad = [r for r in table if r["verdict"] == "FAILED" or r.get("data_lost") != "none"]
    print(f"\n{len(table)} faults, {len(bad)} with a failed test or data lost")
    return 1 if bad or not table else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
