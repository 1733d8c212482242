"""Precision and recall of ``harness lint`` over its labelled corpus (tests/lint_corpus.yaml).

    .venv/bin/python scripts/lint_precision.py [--corpus FILE]

Lints every statement of the corpus alone with the whole catalogue (no Spark) and prints,
per rule and overall, how many findings are real (precision) and how many real cases are
found (recall), then every case where lint disagrees with the label. docs/explain.md
quotes the numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.explain.corpus import load_corpus, score, table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "lint_corpus.yaml")
    args = parser.parse_args(argv)
    total, per_rule, outcomes = score(load_corpus(args.corpus))
    sys.stdout.write(table(total, per_rule, outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
