"""The R bridge: the tables an R step receives are ordinary data.frames (indexing, ordering,
scaling, merging and Date subsetting work with no workaround), and the narrow cases where
a column's R type is not the obvious one (all-NULL columns, integers with NULLs or beyond
32 bits). Real Spark, real R (through rpy2), as an R step gets them (``toArrow``, then
``rbridge.call``)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from harness import rbridge

# The workaround the reference models' MIGRATION.md notes once asked every R step to apply.
AS_R_TABLE = """
as_r_table <- function(x) {
  for (n in names(x)) {
    cl <- oldClass(x[[n]])
    if (!is.null(cl)) class(x[[n]]) <- cl
  }
  class(x) <- "data.frame"
  x
}
"""

PROBE = """
probe <- function(tables, params) {
  x <- tables$t
  kept <- x[!is.na(x$id) & x$id > 1, ]
  kept <- kept[order(kept$id, decreasing = TRUE), c("id", "d", "s")]
  data.frame(
    rows = nrow(x), cols = ncol(x), kept = nrow(kept), first_kept = kept$id[1],
    first_date = as.character(kept$d[1]), date_class = class(x$d[2:3])[1],
    scaled = round(sum(abs(scale(x$v)), na.rm = TRUE), 6),
    merged = nrow(merge(x, x, by = "id")), missing_s = sum(is.na(x$s)),
    workaround_is_a_no_op = identical(as_r_table(x), x),
    classes = paste(names(x), sapply(x, function(c) class(c)[1]), sep = ":", collapse = " "),
    stringsAsFactors = FALSE)
}
"""

SCHEMA = (
    "id INT, big BIGINT, n INT, v DOUBLE, s STRING, d DATE, amount DECIMAL(10,2), "
    "flag BOOLEAN, no_date DATE, no_double DOUBLE, no_flag BOOLEAN"
)


def test_r_receives_ordinary_data_frames_and_the_narrow_type_cases(spark, tmp_path: Path) -> None:
    rows = [
        (1, 3_000_000_000, 7, 1.0, "a", datetime.date(2024, 1, 3), Decimal("1.50"), True),
        (3, 2, None, 3.0, None, datetime.date(2024, 1, 1), Decimal("2.25"), None),
        (2, 1, 5, 2.0, "c", None, None, False),
    ]
    df = spark.createDataFrame([(*r, None, None, None) for r in rows], SCHEMA)
    script = tmp_path / "probe.R"
    script.write_text(AS_R_TABLE + PROBE)
    out = rbridge.call(script, "probe", {"t": df.toArrow()}, {}, ["probe"])["probe"]
    got = out.to_pylist()[0]
    # The general case: no workaround needed, and the old one changes nothing.
    assert (got["rows"], got["cols"], got["kept"], got["first_kept"]) == (3, 11, 2, 3)
    assert (got["first_date"], got["date_class"]) == ("2024-01-01", "Date")
    assert got["scaled"] == 2.0 and got["merged"] == 3 and got["missing_s"] == 1
    assert got["workaround_is_a_no_op"] is True
    # The narrow cases (docs/r-steps.md): R has no 64-bit integer; a column NULL throughout
    # keeps the type Arrow gives it.
    assert got["classes"].split() == [
        "id:integer",
        "big:numeric",  # beyond 32 bits: double (exact to 2^53)
        "n:numeric",  # an integer column with a NULL arrives as double
        "v:numeric",
        "s:character",
        "d:Date",
        "amount:numeric",  # DECIMAL: double, as Hive hands DOUBLE to R scripts
        "flag:logical",
        "no_date:Date",  # all NULL: still typed
        "no_double:numeric",
        "no_flag:logical",
    ]


ROUND_TRIP = """
same <- function(tables, params) {
  x <- tables$t
  x$f <- factor(x$s, levels = c("b", "a"))
  x$s_na <- is.na(x$s)
  x$d_na <- is.na(x$d)
  x
}
"""


def test_strings_factors_and_dates_cross_both_ways_with_their_nas(tmp_path: Path) -> None:
    """Strings cross as distinct values plus an index, dates as one buffer: NA stays NA
    (not "NA", not NaN) both ways, the order of rows and values is kept, a factor comes
    back as its labels, and a lossy cast to the declared type is an error naming it."""
    import pyarrow as pa

    from harness.rconvert import conform

    script = tmp_path / "same.R"
    script.write_text(ROUND_TRIP)
    strings = ["a", None, "b", "a", "NA", "", "b"]
    dates = [datetime.date(2024, 1, 31), None, datetime.date(1970, 1, 1)] + [
        datetime.date(1969, 12, 31)
    ] * 4
    scores = [0.5, None, float("nan"), 2.0, -1.0, 1e300, 3.0]
    table = pa.table({"s": strings, "d": dates, "x": scores})
    out = rbridge.call(script, "same", {"t": table}, {}, ["t"])["t"].to_pydict()
    assert out["s"] == strings
    assert out["s_na"] == [s is None for s in strings]
    assert out["d"] == dates
    assert out["d_na"] == [d is None for d in dates]
    assert out["f"] == [s if s in ("a", "b") else None for s in strings]
    assert out["x"][:2] == [0.5, None] and out["x"][2] != out["x"][2]  # NA -> NULL, NaN kept
    assert set(rbridge.take_timings()) == {"to_r", "r", "from_r"}
    back = rbridge.call(script, "same", {"t": table}, {}, ["t"])["t"]
    wanted = pa.schema([("x", pa.int64())])
    with pytest.raises(ValueError, match=r"column 'x' \(double\) cannot be int64"):
        conform(back, wanted, "same()")


def test_many_distinct_strings_cross_in_bulk_both_ways() -> None:
    """Past rconvert._BULK distinct values, strings cross as one R string (ASCII) or one
    by one (not ASCII), and come back through one pasted string: same values either way."""
    import pyarrow as pa

    from harness import rconvert

    ascii_values = [None if i % 97 == 0 else f"v{i}" for i in range(5000)]
    other = [None if i % 89 == 0 else f"é{i}" for i in range(5000)]
    for values in (ascii_values, other, ["", *ascii_values[1:]]):
        column = pa.array(values, pa.string())
        back = rconvert.from_r_vector(rconvert.to_r_vector(column))
        assert back.to_pylist() == values


DRAW = """
draw <- function(tables, params) {
  set.seed(42)
  data.frame(g = tables$t$g[1], drawn = sample(10, 3))
}
"""


def test_the_legacy_r_setup_draws_the_old_samplers_values_and_is_undone(tmp_path: Path) -> None:
    """``setup`` (the legacy platform's R code) runs before the step, per group as in a Spark
    worker, and today's sampler is back afterwards: R 3.5's draws with it, R 3.6's without."""
    import pyarrow as pa

    from harness.rsession import r

    script = tmp_path / "draw.R"
    script.write_text(DRAW)
    schema = pa.schema([("g", pa.int64()), ("drawn", pa.int64())])
    group = pa.table({"g": pa.array([7], pa.int64())})
    legacy = ('RNGkind(sample.kind = "Rounding")',)
    worker = rbridge.grouped_worker(str(script), "draw", "{}", "t", "out", schema, legacy)
    assert worker(group).column("drawn").to_pylist() == [10, 9, 3]
    assert str(r().evalr("RNGkind()[3]")[0]) == "Rejection"
    today = rbridge.grouped_worker(str(script), "draw", "{}", "t", "out", schema)
    assert today(group).column("drawn").to_pylist() == [1, 5, 10]
    out = rbridge.call(script, "draw", {"t": group}, {}, ["out"], legacy)["out"]
    assert out.column("drawn").to_pylist() == [10, 9, 3]
    assert str(r().evalr("RNGkind()[3]")[0]) == "Rejection"


def test_an_edited_script_is_sourced_again(tmp_path: Path) -> None:
    """A script edited in the same process (a notebook, a proposal run after an edit) is
    read again; an unchanged one is not."""
    import os

    import pyarrow as pa

    script = tmp_path / "step.R"
    script.write_text("f <- function(tables, params) data.frame(v = 1L)\n")
    t = {"t": pa.table({"x": [1]})}
    assert rbridge.call(script, "f", t, {}, ["out"])["out"].column("v").to_pylist() == [1]
    stat = script.stat()
    script.write_text("f <- function(tables, params) data.frame(v = 22L)\n")
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert rbridge.call(script, "f", t, {}, ["out"])["out"].column("v").to_pylist() == [22]
