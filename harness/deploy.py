"""A Databricks cluster init script generated from the packages the model specs declare.

The specs already say what each model needs (``packages: {python: {...}, r: {...}}``, the
versions recorded in every golden's fingerprint); a cluster that runs the nightly must have
exactly those, so the init script is derived from them instead of kept by hand, with the
harness's own dependencies (``pyproject.toml``) added. Packages the Databricks Runtime
provides (its Spark) and base R packages (shipped with R itself) are left out, each with a
comment saying why. The script is idempotent (pip skips what is satisfied; R checks the
installed version first) and runs under ``set -euo pipefail``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import SpecError
from harness.spec import PACKAGE_LANGUAGES, ModelSpec

# Packages that ship with R itself (priority "base"): never installed from a repository.
BASE_R_PACKAGES = frozenset(
    {
        *("base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods"),
        *("parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils"),
    }
)
# Python packages the Databricks Runtime provides and that must not be replaced on it.
RUNTIME_PYTHON = {"pyspark": "the Databricks Runtime's own Spark"}
HARNESS = "harness (pyproject.toml)"  # the source named for the harness's own dependencies

_PY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,-]+\])?")
_PY_CRITERION = r"\s*(===|==|!=|<=|>=|<|>|~=)\s*[A-Za-z0-9.*+!-]+\s*"
_PY_SPEC = re.compile(rf"{_PY_CRITERION}(,{_PY_CRITERION})*")
_R_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*")
_R_CRITERION = r"\s*(==|!=|<=|>=|<|>)?\s*\d+([.-]\d+)+\s*"
_R_SPEC = re.compile(rf"{_R_CRITERION}(,{_R_CRITERION})*")


@dataclass
class Package:
    """One package to install: its language, name, version spec (``*``: any) and who wants it."""

    language: str
    name: str
    specs: list[str] = field(default_factory=list)
    wanted_by: list[str] = field(default_factory=list)

    @property
    def spec(self) -> str:
        """The combined version constraint (``*`` when nobody constrains it)."""
        criteria = (c.strip() for s in self.specs if s != "*" for c in s.split(","))
        return ",".join(dict.fromkeys(criteria)) or "*"

    @property
    def skipped(self) -> str | None:
        """Why it is not installed, or None."""
        if self.language == "r" and self.name in BASE_R_PACKAGES:
            return "base R, ships with R"
        if self.language == "python":
            return RUNTIME_PYTHON.get(_base_name(self.name).lower())
        return None

    @property
    def requirement(self) -> str:
        """pip's requirement string (``name`` or ``name>=1,<2``)."""
        return self.name if self.spec == "*" else f"{self.name}{self.spec}"


def _base_name(name: str) -> str:
    return name.split("[", 1)[0]


def _check(model: str, language: str, name: str, spec: str) -> None:
    """Only names and version specs the script can quote safely and the installers understand."""
    where = f"suites/{model}/model.yaml: packages.{language}.{name}"
    if language == "python":
        ok_name, ok_spec = _PY_NAME.fullmatch(name), spec == "*" or _PY_SPEC.fullmatch(spec)
        example = "'>=0.14', '==2.2.1', '>=1,<2' or '*'"
    else:
        ok_name, ok_spec = _R_NAME.fullmatch(name), spec == "*" or _R_SPEC.fullmatch(spec)
        example = "'>= 1.2', '== 0.9.1', '>= 1.0, < 2' or '*'"
    if not ok_name:
        raise SpecError(f"{where}: {name!r} is not a package name")
    if not ok_spec:
        raise SpecError(f"{where}: version {spec!r} is not understood; use e.g. {example}")


def declared_packages(
    models: dict[str, ModelSpec], harness_requirements: Iterable[str] = ()
) -> list[Package]:
    """Every package the models declare (and the harness needs), merged by language and
    name, sorted: Python first, then R."""
    found: dict[tuple[str, str], Package] = {}

    def add(language: str, name: str, spec: str, who: str) -> None:
        key = (language, _base_name(name).lower() if language == "python" else name)
        package = found.setdefault(key, Package(language, name))
        package.specs.append(spec.strip() or "*")
        if who not in package.wanted_by:
            package.wanted_by.append(who)

    for requirement in harness_requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?)\s*([^;#]*)", requirement)
        if match:
            add("python", match.group(1), match.group(3).replace(" ", "") or "*", HARNESS)
    for name in sorted(models):
        for language in PACKAGE_LANGUAGES:
            for package, spec in (models[name].packages.get(language) or {}).items():
                _check(name, language, package, spec)
                add(language, package, spec, name)
    order = {lang: i for i, lang in enumerate(PACKAGE_LANGUAGES)}
    return sorted(found.values(), key=lambda p: (order[p.language], p.name.lower()))


def harness_requirements(pyproject: Path) -> list[str]:
    """The harness's own runtime dependencies, from ``[project].dependencies``."""
    if not pyproject.is_file():
        return []
    import tomllib

    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [str(dep) for dep in data.get("project", {}).get("dependencies", [])]


def dry_run(packages: list[Package]) -> str:
    """One line per package: what would be installed (or why not), and who asked for it."""
    width = max((len(p.name) for p in packages), default=4)
    lines = []
    for p in packages:
        what = f"skip ({p.skipped})" if p.skipped else f"install {p.spec}"
        lines.append(f"{p.language:<6}  {p.name:<{width}}  {what:<40}  {', '.join(p.wanted_by)}")
    return "\n".join(lines)


R_INSTALLER = r"""# r_install NAME SPEC: install NAME unless a version satisfying SPEC ('*': any) is
# there; pinned versions through remotes::install_version. Repository: the cluster's R
# default (getOption("repos")) unless HARNESS_CRAN_REPO names another.
r_install() {
  Rscript --vanilla - "$1" "$2" <<'RCODE'
args <- commandArgs(trailingOnly = TRUE)
pkg <- args[[1]]
spec <- args[[2]]
repo <- Sys.getenv("HARNESS_CRAN_REPO")
repos <- if (nzchar(repo)) repo else getOption("repos")
satisfied <- function() {
  if (!requireNamespace(pkg, quietly = TRUE)) return(FALSE)
  if (spec == "*") return(TRUE)
  have <- packageVersion(pkg)
  for (crit in trimws(strsplit(spec, ",")[[1]])) {
    m <- regmatches(crit, regexec("^(==|!=|<=|>=|<|>)?\\s*([0-9][0-9.-]*)$", crit))[[1]]
    op <- if (nzchar(m[[2]])) m[[2]] else "=="
    if (!do.call(op, list(have, package_version(m[[3]])))) return(FALSE)
  }
  TRUE
}
if (satisfied()) {
  message("[init] R ", pkg, " ", as.character(packageVersion(pkg)), " present")
} else if (spec == "*") {
  install.packages(pkg, repos = repos)
} else {
  if (!requireNamespace("remotes", quietly = TRUE)) install.packages("remotes", repos = repos)
  remotes::install_version(pkg, version = spec, repos = repos, upgrade = "never")
}
if (!satisfied()) stop("[init] R package ", pkg, " ", spec, " could not be installed")
RCODE
}
"""


def init_script(packages: list[Package]) -> str:
    """The bash init script installing ``packages`` on every node of a Databricks cluster."""
    python = [p for p in packages if p.language == "python"]
    r = [p for p in packages if p.language == "r"]
    out = [
        "#!/usr/bin/env bash",
        "# Databricks cluster init script for the parity harness's nightly job.",
        "# Generated by `harness databricks init-script` from the packages the model specs",
        "# declare (suites/*/model.yaml: packages) and the harness's own dependencies",
        "# (pyproject.toml). Do not edit: regenerate it. Idempotent; runs on every node.",
        "set -euo pipefail",
        "",
        "# The cluster's Python environment (Databricks Runtime); PIP overrides it.",
        'PIP="${PIP:-/databricks/python/bin/pip}"',
        "",
        "# Python packages",
    ]
    install = []
    for p in python:
        why = f" ({p.skipped})" if p.skipped else ""
        out.append(f"#   {p.requirement}{why}: {', '.join(p.wanted_by)}")
        if not p.skipped:
            install.append(shlex.quote(p.requirement))
    if install:
        out += ['"$PIP" install --quiet --disable-pip-version-check \\']
        out += [f"  {req} \\" for req in install[:-1]] + [f"  {install[-1]}"]
    out += ["", "# R packages"]
    wanted = [p for p in r if not p.skipped]
    for p in r:
        if p.skipped:
            out.append(f"# {p.name}: skipped ({p.skipped}); wanted by {', '.join(p.wanted_by)}")
    if wanted:
        out += ["", R_INSTALLER.rstrip("\n")]
        out += [
            f"r_install {shlex.quote(p.name)} {shlex.quote(p.spec)}  # {', '.join(p.wanted_by)}"
            for p in wanted
        ]
    out += ["", 'echo "[init] parity-harness packages installed"']
    return "\n".join(out) + "\n"
