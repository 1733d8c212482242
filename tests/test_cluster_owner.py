"""Which process owns a local cluster (``clusterctl.choose_owner``): the shell that wanted
it, past what only runs ``up`` and exits with it. Fake process chains, then one real one;
no Spark."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.backends.clusterctl import choose_owner, process, program_name

UP = "scripts/local-cluster.sh up"


def chain(*links: tuple[int, int, str]) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line), from (pid, parent pid, command line) links."""
    return {pid: (parent, command) for pid, parent, command in links}


TERMINAL = (50, 1, "sshd: ana@pts/0")


@pytest.mark.parametrize(
    ("links", "parent", "owner"),
    [
        pytest.param(
            [TERMINAL, (100, 50, "-bash"), (300, 100, f"timeout 300 {UP}")],
            300,
            100,
            id="timeout-in-a-login-shell",
        ),
        pytest.param(
            [
                TERMINAL,
                (100, 50, "bash"),
                (200, 100, "bash"),  # the subshell of $(...)
                (300, 200, f"/usr/bin/timeout 300 {UP}"),
            ],
            300,
            100,
            id="timeout-inside-command-substitution",
        ),
        pytest.param(
            [
                (40, 1, "python -m pytest tests"),
                (100, 40, "bash -c url=$(timeout 300 scripts/local-cluster.sh up)"),
                (300, 100, f"timeout 300 {UP}"),
            ],
            300,
            100,
            id="bash-c-under-pytest",
        ),
        pytest.param(
            [
                TERMINAL,
                (100, 50, "bash"),
                (200, 100, "bash ./nightly.sh"),  # a script: the owner, not its caller
                (250, 200, "bash ./nightly.sh"),  # its $(...) subshell
                (300, 250, "time flock /tmp/spark.lock nice -n 5 timeout 300 x"),
                (310, 300, "flock /tmp/spark.lock nice -n 5 timeout 300 x"),
                (320, 310, f"timeout 300 {UP}"),  # nice and env exec: not in the chain
            ],
            320,
            200,
            id="script-shell-past-time-flock-timeout",
        ),
        pytest.param(
            [TERMINAL, (100, 50, "bash"), (200, 100, "bash")],
            200,
            100,
            id="pipeline-subshell",
        ),
        pytest.param(
            [(100, 1, "bash"), (200, 100, "python -m pytest tests/test_local_cluster.py")],
            200,
            200,
            id="pytest-ran-up-itself",
        ),
        pytest.param([TERMINAL, (100, 50, "bash")], 100, 100, id="the-shell-itself"),
        pytest.param([(300, 1, f"timeout 300 {UP}")], 300, 300, id="wrapper-under-init"),
        pytest.param([(300, 77, f"timeout 300 {UP}")], 300, 300, id="wrapper-parent-gone"),
        pytest.param([(300, 100, "env X=1 timeout 9 x")], 999, 999, id="parent-gone"),
        pytest.param(
            [(100, 50, "bash"), (300, 100, f"timeoutx {UP}")], 300, 300, id="not-a-wrapper"
        ),
    ],
)
def test_choose_owner(links: list[tuple[int, int, str]], parent: int, owner: int) -> None:
    assert choose_owner(parent, chain(*links).get) == owner


def test_program_name() -> None:
    assert program_name("-bash") == "bash"
    assert program_name("/usr/bin/timeout 300 x") == "timeout"
    assert program_name("") == "?"


def test_process_reads_proc() -> None:
    parent, command = process(os.getpid()) or (0, "")
    assert parent == os.getppid()
    assert "pytest" in command or "python" in command, command
    assert process(2**22 + 12345) is None  # above pid_max: never a process


def test_default_owner_of_a_real_chain_is_the_shell_above_timeout() -> None:
    """``bash -c 'x=$(timeout 60 python ...); ...'``: python's parent is ``timeout`` (or a
    subshell then ``timeout``); the owner is the ``bash -c``."""
    probe = "from harness.backends.clusterctl import default_owner; print(default_owner())"
    script = 'owner=$(timeout 60 "$PY" -c "$PROBE"); echo "$$ $owner"'
    env = dict(os.environ, PY=sys.executable, PROBE=probe)
    proc = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    shell, owner = proc.stdout.split()
    assert owner == shell, proc.stdout
