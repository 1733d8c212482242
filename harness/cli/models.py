"""Commands about models: ``list``, ``describe``, ``run`` (without pytest) and ``capture``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness import api
from harness.cli.common import backend, backend_options, open_spark
from harness.criteria import criteria_line
from harness.errors import HarnessError
from harness.runners import PLATFORMS
from harness.spec import DATASETS, ColumnTolerance, OutputSpec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="models, their tables and how to run them")
    p.set_defaults(run=cmd_list)
    p = sub.add_parser("describe", help="one model's tables, steps and tolerances")
    p.add_argument("model")
    p.set_defaults(run=cmd_describe)
    p = sub.add_parser("run", help="run one model and compare with its goldens")
    p.add_argument("model")
    p.add_argument("--dataset", default="sample", choices=DATASETS)
    p.add_argument(
        "--platform",
        "--profile",
        default="spark",
        choices=PLATFORMS,
        help="emulate the new platform (spark) or legacy Hive (--profile: old spelling)",
    )
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--rtol", type=float, default=None)
    p.add_argument("--report-dir", default=None, help="write summary.json and report.html here")
    backend_options(p)
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("capture", help="capture goldens on the emulated legacy platform")
    p.add_argument("models", nargs="*")
    p.add_argument("--dataset", action="append", choices=DATASETS)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--force", action="store_true", help="recapture existing goldens")
    p.add_argument("--reason", default="")
    backend_options(p)
    p.set_defaults(run=cmd_capture)


def cmd_list(args: argparse.Namespace, project: api.Project) -> int:
    for name, spec in sorted(project.models.items()):
        kinds = "+".join(dict.fromkeys(s.kind for s in spec.steps))
        print(f"{name}  [{kinds}]  team: {spec.team}")
        reads = ", ".join(f"{t} <- {i.fixture}@{i.version}" for t, i in spec.inputs.items())
        writes = ", ".join(f"{o} (keys: {', '.join(s.keys)})" for o, s in spec.outputs.items())
        print(f"    reads : {reads}")
        print(f"    writes: {writes}")
        print(f"    run   : pytest -k {name}   |   harness run {name} --dataset sample")
    return 0


def cmd_describe(args: argparse.Namespace, project: api.Project) -> int:
    spec = project.model(args.model)
    print(f"{spec.name} — {spec.description}\nteam: {spec.team}  owner: {spec.owner or '-'}")
    if spec.notes:
        print(f"notes: {spec.notes}")
    print("steps:")
    for step in spec.steps:
        extra = f" per group of {', '.join(step.group_by)}" if step.group_by else ""
        print(f"  {step.kind:6s} {step.target}{extra} -> {', '.join(step.produces) or '(SQL)'}")
    print("parameters:", json.dumps(spec.parameters))
    print("reads:")
    for table, ref in spec.inputs.items():
        about = f"  ({ref.description})" if ref.description else ""
        print(f"  {table:12s} fixture {ref.fixture}@{ref.version}{about}")
    print("writes:")
    for name, out in spec.outputs.items():
        print(
            f"  {name:12s} keys {list(out.keys)} rtol={out.rtol:g} atol={out.atol:g} "
            f"type_policy={out.type_policy}" + (f"  ({out.description})" if out.description else "")
        )
        for col, tol in out.columns.items():
            print(f"      {col}: {override_line(tol, out)}")
        if out.ignore:
            print(f"      ignored: {', '.join(out.ignore)}")
        if out.schema:
            print(f"      schema: {', '.join(f'{c} {t}' for c, t in out.schema)}")
        if out.acceptance is not None:  # what an approved change must keep (harness propose)
            print(f"      acceptance: {criteria_line(out.acceptance)}")
    print(f"datasets: {', '.join(spec.datasets)}; packages: {json.dumps(spec.packages)}")
    if spec.accepted:
        from harness.explain.acceptance import describe_acceptance

        for entry in spec.accepted:
            print(f"accepted lint finding: {describe_acceptance(entry)}: {entry.reason}")
    return 0


def override_line(tol: ColumnTolerance, out: OutputSpec) -> str:
    """A column override as the rule it makes: both tolerances (one it leaves out is the
    output's, and says so) and the reason it was approved."""
    parts = [
        f"{field}={value:g}" if value is not None else f"{field}={default:g} (output default)"
        for field, value, default in (("rtol", tol.rtol, out.rtol), ("atol", tol.atol, out.atol))
    ]
    return ", ".join(parts) + (f"  because: {tol.reason}" if tol.reason else "  (no reason given)")


def cmd_run(args: argparse.Namespace, project: api.Project) -> int:
    from harness.fingerprint import engine_versions
    from harness.report.records import FAILED, ModelRecord
    from harness.report.text import format_changes, format_comparison, format_golden_source
    from harness.runners import Platform

    spark = open_spark(args)
    spec = project.model(args.model)
    platform = Platform(args.platform, spec)
    record = ModelRecord.start(spec.name, args.dataset, spec.outputs)
    started = time.time()
    errors: list[HarnessError] = []
    with platform.active(spark):
        try:
            run = api.run_model(
                spark, project, spec, args.dataset, platform=platform, scale=args.scale
            )
        except HarnessError as exc:
            record.record_error(str(exc))
            errors.append(exc)
        else:
            record.record_run(run, engine_versions(spark, r=spec.uses_r))
            print(
                f"{spec.name} on {args.dataset} ({args.platform} platform): ran in "
                f"{run.run_seconds:.1f}s; rows in: {run.rows_in}; rows out: {run.rows_out}"
            )
            for line in record.data_quality:
                print(f"  data quality: {line}")
            for step, mb in record.r_peak_mb.items():
                print(f"  R on the driver: {step} peak {mb:,.0f} MB")
            for output in spec.outputs:
                try:
                    compared = api.compare_output(
                        spark, project.store(spark), run, output, rtol=args.rtol
                    )
                except HarnessError as exc:
                    record.record_error(str(exc), output)
                    errors.append(exc)
                    print(f"\n[{output}] error: {exc}")
                    continue
                record.record_comparison(compared)
                print(f"\n[{output}] compared in {compared.compare_seconds:.1f}s")
                print(format_comparison(compared.comparison))
                print(format_golden_source(record.output(output).golden_source))
    if record.fingerprint_changes:
        print(format_changes(record.fingerprint_changes))
    if record.step_output and any(o.status == FAILED for o in record.outputs):
        from harness.steplog import format_step_output

        print(format_step_output(record.step_output))
    if args.report_dir:
        from harness.report.risks import migration_risks
        from harness.report.summary import build_summary, write_summary

        summary = build_summary(
            [record],
            backend=backend(args),
            datasets=[args.dataset],
            engine=engine_versions(spark),
            started=started,
            finished=time.time(),
            risks=migration_risks([spec.name], project.suites, project.root),
        )
        paths = write_summary(Path(args.report_dir), summary)
        print(f"reports: {paths['html']}, {paths['json']}")
    if errors:
        raise errors[0]
    return 1 if any(o.status == FAILED for o in record.outputs) else 0


def cmd_capture(args: argparse.Namespace, project: api.Project) -> int:
    args.dataset = args.dataset or ["sample"]
    spark = open_spark(args)
    names = args.models or sorted(project.models)
    for name in names:
        spec = project.model(name)
        for dataset in args.dataset:
            if dataset not in spec.datasets:
                continue
            started = time.perf_counter()
            done = api.capture(
                spark,
                project,
                spec,
                dataset,
                scale=args.scale,
                only_missing=not args.force,
                reason=args.reason,
            )
            state = f"captured {', '.join(done)}" if done else "goldens present, skipped"
            print(f"{name}/{dataset}: {state} ({time.perf_counter() - started:.1f}s)", flush=True)
    return 0
