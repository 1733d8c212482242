"""The benchmark's driver: options, the session, the round-robin of timed runs, the output.

One job: orchestration. It parses the options, opens the session (``sessions.py``), gets
the data and its truth (``data.py``), warms up, then times every contender ``--repeat``
times round-robin (run 1 of everything, then run 2, ...) so that a change in the
machine's load falls on all of them alike: floors and the engine in this process
(``measure.py``), peers each in a child process (``peer_process.py``). It then hands the
runs to ``score.py`` and ``render.py`` and writes ``--out``. A peer that errors or times
out is not repeated: one timeout is the answer.

Exit status: 0 unless the engine's verdict or its per-column mismatch counts are wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

from .contenders import BY_NAME, CONTENDERS, ENGINE, PEER_SETS, PEERS, SCAN_FLOOR, Kind
from .data import MOD_STRING, ensure_data
from .measure import HeapSampler, run_in_process
from .peer_process import run_peer_child
from .render import json_document, print_summary
from .score import add_join_ratios, datacompy_ratios, engine_ok, summarize
from .sessions import SESSIONS, open_session

DESCRIPTION = (
    "Benchmark ``harness.compare.compare`` against two floors and three peer tools, side by side."
)

log = logging.getLogger("compare_bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options of benchmarks/README.md; the hidden ``--_child ...`` ones start a peer child."""
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows per side (default 1000000)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per contestant (median)")
    p.add_argument(
        "--peers",
        default="fast",
        help="all | fast (the two datacompy runs) | none, or a comma list of: " + ", ".join(PEERS),
    )
    p.add_argument(
        "--peer-repeat",
        type=int,
        default=None,
        help="timed runs per peer tool (default: --repeat); peers take minutes at 10M rows",
    )
    p.add_argument("--peer-timeout", type=float, default=900.0, help="seconds per peer call")
    p.add_argument(
        "--peer-max-rss-gb",
        type=float,
        default=8.0,
        help="kill a peer whose Python process grows past this RSS (default 8)",
    )
    p.add_argument(
        "--session",
        choices=SESSIONS,
        default="harness",
        help="whose Spark session: the harness's own, a stock one, or a stock Connect server",
    )
    p.add_argument("--out", type=Path, default=None, help="write the JSON results here")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_group", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_golden", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_candidate", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        return args
    if args.rows < MOD_STRING:
        p.error(f"--rows must be at least {MOD_STRING} so every designed change occurs")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.peer_repeat is None:
        args.peer_repeat = args.repeat
    if args.peer_repeat < 1:
        p.error("--peer-repeat must be >= 1")
    if args.peer_timeout <= 0 or args.peer_max_rss_gb <= 0:
        p.error("--peer-timeout and --peer-max-rss-gb must be > 0")
    if args.session == "connect" and args.peers != "none":
        p.error("--session connect takes --peers none (peers attach to the benchmark's own JVM)")
    if args.peers in PEER_SETS:
        args.peer_list = PEER_SETS[args.peers]
    else:
        names = [n.strip() for n in args.peers.split(",") if n.strip()]  # "a, b" works too
        unknown = [n for n in names if n not in PEERS]
        if unknown:
            p.error(f"unknown peer(s) {unknown}; use all, fast, none or names from {PEERS}")
        args.peer_list = names
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the hidden ``--_child``, one peer call in a child)."""
    args = parse_args(argv)
    if args._child:
        from .peer_child import child_main

        child_main(args._child, args._group, args._golden, args._candidate)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    load_start = os.getloadavg()

    from harness.backends import spark_version
    from harness.workdir import work_root

    with open_session(args.session, work_root()) as spark:
        return _run(spark, args, load_start, spark_version(spark), work_root())


def _run(spark: Any, args: argparse.Namespace, load_start: tuple, version: str, wroot: Path) -> int:
    root = wroot / "bench" / str(args.rows)
    log.info("data: %s", root)
    golden_path, candidate_path, truth, generated, gen_s = ensure_data(spark, args.rows, root)
    log.info(
        "data %s (%.1fs); truth: %d mismatching values over %d columns, verdict %s",
        "generated" if generated else "reused",
        gen_s,
        truth["total_mismatches"],
        sum(1 for v in truth["mismatch_counts"].values() if v),
        truth["verdict"],
    )
    golden = spark.read.parquet(str(golden_path))
    candidate = spark.read.parquet(str(candidate_path))
    sampler = HeapSampler(spark)
    log.info("warm-up: one untimed scan of both inputs")
    BY_NAME[SCAN_FLOOR].run(spark, golden, candidate)

    contestants: list[tuple[str, Kind]] = [
        *[(c.name, c.kind) for c in CONTENDERS if c.kind != "peer"],
        *[(name, "peer") for name in args.peer_list],
    ]
    runs: dict[str, list[dict]] = {name: [] for name, _ in contestants}
    skip: set[str] = set()
    log_dir = wroot / "bench" / "logs"
    for rep in range(1, args.repeat + 1):
        for name, kind in contestants:
            if name in skip or (kind == "peer" and rep > args.peer_repeat):
                continue
            log.info("run %d/%d: %s ...", rep, args.repeat, name)
            if kind == "peer":
                tag = f"{args.rows}-{name.replace(' ', '_').replace('+', '_')}-{rep}"
                r = run_peer_child(
                    spark,
                    sampler,
                    name,
                    (golden_path, candidate_path),
                    args.peer_timeout,
                    args.peer_max_rss_gb,
                    log_dir,
                    tag,
                )
                if r["verdict"] in ("timeout", "error"):
                    skip.add(name)  # one timeout/error is the answer; do not repeat it
            else:
                r = run_in_process(spark, sampler, BY_NAME[name], golden, candidate)
                if kind == "engine" and isinstance(r["note"], dict):
                    r["engine"] = r.pop("note")
                    r["note"] = ""
            runs[name].append(r)
            log.info(
                "    %s in %s s%s",
                r["verdict"],
                r["seconds"],
                f" ({r['note']})" if r["note"] else "",
            )
    sampler.close()
    load_end = os.getloadavg()

    results = [summarize(name, kind, runs[name], truth) for name, kind in contestants]
    join_median = add_join_ratios(results)
    by_name = {r["name"]: r for r in results}
    ok = engine_ok(by_name[ENGINE])
    ratios = datacompy_ratios(by_name)
    machine = machine_info(spark, args.session, version, load_start, load_end)
    print_summary(args, version, machine, truth, results, join_median, ratios)
    if args.out:
        doc = json_document(args, machine, root, generated, gen_s, truth, results, ratios, ok)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"results written to {args.out}")
    return 0 if ok else 1


def machine_info(
    spark: Any, session: str, version: str, load_start: tuple, load_end: tuple
) -> dict[str, Any]:
    """Where the run happened: cores, load, Spark and Python, the session's settings."""
    return {
        "nproc": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in load_end],
        "spark_version": version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "session": session,
        "driver_memory": spark.conf.get("spark.driver.memory", "?"),
        "master": spark.conf.get("spark.master", "?"),
        "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "ansi_enabled": spark.conf.get("spark.sql.ansi.enabled"),
    }
