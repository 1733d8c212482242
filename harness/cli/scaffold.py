"""Command ``new``: a model folder that runs at once (spec, code stub, README)."""

from __future__ import annotations

import argparse

from harness import api
from harness.scaffold import LANGUAGES, TODO_INPUT, new_model


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="a new model folder that runs at once (spec, code, README)")
    p.add_argument("model", help="the model's name (letters, digits, _)")
    p.add_argument("--lang", required=True, choices=LANGUAGES, help="the code stub's language")
    p.add_argument(
        "--inputs", nargs="+", default=[], metavar="NAME@VER", help="fixture bundles it reads"
    )
    p.set_defaults(run=cmd_new)


def cmd_new(args: argparse.Namespace, project: api.Project) -> int:
    written = new_model(project.suites, project.fixtures, args.model, args.lang, args.inputs)
    for path in written:
        print(f"wrote {path.relative_to(project.root)}")
    if not args.inputs:
        table, name, version = TODO_INPUT
        print(
            f"inputs: {table} <- {name}@{version} is a placeholder: name the fixture bundles "
            "in model.yaml (or rerun with --inputs NAME@VER) before running the model"
        )
    print(f"next: harness capture {args.model}, then pytest -k {args.model}")
    return 0
