"""What every command shares: the backend options and the Spark session they choose."""

from __future__ import annotations

import argparse
import os

from harness.backends import BACKENDS


def backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    parser.add_argument("--remote", default=None, help="Spark Connect URL")


def backend(args: argparse.Namespace) -> str:
    return getattr(args, "backend", None) or os.environ.get("HARNESS_BACKEND") or "local"


def open_spark(args: argparse.Namespace):
    from harness.backends import get_spark

    return get_spark(backend(args), remote=getattr(args, "remote", None))
