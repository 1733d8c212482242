"""The pytest plugin's command-line options: one ``--harness-*`` prefix, old spellings kept.

Every option is ``--harness-<name>`` (as syrupy's are ``--snapshot-*``), so that no other
plugin's ``--backend`` or ``--scale`` can clash with ours. The spellings without the prefix
still work for a while: each is a hidden option of its own, copied onto the new one at
configure time with one warning naming the new spelling. Also the small questions every
hook asks of a config (which backend, is this an xdist worker) live here, once.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytest

from harness.backends import BACKENDS
from harness.spec import DATASETS

PREFIX = "harness-"

# name -> addoption keywords; the flag is --harness-<name>, the deprecated one --<name>.
OPTIONS: dict[str, dict[str, Any]] = {
    "dataset": {
        "action": "append",
        "choices": (*DATASETS, "all"),
        "help": "dataset(s) to run: sample (default), full, all",
    },
    "rtol": {"type": float, "default": None, "help": "override every output's relative tolerance"},
    "golden-root": {
        "default": None,
        "help": "golden store: a folder, or a URI the cluster reads and writes (file:, "
        "abfss://, dbfs:/Volumes/...); default $HARNESS_GOLDEN_ROOT, ini harness_golden_root, "
        "golden/",
    },
    "update-golden": {
        "action": "store_true",
        "default": False,
        "help": "refresh the selected goldens from this run (needs --harness-reason)",
    },
    "reason": {"default": "", "help": "approval reference for --harness-update-golden"},
    "scale": {
        "type": float,
        "default": None,
        "help": "full dataset size factor (default 1.0 or HARNESS_SCALE)",
    },
    "report-dir": {"default": None, "help": "write summary.json and report.html of the run here"},
    "backend": {
        "default": None,
        "choices": BACKENDS,
        "help": "Spark backend (default: local, or HARNESS_BACKEND / ini harness_backend)",
    },
    "remote": {"default": None, "help": "Spark Connect URL sc://host:port"},
    "databricks-profile": {"default": None, "help": "~/.databrickscfg profile"},
    "determinism": {
        "default": None,
        "choices": ("all", "spec"),
        "help": "also check each model's determinism (harness.workflows.determinism): all "
        "models, or those whose spec says 'determinism: true' (the nightly's choice)",
    },
    "resume": {
        "action": "store_true",
        "default": False,
        "help": "rerun only what did not pass in the last run of --harness-report-dir (or "
        "whose bundle fingerprint changed since) and keep the rest of its records",
    },
}
# Options born with the prefix: no old spelling to keep.
NO_OLD_SPELLING = frozenset({"determinism", "resume"})


class HarnessDeprecationWarning(pytest.PytestWarning):
    """An option spelling that will go away (not a DeprecationWarning: pytest.ini ignores
    those, and this one must be seen)."""


def _dest(name: str) -> str:
    return "harness_" + name.replace("-", "_")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "model-migration parity harness")
    for name, kwargs in OPTIONS.items():
        group.addoption(f"--{PREFIX}{name}", dest=_dest(name), **kwargs)
        if name in NO_OLD_SPELLING:
            continue
        old = {k: v for k, v in kwargs.items() if k not in ("default", "help")}
        group.addoption(
            f"--{name}",
            dest="deprecated_" + _dest(name),
            default=None,
            help=argparse.SUPPRESS,
            **old,
        )
    parser.addini("harness_backend", "default Spark backend", default="local")
    parser.addini("harness_golden_root", "golden store folder or URI (default golden/)")


def apply_deprecated_options(config: pytest.Config) -> list[str]:
    """Copy values given with an old spelling onto the new option (the new one wins when
    both are given; datasets add up); warn once, on the controller. Returns the old flags."""
    used = []
    for name, kwargs in OPTIONS.items():
        old = getattr(config.option, "deprecated_" + _dest(name), None)
        if old is None:
            continue
        used.append(name)
        new = getattr(config.option, _dest(name))
        if kwargs.get("action") == "append":
            setattr(config.option, _dest(name), [*(new or []), *old])
        elif new == kwargs.get("default"):
            setattr(config.option, _dest(name), old)
    if used and not is_worker(config):
        olds = ", ".join(f"--{n}" for n in used)
        news = ", ".join(f"--{PREFIX}{n}" for n in used)
        config.issue_config_time_warning(
            HarnessDeprecationWarning(
                f"deprecated option spellings {olds}: use {news} (the old ones will be removed)"
            ),
            stacklevel=2,
        )
    return used


def opt(config: pytest.Config, name: str) -> Any:
    """The value of ``--harness-<name>``."""
    return config.getoption(_dest(name))


def is_worker(config: pytest.Config) -> bool:
    """True in a pytest-xdist worker process (False in the controller or without xdist)."""
    return hasattr(config, "workerinput")


def worker_id(config: pytest.Config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


def golden_root(config: pytest.Config) -> str | None:
    """The golden root: the option, else ``$HARNESS_GOLDEN_ROOT``, else the ini (a relative
    folder there is relative to the rootdir); None: the project's ``golden/``."""
    from harness.golden import ROOT_ENV, is_uri

    chosen = opt(config, "golden-root") or os.environ.get(ROOT_ENV)
    if chosen:
        return str(chosen)
    ini = str(config.getini("harness_golden_root") or "")
    if not ini:
        return None
    return ini if is_uri(ini) else str(config.rootpath / ini)


def chosen_backend(config: pytest.Config) -> str:
    """The backend this run uses: the option, else ``$HARNESS_BACKEND``, else the ini."""
    return (
        opt(config, "backend")
        or os.environ.get("HARNESS_BACKEND")
        or config.getini("harness_backend")
        or "local"
    )


def datasets_of(config: pytest.Config) -> list[str]:
    wanted = opt(config, "dataset") or ["sample"]
    return list(DATASETS) if "all" in wanted else wanted
