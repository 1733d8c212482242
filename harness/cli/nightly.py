"""``harness nightly``: check (or, for a demo, capture) the goldens, then every suite with reports.

``--capture never`` (the default, and the Databricks job's): a missing golden stops the run
with one line on how to export and import the real one (``harness.workflows.goldens``).
``--capture emulated`` (``scripts/run-parity.sh``, the local demo): missing goldens are
captured on the emulated legacy platform first, and the reports say so.

With ``--workers 0`` the suites run in this process, on this process's session: on a
Databricks cluster that is the cluster's own (the ``databricks`` backend adopts it), which a
child process could not reach. With workers, they run in a pytest-xdist child as before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import api, golden
from harness.backends import BACKENDS
from harness.cli.common import open_spark
from harness.golden import GoldenStore
from harness.spec import DATASETS
from harness.workflows.goldens import CAPTURE_MODES, capture_missing, require_goldens


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nightly", help="the nightly parity job over every model")
    p.add_argument("--out", default="reports/nightly")
    p.add_argument("--dataset", default="full", choices=DATASETS)
    p.add_argument("--scale", type=float, default=float(os.environ.get("HARNESS_SCALE", 1.0)))
    p.add_argument("--workers", default="2", help="pytest-xdist workers (0: in this process)")
    p.add_argument("--backend", default="local", choices=BACKENDS)
    p.add_argument("--remote", default=None, help="Spark Connect URL (e.g. a local cluster's)")
    p.add_argument(
        "--capture",
        default=CAPTURE_MODES[0],
        choices=CAPTURE_MODES,
        help="missing goldens: never (production: fail, naming the import) or emulated "
        "(a demo: capture them on the emulated legacy platform)",
    )
    p.add_argument("--skip-capture", action="store_true", help=argparse.SUPPRESS)  # = never
    p.add_argument(
        "--resume",
        action="store_true",
        help="rerun only what did not pass (or whose bundle fingerprint changed) in the last "
        "run whose reports are in --out, keeping the rest of its results (as dbt retry)",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p.set_defaults(run=cmd_nightly)


def cmd_nightly(args: argparse.Namespace, project: api.Project) -> int:
    """Goldens checked or captured, then every suite on the dataset with reports."""
    out = Path(args.out).resolve()
    in_process = args.workers == "0"
    capture = "never" if args.skip_capture else args.capture
    if capture == "never":
        store = GoldenStore(project.golden, lambda: open_spark(args))
        require_goldens(project, store, args.dataset)  # before anything runs or is written
    out.mkdir(parents=True, exist_ok=True)
    # A child process gets the golden root this command was given (--golden-root, else the
    # environment's, else golden/).
    env = {**os.environ, "HARNESS_SCALE": str(args.scale), golden.ROOT_ENV: str(project.golden)}
    if capture == "emulated":
        print(
            f"[nightly] capturing missing '{args.dataset}' goldens (legacy emulation)", flush=True
        )
        if in_process and (args.remote or args.backend != "connect"):
            capture_missing(open_spark(args), project, args.dataset, scale=args.scale)
        else:
            code = subprocess.call(_capture_command(args), env=env, cwd=project.root)
            if code:
                return code
    cmd = [
        str(project.root / "suites"),
        "--rootdir",
        str(project.root),
        "-p",
        "harness.progress",
        "--harness-dataset",
        args.dataset,
        "--harness-scale",
        str(args.scale),
        "--harness-golden-root",
        str(project.golden),
        "--harness-report-dir",
        str(out),
        f"--junitxml={out / 'junit.xml'}",
        "-o",
        "junit_family=xunit2",
        "-q",
        "--harness-backend",
        args.backend,
        "--harness-determinism",  # for the models whose spec says determinism: true
        "spec",
    ]
    if args.remote:
        cmd += ["--harness-remote", args.remote]
    if args.resume:
        cmd += ["--harness-resume"]
    cmd += ["-n", args.workers] if not in_process else ["-n", "0"]
    cmd += args.pytest_args
    print(f"[nightly] pytest {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    if in_process:
        import pytest

        code = int(pytest.main(cmd))
    else:
        code = subprocess.call([sys.executable, "-m", "pytest", *cmd], env=env, cwd=project.root)
    print(
        f"[nightly] finished in {time.perf_counter() - started:.0f}s; reports: "
        f"{out / 'report.html'}, {out / 'summary.json'}, {out / 'junit.xml'}"
    )
    return code


def _capture_command(args: argparse.Namespace) -> list[str]:
    """``harness capture`` as a child process, where the models will run (except on a Connect
    server only pytest would start)."""
    command = [sys.executable, "-m", "harness.cli", "capture", "--dataset", args.dataset]
    command += ["--scale", str(args.scale)]
    if args.remote or args.backend != "connect":
        command += ["--backend", args.backend]
    if args.remote:
        command += ["--remote", args.remote]
    return command
