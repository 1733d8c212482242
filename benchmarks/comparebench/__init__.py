"""The comparison benchmark: ``harness.compare.compare`` against two floors and three peers.

Run it through ``benchmarks/compare_bench.py`` (options and results: benchmarks/README.md).
One Spark session does all the Spark work; every contender compares the same golden/
candidate Parquet pair, whose true per-column mismatch counts are known, with
``rtol=1e-9, atol=0``, and is timed ``--repeat`` times round-robin (median reported).

Modules, one job each:

* ``runner``: options, round-robin timing, the ``--out`` file, exit status;
* ``sessions``: the ``--session`` kinds (harness, stock, connect);
* ``data``: the golden/candidate pair with the known answer;
* ``contenders/``: one small class per contender behind one protocol (``base``), and the
  registry (``__init__``), the one list of their names;
* ``measure``: wall time and memory of a call made in this process;
* ``peer_process`` / ``peer_child``: both ends of a peer call in a child process attached
  to the benchmark's JVM (timeout, memory guard, job cancellation);
* ``score``: medians and verdicts judged against the truth;
* ``render``: the printed table and lines, and the JSON document.
"""
