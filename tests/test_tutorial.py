"""docs/tutorial.md, run as written on a scratch project, so it cannot rot.

The tutorial marks what a reader does in its fenced blocks' info strings:

* ```` ```<lang> title=<path> ````: write this file (relative to the project root);
* ```` ```bash run ```` / ```` ```bash run fails ````: run each command in order; it must
  succeed / fail;
* ```` ```text output ````: what the command before printed: every line (but ``...``) must
  be in its output.

Commands run as a reader's would from the project root: ``.venv/bin/harness`` and
``.venv/bin/pytest`` in this process (one Spark session for all), ``.venv/bin/python`` as a
child process of this interpreter.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import statsmodels.api  # noqa: F401  (see test_the_tutorial_runs_as_written)
from project_copy import REPO, copy_project

from harness.cli import main

TUTORIAL = REPO / "docs" / "tutorial.md"
_FENCE = re.compile(r"^```(\S*)[ \t]*(.*?)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Block:
    kind: str  # file | run | output
    body: str
    path: str = ""
    fails: bool = False


def blocks(text: str) -> list[Block]:
    """The tutorial's marked blocks, in order (unmarked blocks are prose)."""
    out = []
    for lang, info, body in _FENCE.findall(text):
        words = info.split()
        title = next((w.split("=", 1)[1] for w in words if w.startswith("title=")), "")
        if title:
            out.append(Block("file", body, path=title))
        elif lang == "bash" and words[:1] == ["run"]:
            out.append(Block("run", body, fails="fails" in words[1:]))
        elif lang == "text" and words[:1] == ["output"]:
            out.append(Block("output", body))
    return out


def commands(body: str) -> list[list[str]]:
    """One argv per command line (``\\`` continues a line; ``#`` comments are dropped)."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def run_command(argv: list[str], root: Path, pytester: pytest.Pytester) -> tuple[int, str]:
    """Run one tutorial command from ``root``; returns its exit code and its output."""
    program, args = argv[0], argv[1:]
    if program == ".venv/bin/python":
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True
        )
        return proc.returncode, proc.stdout + proc.stderr
    os.chdir(root)
    if program == ".venv/bin/harness":
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(args)
        return code, out.getvalue()
    if program == ".venv/bin/pytest":
        result = pytester.runpytest_inprocess("-p", "no:randomly", "--rootdir", str(root), *args)
        return int(result.ret), "\n".join(result.outlines + result.errlines)
    raise AssertionError(f"tutorial command {argv} is not one the test knows how to run")


def test_tutorial_blocks_are_marked() -> None:
    found = blocks(TUTORIAL.read_text())
    kinds = [b.kind for b in found]
    assert kinds.count("run") >= 6 and kinds.count("file") >= 4 and "output" in kinds
    assert any(b.fails for b in found), "the tutorial shows a failing run"
    assert commands("a b \\\n  c  # note\n\nd 'e f'\n") == [["a", "b", "c"], ["d", "e f"]]


def test_the_tutorial_runs_as_written(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytester's in-process runs drop the modules they imported; numpy's C extension cannot
    # be imported twice in one process, so the port's statsmodels is imported up front.
    root = copy_project(tmp_path / "proj", models=())
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    pytester.chdir()  # pytester restores the working directory afterwards
    last = ""
    for step, block in enumerate(blocks(TUTORIAL.read_text()), start=1):
        if block.kind == "file":
            target = root / block.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
        elif block.kind == "run":
            last = ""
            for argv in commands(block.body):
                code, output = run_command(argv, root, pytester)
                last += output
                ok = code != 0 if block.fails else code == 0
                assert ok, f"block {step}: {shlex.join(argv)} exited {code}:\n{output[-3000:]}"
        else:
            seen = " ".join(last.split())
            for line in block.body.splitlines():
                want = " ".join(line.split())
                if want and want != "...":
                    assert want in seen, f"block {step}: {want!r} not in the output:\n{last}"
