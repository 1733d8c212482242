"""``harness nightly``: capture missing goldens, then every suite with reports."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import api, golden
from harness.backends import BACKENDS
from harness.spec import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nightly", help="the nightly parity job over every model")
    p.add_argument("--out", default="reports/nightly")
    p.add_argument("--dataset", default="full", choices=DATASETS)
    p.add_argument("--scale", type=float, default=float(os.environ.get("HARNESS_SCALE", 1.0)))
    p.add_argument("--workers", default="2", help="pytest-xdist workers (0: none)")
    p.add_argument("--backend", default="local", choices=BACKENDS)
    p.add_argument("--remote", default=None, help="Spark Connect URL (e.g. a local cluster's)")
    p.add_argument("--skip-capture", action="store_true")
    p.add_argument(
        "--resume",
        action="store_true",
        help="rerun only what did not pass (or whose bundle fingerprint changed) in the last "
        "run whose reports are in --out, keeping the rest of its results (as dbt retry)",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p.set_defaults(run=cmd_nightly)


def cmd_nightly(args: argparse.Namespace, project: api.Project) -> int:
    """Capture missing goldens, then run every suite on the dataset with reports."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # The capture and pytest below are processes of their own: they get the golden root
    # this command was given (--golden-root, else the environment's, else golden/).
    env = {
        **os.environ,
        "HARNESS_SCALE": str(args.scale),
        golden.ROOT_ENV: str(project.golden),
    }
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
        # Capture where the models run, except on a Connect server only pytest would start.
        if args.remote or args.backend != "connect":
            capture += ["--backend", args.backend]
        if args.remote:
            capture += ["--remote", args.remote]
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
        "--harness-determinism",  # for the models whose spec says determinism: true
        "spec",
    ]
    if args.remote:
        cmd += ["--harness-remote", args.remote]
    if args.resume:
        cmd += ["--harness-resume"]
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
