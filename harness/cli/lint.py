"""``harness lint``: the catalogue's constructs in models' code, before anything runs.

Reads files only (no Spark). Exit code: 0 when lint ran, whatever it found, so a pipeline
can publish the SARIF and let the code-scanning tool decide; with ``--strict``, 1 when any
finding is open (not accepted in the spec); 2 on a user mistake (unknown model...).

``harness lint MODEL --accept RULE@FILE:LINE --reason "..."`` accepts one open finding:
it writes the ``accepted:`` entry (rule, file, expression) into the model's spec.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import api
from harness.explain.formats import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lint",
        help="find Hive-to-Spark migration risks in models' code (no Spark needed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="default: every model")
    p.add_argument("--format", default="text", choices=FORMATS)
    p.add_argument("--output", default=None, help="write here instead of standard output")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a finding is open (not accepted)"
    )
    p.add_argument(
        "--accept",
        metavar="RULE@FILE:LINE",
        default=None,
        help="write an accepted: entry for this open finding into MODEL's spec",
    )
    p.add_argument("--reason", default=None, help="why the finding is accepted (with --accept)")
    p.set_defaults(run=cmd_lint)


def cmd_lint(args: argparse.Namespace, project: api.Project) -> int:
    from harness.explain.acceptance import describe_acceptance, lint_model
    from harness.explain.formats import render

    if args.accept is not None or args.reason is not None:
        return _accept(args, project)
    names = args.models or sorted(project.models)
    reports = []
    for name in names:
        spec = project.model(name)
        report, stale = lint_model(spec)
        reports.append(report)
        for entry in stale:
            print(
                f"warning: {spec.spec_path}: accepted '{describe_acceptance(entry)}' matches "
                "no finding (remove it if the code changed)",
                file=sys.stderr,
            )
    text = render(reports, args.format, root=project.root)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"lint: {args.format} written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    open_findings = sum(len(r.open_findings) for r in reports)
    return 1 if args.strict and open_findings else 0


def _accept(args: argparse.Namespace, project: api.Project) -> int:
    from harness.errors import SpecError
    from harness.explain.acceptance import accept, describe_acceptance

    if args.accept is None or not args.reason or len(args.models) != 1:
        raise SpecError('--accept RULE@FILE:LINE needs one MODEL and --reason "..."')
    spec = project.model(args.models[0])
    entry = accept(spec, args.accept, args.reason, project.root)
    print(f"lint: accepted '{describe_acceptance(entry)}' in {spec.spec_path}")
    return 0
