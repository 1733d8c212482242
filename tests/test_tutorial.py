"""docs/tutorial.md, run as written on a scratch project, so it cannot rot.

The tutorial marks what a reader does in its fenced blocks' info strings:

* ```` ```<lang> title=<path> ````: write this file (relative to the project root);
* ```` ```bash run ```` / ```` ```bash run fails ````: run each command in order; it must
  succeed / fail;
* ```` ```text output ````: what the commands of the ``run`` block before it printed,
  verbatim: the block's lines are lines of that output, in order and consecutive. A line
  ``...`` stands for lines cut out (one or more between two quoted lines); without one at
  its start (end) the block starts (ends) where the output or one of pytest's sections does
  (blank and ``====``/``____``/``----`` lines delimit them). A line ending in ``...`` quotes
  the start of an output line. Only what varies from run to run or machine to machine is
  normalised (:func:`normalise`): timings and timestamps, the terminal's width (pytest's
  ``===`` rules, its ``[100%]`` padding, the message its short summary adds where it fits),
  the scratch project's path (printed relative to the project root, as a reader would quote
  it) and the versions of R and packages in "changed since the golden" lines. Everything
  else, numbers included, must be what the commands print.

Commands run as a reader's would from the project root: ``.venv/bin/harness`` and
``.venv/bin/pytest`` in this process (one Spark session for all), ``.venv/bin/python`` as a
child process of this interpreter. The whole tutorial runs (about 40 s on a 2-core machine:
a capture and four test runs on Spark, the first two in R); a stale ``output`` block does not
stop it, and the failure lists every stale block with a diff and the file holding what the
commands printed, ready to copy.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import statsmodels.api  # noqa: F401  (see test_the_tutorial_runs_as_written)
from project_copy import REPO, copy_project

from harness.cli import main

TUTORIAL = REPO / "docs" / "tutorial.md"
_FENCE = re.compile(r"^```(\S*)[ \t]*(.*?)\n(.*?)^```[ \t]*$", re.M | re.S)
CUT = "..."


@dataclass
class Block:
    kind: str  # file | run | output
    body: str
    path: str = ""
    fails: bool = False
    line: int = 0  # the line of docs/tutorial.md where the body starts


def blocks(text: str) -> list[Block]:
    """The tutorial's marked blocks, in order (unmarked blocks are prose)."""
    out = []
    for m in _FENCE.finditer(text):
        lang, info, body = m.groups()
        words = info.split()
        line = text.count("\n", 0, m.start()) + 2
        title = next((w.split("=", 1)[1] for w in words if w.startswith("title=")), "")
        if title:
            out.append(Block("file", body, path=title, line=line))
        elif lang == "bash" and words[:1] == ["run"]:
            out.append(Block("run", body, fails="fails" in words[1:], line=line))
        elif lang == "text" and words[:1] == ["output"]:
            out.append(Block("output", body, line=line))
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


# --------------------------------------------------------------------------------------------
# comparing an output block with what was printed

_RULE = re.compile(r"^([=_-])\1{2,}(?: (.*?) \1{2,})?$")  # pytest's section lines
_PYTEST_TIME = re.compile(r"\bin \d+(?:\.\d+)?s(?: \(\d+:\d\d:\d\d\))?")  # "in 41.23s"
_TIME = re.compile(r"\(\d+(?:\.\d+)?s\)")  # the harness's "(8.1s)"
_STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_PROGRESS = re.compile(r"\s+(\[\s*\d+%\])$")  # pytest pads "[100%]" to the terminal's width
# pytest's short summary adds " - <message>" to a FAILED/ERROR line only where it fits the width
_SUMMARY = re.compile(r"^((?:FAILED|ERROR) \S+) - .*$")
# "R: removed (was 4.2.2)", "python package statsmodels: added (0.14.4)", "... 1.0 -> 1.1"
_VERSION = re.compile(
    r"^(\s*(?:R|python package \S+|R package \S+): )"
    r"(?:added \([^)]*\)|removed \(was [^)]*\)|\S+ -> \S+)$"
)


def relative(text: str, root: str) -> str:
    """Paths in the scratch project as a reader's, relative to the project root."""
    return text.replace(root + os.sep, "").replace(root, ".") if root else text


def normalise(line: str, root: str = "") -> str:
    """What may differ between two runs of the same tutorial: timings and timestamps, the
    terminal's width (pytest's rules and progress lines), the scratch project's path, and
    the installed versions of R and packages."""
    line = relative(line.rstrip(), root)
    line = _PYTEST_TIME.sub("in <time>", line)
    line = _STAMP.sub("<timestamp>", _TIME.sub("(<time>)", line))
    line = _PROGRESS.sub(r" \1", line)
    line = _SUMMARY.sub(r"\1", line)
    rule = _RULE.match(line.strip())
    if rule:
        line = f"{rule[1] * 3} {rule[2]} {rule[1] * 3}" if rule[2] else rule[1] * 3
    version = _VERSION.match(line)
    if version:
        line = version[1] + "<version change>"
    return line


def _rule_or_blank(line: str) -> bool:
    return not line.strip() or bool(_RULE.match(line.strip()))


def _same(quoted: str, printed: str) -> bool:
    if quoted.endswith(CUT) and quoted.strip() != CUT:
        return printed.startswith(quoted[: -len(CUT)])
    return quoted == printed


def matches(quoted: Sequence[str], printed: Sequence[str | None]) -> bool:
    """Whether an output block's lines (normalised) are in the printed lines (normalised;
    None where one command's output ends and the next one's starts), by the rules of the
    module docstring."""
    lines = list(quoted)
    while lines and not lines[-1].strip():
        lines.pop()
    lead = bool(lines) and lines[0].strip() == CUT
    trail = len(lines) > 1 and lines[-1].strip() == CUT
    body = lines[int(lead) : len(lines) - int(trail)]
    segments: list[list[str]] = [[]]
    for line in body:
        if line.strip() == CUT:
            segments.append([])
        else:
            segments[-1].append(line)
    if any(not s for s in segments):
        return False  # two "..." in a row, or a block of nothing but "..."
    out: list[str] = []
    edges = {0}  # where a command's output starts or ends
    for line in printed:
        if line is None:
            edges.add(len(out))
        else:
            out.append(line)
    edges.add(len(out))

    def starts(at: int) -> bool:  # a block may start here without a "..."
        return at in edges or _rule_or_blank(out[at - 1])

    def ends(at: int) -> bool:  # a block may end before ``at`` without a "..."
        return at in edges or _rule_or_blank(out[at])

    def fits(i: int, start: int) -> bool:
        """segments[i:] match at ``start`` or after it."""
        seg = segments[i]
        first, last = i == 0, i == len(segments) - 1
        for at in range(start, len(out) - len(seg) + 1):
            if first and not lead and not starts(at):
                continue
            if not all(_same(q, p) for q, p in zip(seg, out[at : at + len(seg)], strict=True)):
                continue
            end = at + len(seg)
            if last:
                if trail or ends(end):
                    return True
            elif fits(i + 1, end + 1):  # "..." cuts at least one line
                return True
        return False

    return fits(0, 0)


def _closest(quoted: Sequence[str], printed: Sequence[str | None]) -> list[str]:
    """The printed lines most like an output block, for the failure's diff: from the best
    match of its first quoted line to the end of that section of the output."""
    wanted = [q for q in quoted if q.strip() != CUT]
    if not wanted or all(p is None for p in printed):
        return [p for p in printed if p is not None]
    scores = [
        -1.0 if p is None else difflib.SequenceMatcher(None, wanted[0], p).ratio() for p in printed
    ]
    at = end = scores.index(max(scores))
    while end < len(printed) and end - at < max(len(quoted), 200):
        line = printed[end]
        if line is None or (end > at and _rule_or_blank(line) and end - at >= len(wanted)):
            break
        end += 1
    return [p for p in printed[at:end] if p is not None]


def check_output(block: Block, printed: str, root: Path, saved: Path) -> str | None:
    """None if ``block`` is what was printed, else why not and how to update the tutorial."""
    quoted = [normalise(q) for q in block.body.splitlines()]
    lines: list[str | None] = []
    for part in printed.split("\0"):
        lines += [normalise(p, str(root)) for p in part.splitlines()]
        lines.append(None)
    if matches(quoted, lines):
        return None
    diff = difflib.unified_diff(
        [q for q in quoted if q.strip() != CUT],
        _closest(quoted, lines),
        f"docs/tutorial.md:{block.line}",
        "printed",
        lineterm="",
        n=1,
    )
    return (
        f"docs/tutorial.md:{block.line}: this output block is not what the commands before "
        f"it printed. Update the block in docs/tutorial.md from what they printed now (saved "
        f"in {saved}): copy the lines; cut lines with a line of '...'; timings, timestamps, "
        "the terminal's width and package versions need not match. If what they print is "
        "wrong, fix the code instead.\n" + "\n".join(diff)
    )


# --------------------------------------------------------------------------------------------


def test_tutorial_blocks_are_marked() -> None:
    found = blocks(TUTORIAL.read_text())
    kinds = [b.kind for b in found]
    assert kinds.count("run") >= 6 and kinds.count("file") >= 4 and "output" in kinds
    assert any(b.fails for b in found), "the tutorial shows a failing run"
    for i, block in enumerate(found):
        if block.kind == "output":
            assert any(b.kind == "run" for b in found[:i]), f"line {block.line}: no run before"
    assert commands("a b \\\n  c  # note\n\nd 'e f'\n") == [["a", "b", "c"], ["d", "e f"]]


PRINTED: list[str | None] = [
    "== test session starts ==",
    "collected 3 items",
    "",
    "__________ m::a __________",
    "m/s/o: values differ",
    "  2 of 3 columns differ:",
    "    x  5 rows",
    "    y  2 rows",
    "=========== 1 failed, 2 passed in 12.50s ===========",
    None,
    "wrote a",
]


@pytest.mark.parametrize(
    ("block", "ok"),
    [
        ("m/s/o: values differ\n  2 of 3 columns differ:\n    x  5 rows\n    y  2 rows", True),
        ("m/s/o: values differ\n  2 of 3 columns differ:\n...", True),  # cut at the end
        ("m/s/o: values differ\n...\n    y  2 rows", True),  # cut in the middle
        ("m/s/o: values differ\n  2 of 3 columns differ:", False),  # a cut must say so
        ("  2 of 3 columns differ:\n    x  5 rows\n    y  2 rows", False),  # and at the start
        ("...\n  2 of 3 columns differ:\n    x  5 rows\n    y  2 rows", True),
        ("m/s/o: values differ\n  2 of 4 columns differ:\n...", False),  # numbers must match
        ("m/s/o: values differ\n...\n  2 of 3 columns differ:\n...", False),  # cuts 1 or more
        ("m/s/o: values differ\n  2 of 3 columns differ:\n    x  5 rows\n...", True),
        ("m/s/o: values differ\n  2 of 3 columns...\n...", True),  # the start of a line
        ("...\n=== 1 failed, 2 passed in 3.1s ===", True),  # timings, rule widths
        ("...\n=== 1 failed, 3 passed in 3.1s ===", False),
        ("wrote a", True),  # a command's whole output
        ("...\n=== 1 failed, 2 passed in 3.1s ===\nwrote a", True),  # two commands' outputs
        ("    y  2 rows\n...\nwrote a", False),  # a section does not end after "y"
        ("...\n    y  2 rows\n...\nwrote a", True),
        ("...", False),
    ],
)
def test_output_blocks_match_the_printed_lines(block: str, ok: bool) -> None:
    quoted = [normalise(q) for q in block.splitlines()]
    assert matches(quoted, [None if p is None else normalise(p) for p in PRINTED]) is ok


def test_normalise_keeps_what_a_run_computes() -> None:
    assert normalise("==== 7 passed in 41.23s (0:00:41) ====") == "=== 7 passed in <time> ==="
    assert normalise("    R: removed (was 4.2.2)") == "    R: <version change>"
    assert normalise("    python package statsmodels: 0.14.4 -> 0.15.0") == (
        "    python package statsmodels: <version change>"
    )
    assert normalise("    model code m.py: added (400374491ec12a9a)").endswith("(400374491ec12a9a)")
    assert normalise("report: /tmp/p/reports/r.html", "/tmp/p") == "report: reports/r.html"
    assert normalise("m/sample: captured out (8.1s)") == "m/sample: captured out (<time>)"
    assert normalise("* v0002  2026-12-04T14:41:18+00:00  refresh") == (
        "* v0002  <timestamp>  refresh"
    )
    assert (
        normalise("suites/m/model.yaml ...F..       [100%]") == "suites/m/model.yaml ...F.. [100%]"
    )
    assert normalise("  max rel diff 1.083e-07") == "  max rel diff 1.083e-07"
    assert normalise("FAILED suites/m.yaml::m::s-o-values - m/s/o: values differ") == (
        "FAILED suites/m.yaml::m::s-o-values"
    )


def test_the_tutorial_runs_as_written(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytester's in-process runs drop the modules they imported; numpy's C extension cannot
    # be imported twice in one process, so the port's statsmodels is imported up front.
    root = copy_project(tmp_path / "proj", models=())
    saved = tmp_path / "printed"
    saved.mkdir()
    monkeypatch.setenv("HARNESS_WORKDIR", str(root / ".harness"))
    # A reader's terminal: on CI (``$CI``/``$BUILD_NUMBER`` set) pytest prints each failure's
    # whole message in the short summary, which the tutorial does not show.
    for ci_marker in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(ci_marker, raising=False)
    pytester.chdir()  # pytester restores the working directory afterwards
    last, where, stale = "", saved, []
    for step, block in enumerate(blocks(TUTORIAL.read_text()), start=1):
        if block.kind == "file":
            target = root / block.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
        elif block.kind == "run":
            outputs = []
            for argv in commands(block.body):
                code, output = run_command(argv, root, pytester)
                outputs.append(f"$ {shlex.join(argv)}\n{output}")
                ok = code != 0 if block.fails else code == 0
                assert ok, f"block {step}: {shlex.join(argv)} exited {code}:\n{output[-3000:]}"
            where = saved / f"tutorial-line-{block.line}.txt"
            where.write_text(relative("\n".join(outputs), str(root)))
            last = "\0".join(o.split("\n", 1)[1] for o in outputs)
        else:
            problem = check_output(block, last, root, where)
            if problem:
                stale.append(problem)
    if stale:
        pytest.fail("\n\n".join(stale), pytrace=False)
