"""``harness propose`` / ``approve`` / ``discard``: an approved change to a model's numbers,
from a candidate golden and its review to the version in force
(:mod:`harness.workflows.approval`; README "An approved change, step by step")."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyspark.sql import SparkSession

from harness import api
from harness.cli.common import backend_options, open_spark
from harness.golden import is_uri
from harness.spec import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "propose",
        help="run a model and write its outputs as a candidate golden, with a review",
        description="Runs MODEL, writes each output as a candidate version beside the one in "
        "force (never switching to it), and writes review.html and review.json: parity, what "
        "changed, the declared acceptance metrics with thresholds and verdicts.",
    )
    p.add_argument("model")
    p.add_argument("--dataset", default="sample", choices=DATASETS)
    p.add_argument("--reason", required=True, help="the approved change request, 'CR-...: why'")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--out", default=None, help="review folder (default reports/review/...)")
    backend_options(p)
    p.set_defaults(run=cmd_propose)
    for name, helps in (
        ("approve", "put a reviewed candidate golden in force"),
        ("discard", "set an unapproved candidate golden aside"),
    ):
        p = sub.add_parser(name, help=helps)
        p.add_argument("model")
        p.add_argument("--candidate", required=True, metavar="vNNNN")
        p.add_argument("--dataset", default="sample", choices=DATASETS)
        p.add_argument("--by", required=True, help="who approves (recorded in the provenance)")
        if name == "approve":
            p.add_argument(
                "--override", default="", help="approve although a check failed: the reason"
            )
        else:
            p.add_argument("--reason", default="", help="why it is set aside")
        backend_options(p)
        p.set_defaults(run=cmd_approve if name == "approve" else cmd_discard)


def cmd_propose(args: argparse.Namespace, project: api.Project) -> int:
    from harness.workflows.approval import propose

    proposal = propose(
        open_spark(args),
        project,
        project.model(args.model),
        args.dataset,
        reason=args.reason,
        out_dir=Path(args.out) if args.out else None,
        scale=args.scale,
    )
    print("\n".join(proposal.lines()))
    print(f"review: {proposal.directory / 'review.html'}")
    verdict = "passes" if proposal.accepted else "FAILS"
    print(
        f"acceptance {verdict}; approve with: harness approve {args.model} --dataset "
        f"{args.dataset} --candidate {proposal.version} --by NAME"
    )
    return 0 if proposal.accepted else 1


def _spark_if_uri(args: argparse.Namespace, project: api.Project) -> SparkSession | None:
    return open_spark(args) if is_uri(project.golden) else None


def cmd_approve(args: argparse.Namespace, project: api.Project) -> int:
    from harness.workflows.approval import approve

    records = approve(
        project,
        project.model(args.model),
        args.dataset,
        args.candidate,
        by=args.by,
        override=args.override,
        spark=_spark_if_uri(args, project),
    )
    for output, record in records.items():
        note = f" (override: {record['override']})" if record["override"] else ""
        print(
            f"{args.model}/{args.dataset}/{output}: CURRENT {record['replaced']} -> "
            f"{args.candidate}, approved by {record['by']}{note}"
        )
    return 0


def cmd_discard(args: argparse.Namespace, project: api.Project) -> int:
    from harness.workflows.approval import discard

    outputs = discard(
        project,
        project.model(args.model),
        args.dataset,
        args.candidate,
        by=args.by,
        reason=args.reason,
        spark=_spark_if_uri(args, project),
    )
    print(f"{args.model}/{args.dataset} {args.candidate} discarded: {', '.join(outputs)}")
    return 0
