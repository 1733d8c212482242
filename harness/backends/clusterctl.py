"""``scripts/local-cluster.sh up|down|status``: the local cluster kept running in the
background, and nothing of it left behind after ``down``, a Ctrl-C or its owner's death.

How (the choice, and why): ``up`` starts one *supervisor* process in a session of its own
(so a terminal's Ctrl-C after ``up`` returned does not reach it). The supervisor starts the
cluster (``cluster.LocalCluster``: every JVM its child, in a process group of its own, with
the parent-death signal), writes ``state.json`` and then watches:

* ``down`` sends it SIGTERM: it stops the Connect server, the workers (with their
  executors) and the master, and exits;
* its *owner* dying (by default the shell that ran ``local-cluster.sh``, skipping what
  only runs ``up`` and exits with it: ``timeout``, ``nice``, ``env``..., the subshells of
  ``$(...)``; see ``choose_owner``. ``--owner PID`` names another, ``--owner 0`` none)
  stops it the same way: a cluster never outlives the script or test that wanted it;
* ``up`` being interrupted (Ctrl-C, SIGTERM) or killed before the cluster is ready stops it;
* a JVM dying stops the others (a cluster with a dead worker is worse than none);
* the supervisor itself killed with SIGKILL: the kernel sends each JVM SIGTERM
  (PR_SET_PDEATHSIG), and each JVM's group goes down with it.

A supervisor rather than JVMs started with ``setsid`` and pid files alone, because only a
living parent can watch an owner and keep the parent-death signal armed. ``down`` also kills
any recorded JVM that is still there (checked by its command line, never by name).
Everything (state, logs, work folders) is in one folder: ``workdir.cluster_dir()``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from harness import workdir as scratch
from harness.backends.cluster import ClusterSettings, LocalCluster, master_state
from harness.errors import HarnessError

STATE_FILE = "state.json"
SUPERVISOR_LOG = "supervisor.log"
SUPERVISOR_MARK = "harness.backends.clusterctl"
JVM_MARK = "org.apache.spark"
NOT_RUNNING = 3  # the LSB exit status of `status` for "not running"


class Stop(BaseException):
    """A signal asked the supervisor (or ``up``) to stop; unwinds through every wait."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # one stop at a time: the clean-up runs unbroken
    raise Stop(signal.Signals(signum).name)


def _on_stop_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_stop)


# --------------------------------------------------------------------------- processes


def _proc_file(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    raw = _proc_file(pid, "stat")
    return raw[raw.rindex(")") + 2 :].split() if raw else None


def running(pid: int | None) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    if not pid or not scratch.pid_alive(pid):
        return False
    fields = _stat(pid)
    return fields is None or fields[0] != "Z"


def cmdline(pid: int) -> str:
    return (_proc_file(pid, "cmdline") or "").replace("\0", " ").strip()


def start_time(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot): tells a process from a reuse of its pid."""
    fields = _stat(pid)
    return fields[19] if fields else None


# Programs that only run a command and exit when it does (``timeout 300 local-cluster.sh up``):
# never a cluster's owner, since they exit as soon as ``up`` returns.
PASS_THROUGH = frozenset(
    {"timeout", "nice", "env", "nohup", "ionice", "stdbuf", "time", "flock", "setsid", "taskset"}
)


def process(pid: int) -> tuple[int, str] | None:
    """(parent pid, command line) of a running ``pid``, from /proc (Linux); None when gone."""
    fields = _stat(pid)
    return (int(fields[1]), cmdline(pid)) if fields else None


def program_name(command: str) -> str:
    """The program a command line runs: its first word's base name (``-bash``, a login
    shell's: ``bash``)."""
    words = command.split()
    return os.path.basename(words[0]).lstrip("-") if words else "?"


def choose_owner(pid: int, lookup: Callable[[int], tuple[int, str] | None]) -> int:
    """The process whose exit stops the cluster: ``pid`` (``up``'s parent), or, while that
    is only an intermediary, the nearest process above it that is not.

    Why: ``up`` returns as soon as the cluster is ready, and so does every process that exists
    only to run it: a pass-through program (``timeout``, ``nice``, ``env``: ``PASS_THROUGH``)
    or the subshell bash forks for ``$(...)`` or a pipeline (same command line as its parent).
    Owned by one of those, ``url=$(timeout 300 scripts/local-cluster.sh up)`` would stop the
    cluster at once. The owner is the shell above them (interactive, or the script that ran
    ``up``), or whatever else ran ``up`` directly (pytest, make). ``lookup(pid)`` gives
    ``(parent pid, command line)``, None for a gone pid. An intermediary whose parent is
    init or unknown is the owner itself: never none at all.
    """
    while True:
        this = lookup(pid)
        above = lookup(this[0]) if this and this[0] > 1 else None
        if this is None or above is None:
            return pid
        if program_name(this[1]) not in PASS_THROUGH and this[1] != above[1]:
            return pid
        pid = this[0]


def default_owner() -> int:
    """The owner of a cluster this process starts (see ``choose_owner``)."""
    return choose_owner(os.getppid(), process)


def describe_owner(owner: int) -> str:
    """``pid 123 (bash)``, for the messages saying whose exit stops the cluster."""
    return f"pid {owner} ({program_name(cmdline(owner))})"


def _owner_alive(pid: int, started: str | None) -> bool:
    return running(pid) and (started is None or start_time(pid) == started)


# --------------------------------------------------------------------------- state


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / STATE_FILE)  # readers never see half a file


def supervisor_running(state: dict[str, Any] | None) -> bool:
    pid = int((state or {}).get("supervisor") or 0)
    return running(pid) and SUPERVISOR_MARK in cmdline(pid)


def _jvm_pids(state: dict[str, Any]) -> list[int]:
    parts = [state.get("master") or {}, *(state.get("workers") or []), state.get("connect") or {}]
    return [int(p["pid"]) for p in parts if p.get("pid")]


def leftover_jvms(state: dict[str, Any]) -> list[int]:
    """Recorded JVMs still running (checked by command line: a reused pid is not ours)."""
    return [pid for pid in _jvm_pids(state) if running(pid) and JVM_MARK in cmdline(pid)]


# --------------------------------------------------------------------------- supervisor


def supervise(folder: Path, workers: int, owner: int, launcher: int, timeout: float) -> int:
    """Start the cluster, record it, and hold it until told to stop or the owner dies."""
    _on_stop_signals()
    ready = threading.Event()
    watchdog = threading.Thread(
        target=_watchdog,
        args=(owner, start_time(owner) if owner else None, launcher, start_time(launcher), ready),
        daemon=True,
    )
    watchdog.start()
    state: dict[str, Any] = {
        "supervisor": os.getpid(),
        "owner": owner or None,
        "owner_command": program_name(cmdline(owner)) if owner else None,
        "status": "starting",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_state(folder, state)
    cluster = LocalCluster(folder, ClusterSettings.from_env(workers))
    began = time.monotonic()
    code = 0
    try:

        def progress(line: str) -> None:  # each stage's pids recorded as soon as they run
            print(line, flush=True)
            state.update(cluster.describe())
            write_state(folder, state)

        cluster.start(timeout=timeout, progress=progress)
        state.update(cluster.describe(), status="ready", url=cluster.url)
        state["ready_seconds"] = round(time.monotonic() - began, 1)
        ready.set()  # before `up` can see "ready" and exit: its exit is no reason to stop now
        write_state(folder, state)
        print(f"ready: {cluster.url}", flush=True)
        while not (dead := cluster.failed()):
            time.sleep(1.0)
        print(f"stopping: {dead}", flush=True)
        state["error"], code = dead, 1
    except Stop as stop:
        print(f"stopping: {stop} received", flush=True)
    except HarnessError as exc:
        print(f"failed: {exc}", flush=True)
        state["error"], code = str(exc), 1
    finally:
        state["status"] = "stopping"
        write_state(folder, state)
        stopped = time.monotonic()
        cluster.stop()
        state["status"] = "failed" if code else "stopped"
        state["stop_seconds"] = round(time.monotonic() - stopped, 1)
        write_state(folder, state)
        print(f"stopped in {state['stop_seconds']}s", flush=True)
    return code


def _watchdog(
    owner: int, owner_started: str | None, launcher: int, launched: str | None, ready: Any
) -> None:
    """SIGTERM our own process (the main thread then stops the cluster) once the owner is
    gone, or the ``up`` that launched us died before the cluster was ready."""
    while True:
        if owner and not _owner_alive(owner, owner_started):
            print(f"owner pid {owner} exited", flush=True)
            break
        if not ready.is_set() and not _owner_alive(launcher, launched):
            print(f"'up' (pid {launcher}) died before the cluster was ready", flush=True)
            break
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


# --------------------------------------------------------------------------- commands


def up(workers: int | None, owner: int | None, timeout: float) -> int:
    """Start the supervisor, relay its progress to stderr, print the URL last on stdout."""
    folder = scratch.cluster_dir()
    state = read_state(folder)
    if supervisor_running(state):
        assert state is not None
        if state.get("status") == "ready":
            print(
                f"[cluster] already running (supervisor pid {state['supervisor']}); "
                + _owner_note(state.get("owner"), state.get("owner_command")),
                file=sys.stderr,
            )
            print(state["url"])
            return 0
        raise HarnessError(
            f"a local cluster is {state.get('status')} (supervisor pid {state['supervisor']}); "
            "wait, or run: scripts/local-cluster.sh down"
        )
    if state and leftover_jvms(state):
        _kill_jvms(state)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    owner = default_owner() if owner is None else owner
    cmd = [
        sys.executable,
        "-m",
        SUPERVISOR_MARK,
        "supervise",
        "--workers",
        str(ClusterSettings.from_env(workers).workers),
        "--owner",
        str(owner),
        "--launcher",
        str(os.getpid()),
        "--timeout",
        str(timeout),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(scratch.CHECKOUT), env.get("PYTHONPATH")])
    )
    began = time.monotonic()
    with open(folder / SUPERVISOR_LOG, "wb") as log:
        supervisor = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    _on_stop_signals()
    try:
        return _follow(folder, supervisor, began, _owner_note(owner))
    except Stop as stop:
        print(f"[cluster] {stop}: stopping the cluster", file=sys.stderr)
        _stop_supervisor(supervisor.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            supervisor.wait(timeout=5)
        return 130


def _owner_note(owner: int | None, command: str | None = None) -> str:
    """Whose exit stops the cluster, for ``up``'s last line on stderr."""
    if not owner:
        return "it has no owner: it runs until scripts/local-cluster.sh down"
    who = f"pid {owner} ({command})" if command else describe_owner(owner)
    return f"it stops when its owner, {who}, exits (another: up --owner PID; none: up --owner 0)"


def _follow(folder: Path, supervisor: subprocess.Popen[bytes], began: float, owner: str) -> int:
    log, shown = folder / SUPERVISOR_LOG, 0
    while True:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines[shown:]:
            print(f"[cluster] {line}", file=sys.stderr, flush=True)
        shown = len(lines)
        state = read_state(folder) or {}
        if state.get("status") == "ready" and state.get("supervisor") == supervisor.pid:
            print(
                f"[cluster] up in {time.monotonic() - began:.1f}s; stop it with: "
                "scripts/local-cluster.sh down",
                file=sys.stderr,
            )
            print(f"[cluster] {owner}", file=sys.stderr, flush=True)
            print(state["url"], flush=True)
            return 0
        if supervisor.poll() is not None:
            print(f"[cluster] failed to start; log {log}", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _stop_supervisor(pid: int, grace: float = 120.0) -> None:
    """SIGTERM, wait for its clean-up, SIGKILL if it hangs (the JVMs then die with it)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.25)
    if running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _kill_jvms(state: dict[str, Any], grace: float = 15.0) -> None:
    """Kill the process groups of recorded JVMs that are still ours and running."""
    pids = leftover_jvms(state)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while any(running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.25)
        pids = [pid for pid in pids if running(pid)]
        if not pids:
            return


def down() -> int:
    folder = scratch.cluster_dir()
    state = read_state(folder)
    if state is None:
        print(f"[cluster] not running (no {folder / STATE_FILE})", file=sys.stderr)
        return 0
    began = time.monotonic()
    if supervisor_running(state):
        _stop_supervisor(int(state["supervisor"]))
    _kill_jvms(state)
    left = leftover_jvms(state)
    if left:
        print(f"[cluster] could not stop pids {left}", file=sys.stderr)
        return 1
    print(f"[cluster] stopped in {time.monotonic() - began:.1f}s", file=sys.stderr)
    return 0


def status() -> int:
    folder = scratch.cluster_dir()
    state = read_state(folder)
    if not supervisor_running(state):
        left = leftover_jvms(state) if state else []
        note = f"; leftover JVM pids {left}: run down" if left else ""
        last = f" (last: {state.get('status')})" if state else ""
        print(f"cluster: not running{last}{note}")
        return NOT_RUNNING
    assert state is not None
    owner = state.get("owner")
    owner_command = f" ({state['owner_command']})" if state.get("owner_command") else ""
    print(
        f"cluster: {state['status']} (supervisor pid {state['supervisor']}, owner "
        f"{f'pid {owner}{owner_command}' if owner else 'none'}, folder {folder})"
    )
    master = state.get("master") or {}
    if master:
        ui = int(str(master["ui"]).rsplit(":", 1)[1])
        seen = master_state(ui) or {}
        workers = [w for w in seen.get("workers", []) if w.get("state") == "ALIVE"]
        print(
            f"master: {master['url']} pid {master['pid']}, UI {master['ui']}: "
            f"{len(workers)} workers alive, {len(seen.get('activeapps', []))} applications"
        )
        for w in state.get("workers") or []:
            print(f"{w['name']}: pid {w['pid']} {'running' if running(w['pid']) else 'GONE'}")
    connect = state.get("connect") or {}
    if connect.get("url"):
        print(
            f"connect: {connect['url']} pid {connect['pid']} "
            f"{'running' if running(connect['pid']) else 'GONE'}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local-cluster.sh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start (or find) the cluster; prints its sc:// URL last")
    p_up.add_argument(
        "--workers", type=int, default=None, help="default 2 (HARNESS_CLUSTER_WORKERS)"
    )
    p_up.add_argument(
        "--owner",
        type=int,
        default=None,
        help="stop when this pid exits (default: the calling shell, past timeout, nice, env "
        "and $(...) subshells; 0: never)",
    )
    p_up.add_argument("--timeout", type=float, default=300, help="seconds per start-up stage")
    sub.add_parser("down", help="stop the cluster; nothing is left running")
    sub.add_parser("status", help="what runs (exit 3 when nothing does)")
    p_sup = sub.add_parser("supervise", help=argparse.SUPPRESS)
    for name in ("--workers", "--owner", "--launcher"):
        p_sup.add_argument(name, type=int, required=True)
    p_sup.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args.workers, args.owner, args.timeout)
        if args.command == "down":
            return down()
        if args.command == "status":
            return status()
        return supervise(
            scratch.cluster_dir(), args.workers, args.owner, args.launcher, args.timeout
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
