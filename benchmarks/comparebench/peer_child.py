"""The child end of a peer call: attach to the parent's JVM, run one peer once, report.

Started by ``peer_process.py`` as ``compare_bench.py --_child NAME ...``. It builds a
SparkSession on the benchmark's own JVM through the py4j gateway (the same SparkContext,
SparkSession and settings, the same warm JIT), runs the peer under the parent's Spark job
group, and reports on stdout in ``PROTOCOL`` lines of JSON: ``ready`` when the untimed
set-up is done, then ``done`` (or ``error``). It exits with ``os._exit`` so that no py4j
or SparkContext shutdown hook ever runs against the parent's JVM.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, NoReturn

from .contenders import BY_NAME, short_error
from .measure import RssProbe, timed_run

PROTOCOL = "@@BENCH@@ "  # prefix of the child's report lines (anything else is ignored)


def emit(**msg: Any) -> None:
    """One report line to the parent."""
    sys.stdout.write(PROTOCOL + json.dumps(msg) + "\n")
    sys.stdout.flush()


def child_main(name: str, group: str, golden_path: str, candidate_path: str) -> NoReturn:
    """Attach to the parent's JVM, run peer ``name`` once, report one JSON line, exit hard."""
    try:
        for logger in ("SQLQueryContextLogger", "DataFrameQueryContextLogger", "py4j"):
            logging.getLogger(logger).disabled = True

        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway  # reads PYSPARK_GATEWAY_PORT/SECRET
        from pyspark.sql import SparkSession

        gateway = launch_gateway()
        jvm = gateway.jvm
        default = SparkSession._get_j_spark_session_class(jvm).getDefaultSession()
        if not default.isDefined():
            raise RuntimeError("the parent's JVM has no default SparkSession")
        jss = default.get()  # the parent's session: same SparkContext, same SQL settings
        jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(jss.sparkContext())
        sc = SparkContext(gateway=gateway, jsc=jsc, conf=SparkConf(_jconf=jsc.getConf()))
        spark = SparkSession(sc, jsparkSession=jss)
        sc.setJobGroup(group, f"compare_bench {name}", True)
        peer = BY_NAME[name]
        peer.prepare()
        fail_types = peer.failures()
        golden = spark.read.parquet(golden_path)
        candidate = spark.read.parquet(candidate_path)
        golden, candidate = peer.inputs(golden, candidate)
    except BaseException as exc:
        emit(event="error", stage="setup", error=short_error(exc))
        os._exit(3)
    emit(event="ready")
    probe = RssProbe()
    probe.begin()
    verdict, counts, note, seconds = timed_run(
        peer, spark, golden, candidate, fail_types, (BaseException,)
    )
    emit(
        event="done",
        verdict=verdict,
        seconds=seconds,
        counts=counts,
        note=note,
        py_rss_delta_mb=probe.end(),
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never run py4j/SparkContext shutdown hooks against the parent's JVM
