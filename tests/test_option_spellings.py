"""User-facing text names the pytest plugin's options as ``--harness-*``.

The unprefixed spellings (``pytest -k MODEL --update-golden``) still work but print a
deprecation warning, so no message, doc or script may tell anyone to use them. The
``harness`` CLI keeps its own unprefixed options (``harness run --dataset``, ``harness
nightly --backend``, ``harness --golden-root``): only a pytest command line is held to the
prefix, except for options the CLI does not have at all, which may not appear anywhere.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_copy import REPO

from harness import cli
from harness.golden import GoldenRef, GoldenStore
from harness.pytest_options import NO_OLD_SPELLING, OPTIONS

OLD_NAMES = sorted(set(OPTIONS) - NO_OLD_SPELLING)


def cli_flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--flag`` of the harness CLI, its subcommands' included."""
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= cli_flags(sub)
    return flags


PYTEST_ONLY = [n for n in OLD_NAMES if f"--{n}" not in cli_flags(cli.build_parser())]


def _old(names: list[str]) -> str:
    return r"(?<![\w-])--(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])"


OLD_FLAG = re.compile(_old(OLD_NAMES))
PYTEST_ONLY_FLAG = re.compile(_old(PYTEST_ONLY))
# A pytest command: from the word pytest to what ends a command in a message or a doc.
PYTEST_COMMAND = re.compile(r"\bpytest\b(?:(?!&&|\. )[^`|;)\n])*")


def old_spellings(text: str) -> list[str]:
    """The unprefixed pytest options ``text`` tells its reader to use (one text: a string
    literal, a prose paragraph or a code block's command, its line breaks being spaces)."""
    found = [m.group(0) for m in PYTEST_ONLY_FLAG.finditer(text)]
    for command in PYTEST_COMMAND.finditer(text):
        found += [
            f"{m.group(0)} in {command.group(0).strip()!r}"
            for m in OLD_FLAG.finditer(command.group(0))
            if m.group(0)[2:] not in PYTEST_ONLY  # found above
        ]
    return found


def python_texts(path: Path) -> Iterator[tuple[int, str]]:
    """Each string literal of a module (an f-string's fields as ``{}``), with its line."""
    nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    parts_of_fstrings = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in nodes:
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            yield node.lineno, "".join(map(str, parts))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in parts_of_fstrings  # read above, with their f-string
        ):
            yield node.lineno, node.value


def doc_texts(path: Path) -> Iterator[tuple[int, str]]:
    """Markdown: each prose paragraph, and each command of a fenced code block (lines ending
    in ``\\`` continue it); any other file (scripts, YAML, R, SQL): each command, the same."""
    markdown = path.suffix == ".md"
    in_code = not markdown
    start, chunk = 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = markdown and line.lstrip().startswith("```")
        if fence or (not in_code and not line.strip()):  # a code block's or paragraph's end
            if chunk:
                yield start, " ".join(chunk)
            start, chunk = 0, []
            in_code = in_code != fence
            continue
        start = start or number
        chunk.append(line.strip().removesuffix("\\"))
        if in_code and not line.rstrip().endswith("\\"):
            yield start, " ".join(chunk)
            start, chunk = 0, []
    if chunk:
        yield start, " ".join(chunk)


def user_facing_files() -> Iterator[Path]:
    yield from sorted((REPO / "harness").rglob("*.py"))
    yield from sorted((REPO / "docs").rglob("*.md"))
    yield REPO / "README.md"
    yield REPO / "databricks.yml"
    for folder in ("suites", "scripts", "pipelines", ".github", "deploy", "benchmarks"):
        yield from sorted(p for p in (REPO / folder).rglob("*") if p.suffix in TEXT_FILES)


TEXT_FILES = {".py", ".md", ".sh", ".yml", ".yaml", ".R", ".hql", ".sql"}


def test_no_user_facing_text_names_an_old_pytest_option_spelling() -> None:
    assert "update-golden" in PYTEST_ONLY  # the CLI has no --update-golden
    found = []
    checked = 0
    for path in user_facing_files():
        if path == REPO / "harness" / "pytest_options.py":
            continue  # where the old spellings are defined, and said to be deprecated
        texts = python_texts(path) if path.suffix == ".py" else doc_texts(path)
        checked += 1
        for line, text in texts:
            found += [f"{path.relative_to(REPO)}:{line}: {bad}" for bad in old_spellings(text)]
    assert checked > 50
    assert not found, "use the --harness-* spelling:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text",
    [
        # the messages this test was written against, as they were
        "or, for an approved new output, run pytest -k {} --update-golden --reason '<ref>'",
        "goldens change only through --update-golden or harness golden import",
        ".venv/bin/pytest -k adoption_rate --dataset full",
        "`pytest suites --backend connect --remote sc://h:1`",
        "pytest -k m --harness-update-golden --reason x",
        "run pytest --golden-root /tmp/g",
    ],
)
def test_old_spellings_are_found(text: str) -> None:
    assert old_spellings(text), text


@pytest.mark.parametrize(
    "text",
    [
        "run pytest -k {} --harness-update-golden --harness-reason '<approval ref>'",
        "pytest -k adoption_rate   |   harness run adoption_rate --dataset sample",
        "`harness capture m --dataset full`, then `pytest -k m --harness-dataset full`",
        "harness nightly --backend connect --remote URL (or `pytest suites --harness-remote URL`)",
        "with `harness --golden-root` / pytest's `--harness-golden-root`",
        "harness capture [MODEL ...] --dataset D --reason R  # run + compare without pytest",
    ],
)
def test_cli_options_and_new_spellings_pass(text: str) -> None:
    assert old_spellings(text) == [], text


def test_docs_are_read_by_paragraph_and_by_command(tmp_path: Path) -> None:
    """A pytest command split over lines is still one text; two commands are two."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Then `harness capture m --dataset full`, then `pytest -k m\n"
        "--dataset full` (old).\n\n"
        "```bash\n"
        "pytest -k m \\\n    --update-golden --harness-reason x\n"
        "pytest -k m\n"
        "harness run m --dataset full\n"
        "```\n"
    )
    texts = list(doc_texts(doc))
    assert [line for line, _ in texts] == [1, 5, 7, 8]
    assert [len(old_spellings(text)) for _, text in texts] == [1, 1, 0, 0]


def test_missing_golden_message_names_the_refresh_command_for_its_dataset(tmp_path) -> None:
    store = GoldenStore(str(tmp_path))
    sample = store.missing_message(GoldenRef("m", "sample", "o"))
    assert "pytest -k m --harness-update-golden --harness-reason" in sample
    assert "--harness-dataset" not in sample
    full = store.missing_message(GoldenRef("m", "full", "o"))
    assert "pytest -k m --harness-dataset full --harness-update-golden" in full
    assert "harness capture m --dataset full" in full  # the CLI's own spelling
