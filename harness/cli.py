"""``harness``: the command line over the same library the pytest plugin uses.

Commands:
    harness list                               models, their tables and how to run them
    harness describe MODEL                     what a model reads and writes, and its spec
    harness run MODEL [--dataset D]            run and compare without pytest
    harness capture [MODEL ...] --dataset D    goldens from the emulated legacy platform
    harness nightly --out DIR                  the parity job: data, goldens, all models
    harness fixtures sample|release NAME/VER   build a sample, freeze a bundle version
    harness golden import|history|restore      legacy exports, versions, rollbacks
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import api
from harness.backends import BACKENDS
from harness.errors import HarnessError
from harness.golden_import import FORMATS
from harness.runners import PLATFORMS
from harness.spec import DATASETS


def _backend(args: argparse.Namespace) -> str:
    return getattr(args, "backend", None) or os.environ.get("HARNESS_BACKEND") or "local"


def _spark(args: argparse.Namespace):
    from harness.backends import get_spark

    return get_spark(_backend(args), remote=getattr(args, "remote", None))


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
            f"  {name:12s} keys {list(out.keys)} rtol={out.rtol} atol={out.atol} "
            f"type_policy={out.type_policy}" + (f"  ({out.description})" if out.description else "")
        )
        for col, tol in out.columns.items():
            why = f"  because {tol.reason}" if tol.reason else ""
            print(f"      {col}: {', '.join(f'{k}={v}' for k, v in tol.as_dict().items())}{why}")
        if out.ignore:
            print(f"      ignored: {', '.join(out.ignore)}")
        if out.schema:
            print(f"      schema: {', '.join(f'{c} {t}' for c, t in out.schema)}")
    print(f"datasets: {', '.join(spec.datasets)}; packages: {json.dumps(spec.packages)}")
    return 0


def cmd_run(args: argparse.Namespace, project: api.Project) -> int:
    from harness.fingerprint import engine_versions
    from harness.report.records import FAILED, ModelRecord
    from harness.report.text import format_changes
    from harness.runners import Platform

    spark = _spark(args)
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
            for output in spec.outputs:
                try:
                    compared = api.compare_output(
                        spark, project.store(), run, output, rtol=args.rtol
                    )
                except HarnessError as exc:
                    record.record_error(str(exc), output)
                    errors.append(exc)
                    print(f"\n[{output}] error: {exc}")
                    continue
                record.record_comparison(compared)
                print(f"\n[{output}] compared in {compared.compare_seconds:.1f}s")
                print(compared.comparison.report())
    if record.fingerprint_changes:
        print(format_changes(record.fingerprint_changes))
    if args.report_dir:
        from harness.report.summary import build_summary, write_summary

        summary = build_summary(
            [record],
            backend=_backend(args),
            datasets=[args.dataset],
            engine=engine_versions(spark),
            started=started,
            finished=time.time(),
        )
        paths = write_summary(Path(args.report_dir), summary)
        print(f"reports: {paths['html']}, {paths['json']}")
    if errors:
        raise errors[0]
    return 1 if any(o.status == FAILED for o in record.outputs) else 0


def cmd_capture(args: argparse.Namespace, project: api.Project) -> int:
    spark = _spark(args)
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


def cmd_fixtures(args: argparse.Namespace, project: api.Project) -> int:
    from harness import fixtures

    targets = []
    for ref in args.refs:
        name, _, version = ref.partition("/")
        targets.append((name, version or "1"))
    if args.action == "release":
        for name, version in targets:
            files = fixtures.release(project.fixtures / name / version)
            print(f"released {name}@{version}: {len(files)} files hashed")
        return 0
    spark = _spark(args)
    bundles = {
        n: fixtures.load_bundle(project.fixtures, n, v, require_sample=False) for n, v in targets
    }
    rows = {n: b.recipe.sample_rows for n, b in bundles.items() if b.recipe}
    from pyspark.sql import functions as F

    from harness.datagen import generate

    for name, bundle in bundles.items():
        if bundle.released:
            raise HarnessError(
                f"{bundle.directory}: {bundle.ref} is released; its sample is "
                "frozen (make a new version to change it)"
            )
        df = generate(spark, bundle.require_recipe(), rows=rows[name], other_rows=rows)
        df = df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c, _ in bundle.columns])
        pdf = df.toPandas()
        pdf.to_csv(bundle.directory / "sample.csv", index=False, na_rep=fixtures.NULL_TOKEN)
        print(f"{bundle.ref}: wrote {len(pdf)} rows to {bundle.directory / 'sample.csv'}")
    return 0


def cmd_golden(args: argparse.Namespace, project: api.Project) -> int:
    from harness.golden import GoldenRef

    ref = GoldenRef(args.model, args.dataset, args.output)
    store = project.store()
    if args.action == "history":
        for entry in store.history(ref):
            mark = "*" if entry.pop("current") else " "
            print(
                f"{mark} {entry.pop('version')}  {entry.get('created_at', '')}  "
                f"{entry.get('source', '')}  {entry.get('reason', '')}"
            )
        return 0
    if args.action == "restore":
        manifest = store.restore(ref, args.version)
        print(f"{ref}: CURRENT -> {manifest['version']} ({manifest['rows']:,} rows)")
        return 0
    from harness.golden_import import import_files

    spark = _spark(args)
    spec = project.model(args.model)
    if args.output not in spec.outputs:
        raise HarnessError(
            f"model {args.model} has no output '{args.output}' (outputs: {', '.join(spec.outputs)})"
        )
    manifest = import_files(
        spark,
        store,
        ref,
        [Path(f) for f in args.files],
        fmt=args.format,
        keys=list(spec.outputs[args.output].keys),
        schema=args.schema,
        header=args.header,
        reason=args.reason,
    )
    print(f"imported {manifest['rows']:,} rows into {ref} as {manifest['version']}")
    return 0


def cmd_nightly(args: argparse.Namespace, project: api.Project) -> int:
    """Capture missing goldens, then run every suite on the dataset with reports."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HARNESS_SCALE": str(args.scale)}
    if not args.skip_capture:
        print(
            f"[nightly] capturing missing '{args.dataset}' goldens (legacy emulation)", flush=True
        )
        capture = [
            sys.executable,
            "-m",
            "harness.cli",
            "capture",
            "--dataset",
            args.dataset,
            "--scale",
            str(args.scale),
        ]
        code = subprocess.call(capture, env=env, cwd=project.root)
        if code:
            return code
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "harness.progress",
        "--harness-dataset",
        args.dataset,
        "--harness-report-dir",
        str(out),
        f"--junitxml={out / 'junit.xml'}",
        "-o",
        "junit_family=xunit2",
        "-q",
        "--harness-backend",
        args.backend,
    ]
    if args.workers != "0":
        cmd += ["-n", args.workers]
    cmd += args.pytest_args
    print(f"[nightly] {' '.join(cmd[2:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.call(cmd, env=env, cwd=project.root)
    print(
        f"[nightly] finished in {time.perf_counter() - started:.0f}s; reports: "
        f"{out / 'report.html'}, {out / 'summary.json'}, {out / 'junit.xml'}"
    )
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default=None, help="repository root (default: find it)")
    parser.add_argument("--golden-root", default=None)
    sub = parser.add_subparsers(dest="command", required=True)

    def backend_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", choices=BACKENDS, default=None)
        p.add_argument("--remote", default=None, help="Spark Connect URL")

    sub.add_parser("list", help="models, their tables and how to run them")
    p = sub.add_parser("describe", help="one model's tables, steps and tolerances")
    p.add_argument("model")
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
    backend_opts(p)
    p = sub.add_parser("capture", help="capture goldens on the emulated legacy platform")
    p.add_argument("models", nargs="*")
    p.add_argument("--dataset", action="append", choices=DATASETS)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--force", action="store_true", help="recapture existing goldens")
    p.add_argument("--reason", default="")
    backend_opts(p)
    p = sub.add_parser("fixtures", help="build a bundle's sample or release a version")
    p.add_argument("action", choices=("sample", "release"))
    p.add_argument("refs", nargs="+", help="NAME/VERSION")
    backend_opts(p)
    p = sub.add_parser("golden", help="import legacy exports; list or restore versions")
    p.add_argument("action", choices=("import", "history", "restore"))
    p.add_argument("model")
    p.add_argument("output")
    p.add_argument("files", nargs="*", help="import: files or folders exported by Hive")
    p.add_argument("--dataset", default="sample", choices=DATASETS)
    p.add_argument("--format", default="parquet", choices=FORMATS)
    p.add_argument("--schema", default=None, help="DDL for csv/hive-text files")
    p.add_argument("--header", action="store_true", help="csv files have a header row")
    p.add_argument("--version", default=None, help="restore: the version to make current")
    p.add_argument("--reason", default="imported legacy export")
    backend_opts(p)
    p = sub.add_parser("nightly", help="the nightly parity job over every model")
    p.add_argument("--out", default="reports/nightly")
    p.add_argument("--dataset", default="full", choices=DATASETS)
    p.add_argument("--scale", type=float, default=float(os.environ.get("HARNESS_SCALE", 1.0)))
    p.add_argument("--workers", default="2", help="pytest-xdist workers (0: none)")
    p.add_argument("--backend", default="local", choices=BACKENDS)
    p.add_argument("--skip-capture", action="store_true")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    return parser


COMMANDS = {
    "list": cmd_list,
    "describe": cmd_describe,
    "run": cmd_run,
    "capture": cmd_capture,
    "fixtures": cmd_fixtures,
    "golden": cmd_golden,
    "nightly": cmd_nightly,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "dataset", None) is None and args.command == "capture":
        args.dataset = ["sample"]
    try:
        project = api.Project.find(args.root, golden=args.golden_root)
        return COMMANDS[args.command](args, project)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
