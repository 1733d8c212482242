"""``harness databricks init-script``: the cluster init script the Databricks bundle uses."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import api, deploy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("databricks", help="deploying the nightly to Databricks")
    group = p.add_subparsers(dest="databricks_command", required=True)
    s = group.add_parser(
        "init-script", help="the cluster init script for the packages the specs declare"
    )
    s.add_argument("--dry-run", action="store_true", help="list what it would install")
    s.add_argument("--out", default=None, help="write the script here (default: stdout)")
    s.set_defaults(run=cmd_init_script)


def cmd_init_script(args: argparse.Namespace, project: api.Project) -> int:
    packages = deploy.declared_packages(
        project.models, deploy.harness_requirements(project.root / "pyproject.toml")
    )
    if args.dry_run:
        print(deploy.dry_run(packages))
        return 0
    script = deploy.init_script(packages)
    if args.out is None:
        print(script, end="")
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(script, encoding="utf-8")
    out.chmod(0o755)
    skipped = sum(1 for p in packages if p.skipped)
    print(f"wrote {out}: {len(packages) - skipped} packages to install, {skipped} skipped")
    return 0
