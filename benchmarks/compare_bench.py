"""Benchmark ``harness.compare.compare`` against two floors and three peer tools, side by side.

    .venv/bin/python benchmarks/compare_bench.py --rows 1000000 --repeat 3 \
        [--peers all|fast|none] [--peer-timeout 900] [--out benchmarks/results/NAME.json]

The entry point only: the benchmark is the ``comparebench`` package next to this file
(one module per job, listed in its ``__init__``); options and output: benchmarks/README.md.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):  # the checkout (``harness``), then this folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from comparebench.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
