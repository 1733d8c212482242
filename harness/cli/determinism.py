"""``harness determinism MODEL``: is the model deterministic under other physical plans?

Runs the model under the reference plan and another (``harness.workflows.determinism``),
prints per output whether its runs agree or which columns and keys differ, and exits 1
when an output is nondeterministic beyond its tolerances (0 otherwise).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness import api
from harness.cli.common import backend_options, open_spark
from harness.runners import PLATFORMS
from harness.spec import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    from harness.workflows.determinism import DEFAULT_VARIANTS, PLANS

    p = sub.add_parser(
        "determinism", help="run a model under two physical plans and compare them exactly"
    )
    p.add_argument("model")
    p.add_argument("--dataset", default="sample", choices=DATASETS)
    p.add_argument("--platform", default="spark", choices=PLATFORMS)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument(
        "--plan",
        action="append",
        choices=[plan.name for plan in PLANS[1:]],
        help=f"plan to compare with the reference run (repeatable; default: "
        f"{', '.join(DEFAULT_VARIANTS)})",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    backend_options(p)
    p.set_defaults(run=cmd_determinism)


def cmd_determinism(args: argparse.Namespace, project: api.Project) -> int:
    from harness.workflows.determinism import DEFAULT_VARIANTS, check

    spark = open_spark(args)
    report = check(
        spark,
        project,
        project.model(args.model),
        args.dataset,
        platform=args.platform,
        variants=args.plan or DEFAULT_VARIANTS,
        scale=args.scale,
    )
    print(report.text())
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
        print(f"report: {path}")
    return 1 if report.failed else 0
