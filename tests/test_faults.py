"""A nightly that survives faults: lost servers, crashed workers, killed cluster workers,
cancelled runs resumed. Each fault is done for real (``tests/faults.py``): a real Spark
Connect server, xdist worker or cluster worker JVM is killed in the middle of a model.

The real ones are marked ``faults`` (``scripts/fault-table.sh`` runs them and prints what
each recorded: the fault, what happened, the data lost) and ``slow``; the rules they rest
on (recognising a lost session, reconciling the summary with pytest, planning a resume)
are tested fast below them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from faults import (
    data_lost,
    faulty_project,
    golden_digests,
    model,
    record_fault,
    run_pytest,
    summary,
)
from project_copy import REPO

from harness import api
from harness.backends.recovery import bounded_policy, lost_session
from harness.plugin.state import pair_of
from harness.report.records import ModelRecord, OutputRecord
from harness.report.summary import reconcile
from harness.workflows.resume import ResumePlan, plan

# ------------------------------------------------------------------------ rules, fast


@pytest.mark.parametrize(
    "text",
    [
        "<_MultiThreadedRendezvous of RPC that terminated with: status = StatusCode.UNAVAILABLE"
        ' details = "failed to connect to all addresses; last error: UNKNOWN: '
        'ipv4:127.0.0.1:15002: Failed to connect to remote host: Connection refused">',
        "[INVALID_HANDLE.SESSION_CHANGED] The handle 1a2b is invalid. The existing Spark "
        "server driver instance has restarted. Please reconnect.",
        "[INVALID_HANDLE.SESSION_NOT_FOUND] The handle 1a2b is invalid. Session not found.",
        "[NO_ACTIVE_SESSION] No active Spark session found. Please create a new Spark session "
        "before running the code.",
    ],
)
def test_a_lost_session_is_recognised_through_the_exception_chain(text):
    class GrpcLike(Exception):
        pass

    try:
        try:
            raise GrpcLike(text)
        except GrpcLike:
            raise RuntimeError("model adoption_rate step 2 failed") from None
    except RuntimeError as exc:  # the harness's wrapper hides the cause; the context stays
        fault = lost_session(exc)
    assert fault is not None and fault.startswith("Spark session lost")


@pytest.mark.parametrize(
    "text",
    ["[DIVIDE_BY_ZERO] Division by zero", "column `x` cannot be resolved", "no golden for m"],
)
def test_other_errors_are_not_taken_for_a_lost_session(text):
    assert lost_session(ValueError(text)) is None


def test_the_retry_policy_is_bounded():
    policy = bounded_policy(30)
    waits, wait = 0.0, policy.initial_backoff
    for _ in range(policy.max_retries):
        waits += wait
        wait = min(wait * policy.backoff_multiplier, policy.max_backoff)
    assert 30_000 <= waits <= 33_000  # about the bound, never pyspark's ten minutes
    assert policy.max_backoff == 2000


def test_node_ids_name_their_model_and_dataset():
    assert pair_of("suites/m/model.yaml::m::sample-rates-values") == ("m", "sample")
    assert pair_of("suites/m/model.yaml::m::full-inputs") == ("m", "full")
    assert pair_of("tests/test_x.py::test_y") is None


def _record(model_name: str, status: str) -> ModelRecord:
    return ModelRecord(model_name, "sample", [OutputRecord("out", status)])


def test_the_summary_never_calls_passed_what_pytest_failed():
    crashed = "sample-inputs: worker gw0 crashed while running suites/a/model.yaml::a::..."
    merged = reconcile(
        [_record("a", "passed"), _record("b", "failed")],
        carried=[_record("c", "passed")],
        pytest_failures={("a", "sample"): crashed, ("b", "sample"): "values differ"},
    )
    status = {m.model: (m.status, m.error) for m in merged}
    assert status["a"] == ("error", f"pytest reported {crashed}")
    assert status["b"][0] == "failed" and status["b"][1] is None  # its own verdict stands
    assert status["c"] == ("passed", None)


def test_two_parts_of_one_model_keep_the_fuller(tmp_path):
    partial = ModelRecord("a", "sample", [OutputRecord("x", "passed"), OutputRecord("y")])
    full = ModelRecord("a", "sample", [OutputRecord("x", "passed"), OutputRecord("y", "passed")])
    assert reconcile([full, partial], [], {})[0].status == "passed"


def _write_summary(report: Path, records: list[ModelRecord]) -> None:
    report.mkdir(parents=True, exist_ok=True)
    data = {
        "run": {"started": "2026-12-01T02:00:00+00:00"},
        "models": [r.to_dict() for r in records],
    }
    (report / "summary.json").write_text(json.dumps(data))


def test_resume_keeps_what_passed_unchanged_and_reruns_the_rest(tmp_path):
    root = faulty_project(tmp_path / "p")
    project = api.Project.find(root)
    passed = _record("adoption_rate", "passed")
    passed.fingerprint = api.current_fingerprint(project, project.model("adoption_rate"))
    moved = _record("faulty_rate", "passed")
    moved.fingerprint = {"digest": "sha256:from-before-the-change"}
    _write_summary(tmp_path / "r", [passed, moved])
    pairs = [("adoption_rate", "sample"), ("faulty_rate", "sample"), ("adoption_rate", "full")]
    found = plan(project, tmp_path / "r", pairs)
    assert list(found.carried) == [("adoption_rate", "sample")]
    assert found.carried[("adoption_rate", "sample")].carried_over == "2026-12-01T02:00:00+00:00"
    assert found.rerun == {
        ("faulty_rate", "sample"): "its bundle fingerprint changed since it passed",
        ("adoption_rate", "full"): "not run last time",
    }
    again = ResumePlan.from_json(found.to_json())
    assert again.carried.keys() == found.carried.keys() and again.rerun == found.rerun


def test_resume_with_nothing_to_resume_says_so(tmp_path):
    root = faulty_project(tmp_path / "p")
    with pytest.raises(Exception, match="nothing to resume in"):
        plan(api.Project.find(root), tmp_path / "empty", [("adoption_rate", "sample")])


# ------------------------------------------------------------------------ real faults


def real(test):
    """A real fault: run by scripts/fault-table.sh (marker ``faults``), slow."""
    return pytest.mark.faults(pytest.mark.slow(test))


def _jvms_of(root: Path) -> list[int]:
    """The JVMs whose command line names ``root`` (its scratch folder): this test's own."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "java" in cmd and str(root) in cmd:
                found.append(int(proc.name))
    return found


@pytest.fixture
def fault_project(tmp_path: Path):
    """The faulty project and its golden digests before the fault; afterwards, no JVM of
    the run may be left behind."""
    root = faulty_project(tmp_path / "project")
    yield root, golden_digests(root)
    deadline = time.monotonic() + 30
    while _jvms_of(root) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _jvms_of(root), "JVMs of the run left behind"


@real
@pytest.mark.parametrize("owner", ["harness", "remote"])
def test_connect_server_killed_mid_run(fault_project, owner, record_property, tmp_path):
    """The server dies while faulty_rate's step runs. Harness-owned: its watchdog restarts
    it at once on the same URL; --remote: the test restarts it after 5 s as a cluster
    would come back. The model is rerun once on a new session and passes; the other goes on."""
    from harness.backends import ConnectServer

    root, before = fault_project
    report = tmp_path / "report"
    args = ["-n", "2", "--harness-backend", "connect", "--harness-report-dir", str(report)]
    args += [f"--junitxml={report}/junit.xml"]
    env = {"HARNESS_FAULT": "kill-connect-server", "HARNESS_FAULT_DIR": str(tmp_path)}
    server = None
    if owner == "remote":
        server = ConnectServer()
        url = server.start()
        args += ["--harness-remote", url]
        env["HARNESS_FAULT_URL"] = url
        _restart_when_dead(server, after=5.0)
    try:
        result = run_pytest(root, *args, env=env, timeout=900)
    finally:
        if server is not None:
            server.stop()
    data = summary(report)
    faulty = model(data, "faulty_rate")
    lost = data_lost(before, golden_digests(root))
    record_fault(
        record_property,
        f"Spark Connect server killed mid-run ({owner}-owned)",
        f"exit {result.returncode}; faulty_rate {faulty['status']}, "
        f"retried after: {faulty.get('retried_after')}; adoption_rate "
        f"{model(data, 'adoption_rate')['status']}",
        lost,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert faulty["status"] == "passed" and faulty["retried_after"], faulty
    if owner == "harness":
        assert "died (killed by SIGKILL)" in faulty["retried_after"]
        assert "restarted as pid" in result.stdout
    assert model(data, "adoption_rate")["status"] == "passed"
    assert "retried after:" in (report / "report.html").read_text()
    junit = ET.parse(report / "junit.xml").getroot()
    names = {p.get("name") for p in junit.iter("property")}
    assert "retried_after" in names
    assert lost == "none"


def _restart_when_dead(server, after: float) -> None:
    """Start ``server`` again on its port ``after`` seconds after it dies, once, from a
    thread that lives as long as the server (a server dies with the thread that started it)."""
    import threading

    def watch() -> None:
        while server.running():
            time.sleep(0.2)
        if server.url is None:  # stopped on purpose
            return
        time.sleep(after)
        server.restart()
        while server.url is not None:
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


@real
def test_xdist_worker_killed(fault_project, record_property, tmp_path):
    """faulty_rate's step SIGKILLs its own xdist worker: xdist replaces the worker, the run
    fails, and every report says faulty_rate crashed, though the replacement passed it."""
    root, before = fault_project
    report = tmp_path / "report"
    env = {"HARNESS_FAULT": "kill-xdist-worker", "HARNESS_FAULT_DIR": str(tmp_path)}
    result = run_pytest(
        root,
        "-n",
        "2",
        "--harness-report-dir",
        str(report),
        f"--junitxml={report}/junit.xml",
        env=env,
    )
    data = summary(report)
    faulty = model(data, "faulty_rate")
    lost = data_lost(before, golden_digests(root))
    record_fault(
        record_property,
        "pytest-xdist worker killed (SIGKILL) mid-model",
        f"exit {result.returncode}; faulty_rate {faulty['status']}: {faulty['error']}; "
        f"adoption_rate {model(data, 'adoption_rate')['status']}",
        lost,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert faulty["status"] == "error" and "crashed while running" in faulty["error"]
    assert model(data, "adoption_rate")["status"] == "passed"
    assert data["run"]["verdict"] != "PASSED"
    assert "crashed while running" in (report / "report.html").read_text()
    assert "crashed while running" in (report / "junit.xml").read_text()
    assert "crashed while running" in result.stdout
    assert lost == "none"


@real
def test_local_cluster_executor_killed(fault_project, record_property, tmp_path):
    """An executor JVM of the local cluster is killed while faulty_rate runs: its worker
    starts another, Spark runs the lost tasks again, and the run passes with no retry. (The
    cluster's supervisor stops the whole cluster when a worker JVM itself exits, by design:
    scripts/local-cluster.sh never leaves half a cluster running.)"""
    root, before = fault_project
    report = tmp_path / "report"
    cluster_env = {
        **os.environ,
        "HARNESS_WORKDIR": str(root / ".harness"),
        "HARNESS_PYTHON": sys.executable,
    }
    up = subprocess.run(
        ["bash", str(REPO / "scripts" / "local-cluster.sh"), "up", "--owner", str(os.getpid())],
        capture_output=True,
        text=True,
        timeout=300,
        env=cluster_env,
    )
    assert up.returncode == 0, up.stderr[-2000:]
    url = up.stdout.strip().splitlines()[-1]
    try:
        env = {"HARNESS_FAULT": "kill-cluster-executor", "HARNESS_FAULT_DIR": str(tmp_path)}
        result = run_pytest(
            root,
            "--harness-backend",
            "connect",
            "--harness-remote",
            url,
            "--harness-report-dir",
            str(report),
            env=env,
        )
    finally:
        subprocess.run(
            ["bash", str(REPO / "scripts" / "local-cluster.sh"), "down"],
            timeout=120,
            env=cluster_env,
        )
    data = summary(report)
    faulty = model(data, "faulty_rate")
    lost = data_lost(before, golden_digests(root))
    record_fault(
        record_property,
        "local cluster executor JVM killed mid-run",
        f"exit {result.returncode}; faulty_rate {faulty['status']} "
        f"(retried: {faulty.get('retried_after') or 'no'}); Spark rescheduled the tasks",
        lost,
    )
    assert (tmp_path / "fault-done").read_text() == "kill-cluster-executor"
    assert result.returncode == 0, result.stdout[-3000:]
    assert faulty["status"] == "passed"
    assert lost == "none"


@real
def test_cancelled_run_is_resumed(fault_project, record_property, tmp_path):
    """A run is killed (SIGKILL to its whole process group, as a cancelled CI job) once
    adoption_rate has passed; ``--harness-resume`` then runs only faulty_rate and writes
    one summary of both."""
    root, before = fault_project
    report = tmp_path / "report"
    cmd = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:randomly", "-n", "0"]
    cmd += ["--harness-report-dir", str(report)]
    env = {**os.environ, "HARNESS_WORKDIR": str(root / ".harness")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    part = report / ".parts" / "adoption_rate-sample-main.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if part.exists() and json.loads(part.read_text())["status"] == "passed":
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (report / "summary.json").exists()  # cancelled before its summary
    resumed = run_pytest(root, "-n", "0", "--harness-report-dir", str(report), "--harness-resume")
    data = summary(report)
    kept, rerun = model(data, "adoption_rate"), model(data, "faulty_rate")
    lost = data_lost(before, golden_digests(root))
    record_fault(
        record_property,
        "nightly cancelled halfway (SIGKILL), then --harness-resume",
        f"resume exit {resumed.returncode}; adoption_rate kept ({kept['carried_over']}), "
        f"faulty_rate rerun: {rerun['status']}",
        lost,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert kept["status"] == "passed" and kept["carried_over"]
    assert rerun["status"] == "passed" and not rerun["carried_over"]
    assert "4 deselected" in resumed.stdout  # adoption_rate's tests did not run again
    assert lost == "none"
