"""``harness``: the command line over the same library the pytest plugin uses.

Commands:
    harness list                               models, their tables and how to run them
    harness describe MODEL                     what a model reads and writes, and its spec
    harness run MODEL [--dataset D]            run and compare without pytest
    harness capture [MODEL ...] --dataset D    goldens from the emulated legacy platform
    harness nightly --out DIR                  the parity job: data, goldens, all models
    harness lint [MODEL ...] [--format F]      migration risks in the code (text/json/sarif)
    harness new MODEL --lang sql|python|r      a new model folder that runs at once
    harness fixtures import NAME FILES...      a fixture bundle from a legacy table's export
    harness fixtures sample|release NAME/VER   build a sample, freeze a bundle version
    harness golden import|history|restore      legacy exports, versions, rollbacks
    harness legacy export-script [MODEL ...]   HiveQL exporting real goldens, and their imports
    harness determinism MODEL                  same inputs, other physical plans: same outputs?
    harness propose MODEL --reason R           a candidate golden and its review (review.html)
    harness approve MODEL --candidate V --by N put a reviewed candidate in force (or discard)
    harness databricks init-script [--dry-run] the cluster init script from the specs' packages

Each command group is a module here with ``register(subparsers)``; a new command is a new
module added to ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import sys

from harness import api
from harness.cli import (
    approval,
    data,
    databricks,
    determinism,
    legacy,
    lint,
    models,
    nightly,
    scaffold,
)
from harness.errors import HarnessError

COMMAND_MODULES = (models, scaffold, data, nightly, lint, determinism, approval, databricks, legacy)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default=None, help="repository root (default: find it)")
    parser.add_argument("--golden-root", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        project = api.Project.find(args.root, golden=args.golden_root)
        return args.run(args, project)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
