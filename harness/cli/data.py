"""Commands about data: ``fixtures`` (imports of legacy exports, samples, releases) and
``golden`` (import, history, restore)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import api
from harness.cli.common import backend_options, open_spark
from harness.errors import HarnessError
from harness.exports import FORMATS
from harness.spec import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fixtures",
        help="import a legacy export as a bundle, build a bundle's sample, release a version",
        description="harness fixtures import NAME FILES... --format F: a new bundle version from "
        "a legacy table's exported files. harness fixtures sample|release NAME/VERSION...",
    )
    p.add_argument("action", choices=("import", "sample", "release"))
    p.add_argument("refs", nargs="+", help="sample/release: NAME/VERSION...; import: NAME FILES...")
    p.add_argument("--format", default="parquet", choices=FORMATS, help="import: of the files")
    p.add_argument("--ddl", default=None, help="import: the Hive table's DDL (CREATE TABLE)")
    p.add_argument("--header", action="store_true", help="import: csv files have a header row")
    p.add_argument("--sample-rows", type=int, default=1000, help="import: rows in sample.csv")
    p.add_argument("--keys", nargs="+", default=[], help="import: the table's key columns")
    p.add_argument("--version", default=None, help="import: the version (default: the next)")
    backend_options(p)
    p.set_defaults(run=cmd_fixtures)
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
    backend_options(p)
    p.set_defaults(run=cmd_golden)


def cmd_fixtures(args: argparse.Namespace, project: api.Project) -> int:
    from harness import fixtures

    if args.action == "import":
        return cmd_fixtures_import(args, project)
    targets = []
    for ref in args.refs:
        name, _, version = ref.partition("/")
        targets.append((name, version or "1"))
    if args.action == "release":
        for name, version in targets:
            files = fixtures.release(project.fixtures / name / version)
            print(f"released {name}@{version}: {len(files)} files hashed")
        return 0
    spark = open_spark(args)
    bundles = {
        n: fixtures.load_bundle(project.fixtures, n, v, require_sample=False) for n, v in targets
    }
    rows = {n: b.recipe.sample_rows for n, b in bundles.items() if b.recipe}

    from harness.datagen import generate

    for name, bundle in bundles.items():
        if bundle.released:
            raise HarnessError(
                f"{bundle.directory}: {bundle.ref} is released; its sample is "
                "frozen (make a new version to change it)"
            )
        df = generate(spark, bundle.require_recipe(), rows=rows[name], other_rows=rows)
        path = bundle.directory / "sample.csv"
        written = fixtures.write_sample(df, [c for c, _ in bundle.columns], path)
        print(f"{bundle.ref}: wrote {written} rows to {path}")
    return 0


def cmd_fixtures_import(args: argparse.Namespace, project: api.Project) -> int:
    from harness.fixture_import import import_fixture

    name, *files = args.refs
    if not files:
        raise HarnessError("fixtures import: name the exported files or folder after NAME")
    done = import_fixture(
        open_spark(args),
        project.fixtures,
        name,
        [Path(f) for f in files],
        fmt=args.format,
        ddl_file=Path(args.ddl) if args.ddl else None,
        sample_rows=args.sample_rows,
        keys=args.keys,
        version=args.version,
        header=args.header,
    )
    ref = f"{name}@{done.directory.name}"
    print(
        f"{ref}: {len(done.columns)} columns, {done.rows:,} rows (full data read in place), "
        f"{done.sample_rows:,} in sample.csv -> {done.directory}"
    )
    for check in done.checks:
        print(f"  proposed check: {check}")
    print(
        f"confirm the checks in {done.directory / 'fixture.yaml'}, then: "
        f"harness fixtures release {name}/{done.directory.name}; a model reads it as {ref}"
    )
    return 0


def cmd_golden(args: argparse.Namespace, project: api.Project) -> int:
    from harness.golden import GoldenRef, is_uri

    ref = GoldenRef(args.model, args.dataset, args.output)
    # A store at a URI is read and written by the cluster: open the session it needs.
    store = project.store(open_spark(args) if is_uri(project.golden) else None)
    if args.action == "history":
        for entry in store.history(ref):
            mark = "*" if entry.pop("current") else " "
            rules = ""
            emulated = entry.get("emulated_rules")  # legacy captures: how much of Hive
            if emulated is not None:
                total = len(emulated) + len(entry.get("not_emulated_rules", []))
                rules = f"  [{len(emulated)}/{total} catalogue rules emulated]"
            status = entry.get("status", "")
            approval = entry.get("approval")
            if approval:  # an approved proposal: who approved it
                status += f" by {approval.get('by')}"
            print(
                f"{mark} {entry.pop('version')}  {status:<10}  {entry.get('created_at', '')}  "
                f"{entry.get('source', '')}  {entry.get('reason', '')}{rules}"
            )
        return 0
    if args.action == "restore":
        manifest = store.restore(ref, args.version)
        print(f"{ref}: CURRENT -> {manifest['version']} ({manifest['rows']:,} rows)")
        return 0
    from harness.ddl import parse_ddl
    from harness.golden_import import import_files

    spark = open_spark(args)
    spec = project.model(args.model)
    if args.output not in spec.outputs:
        raise HarnessError(
            f"model {args.model} has no output '{args.output}' (outputs: {', '.join(spec.outputs)})"
        )
    declared = spec.outputs[args.output].schema
    manifest = import_files(
        spark,
        project.store(spark),
        ref,
        [f if is_uri(f) else Path(f) for f in args.files],  # a URI stays one (abfss://)
        fmt=args.format,
        keys=list(spec.outputs[args.output].keys),
        schema=args.schema,
        header=args.header,
        reason=args.reason,
        columns=[c for c, _ in (parse_ddl(args.schema) if args.schema else declared or [])],
    )
    print(f"imported {manifest['rows']:,} rows into {ref} as {manifest['version']}")
    return 0
