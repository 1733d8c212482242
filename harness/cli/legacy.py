"""``harness legacy export-script``: the runbook that exports real goldens from the legacy
platform (HiveQL for HDInsight) and imports them (``harness golden import``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import api, legacy_export
from harness.spec import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("legacy", help="the legacy platform: export its real outputs as goldens")
    group = p.add_subparsers(dest="legacy_command", required=True)
    s = group.add_parser(
        "export-script",
        help="HiveQL exporting the models' output tables, and the golden imports to match",
    )
    s.add_argument("models", nargs="*", help="models (default: all)")
    s.add_argument("--to", required=True, help="folder the legacy cluster writes (abfss://...)")
    s.add_argument("--dataset", default="full", choices=DATASETS, help="the goldens it makes")
    s.add_argument("--database", default=None, help="the legacy database of the output tables")
    s.add_argument("--out", default="legacy-export", help="writes export.hql and import.sh here")
    s.set_defaults(run=cmd_export_script)


def cmd_export_script(args: argparse.Namespace, project: api.Project) -> int:
    exports = legacy_export.plan(
        project.models, args.models, to=args.to, dataset=args.dataset, database=args.database
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hql, script = out / "export.hql", out / "import.sh"
    hql.write_text(legacy_export.hiveql(exports), encoding="utf-8")
    script.write_text(legacy_export.import_script(exports), encoding="utf-8")
    script.chmod(0o755)
    models = len({e.model for e in exports})
    print(f"wrote {hql}: {len(exports)} output tables of {models} models to {args.to}")
    print(f"wrote {script}: the {len(exports)} matching golden imports")
    undeclared = [f"{e.model}.{e.output}" for e in exports if not e.columns]
    if undeclared:
        print(
            f"{len(undeclared)} outputs declare no schema ({', '.join(undeclared[:3])}"
            f"{' ...' if len(undeclared) > 3 else ''}): Hive names their exported columns "
            "_col0 ...; declare outputs.<name>.schema in their specs before importing"
        )
    print(f"run {hql.name} on the legacy cluster (beeline -f), then bash {script} here")
    return 0
