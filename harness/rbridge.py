"""Calling R models through rpy2, with buffer-based conversion instead of ``pandas2ri``.

``pandas2ri`` converts row by row and builds row names (seconds for a million rows); here
numeric columns cross as one memory copy, nulls become R's ``NA`` (not ``NaN``: R keeps the
two apart, and so do we on the way back), dates become ``Date`` and timestamps
``POSIXct`` in UTC. rpy2 is imported lazily so Spark workers that never run R never load it.

An R model is a script defining a function ``f(tables, params)``: ``tables`` is a named
list of data.frames, ``params`` a named list; it returns a data.frame or a named list of
data.frames. Everything it prints (``print``, ``cat``, ``message``) and every warning it
raises is captured in order (:func:`take_output`) for the run's step log.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import ModelRunError

_NA_REAL_BITS = np.uint64(0x7FF00000000007A2)
_NA_INT = np.iinfo(np.int32).min
_R_ORIGIN = np.datetime64("1970-01-01", "D")
_R_DAY = np.timedelta64(1, "D")


@lru_cache(maxsize=1)
def _r() -> Any:
    """rpy2's low-level interface, started once per process (cached), or a clear error."""
    if not os.environ.get("R_HOME") and shutil.which("R") is None:
        raise ModelRunError(
            "R is not installed (no R on PATH, R_HOME unset): run "
            "bash scripts/setup.sh, which installs Debian's r-base-core"
        )
    try:
        import rpy2.rinterface as ri
        import rpy2.rinterface_lib.callbacks as callbacks
    except Exception as exc:  # ImportError, or rpy2 failing to find libR
        raise ModelRunError(f"rpy2 cannot load R ({exc}); run bash scripts/setup.sh") from None
    # R's console (print, cat, message, and the warnings _CALL writes) comes here, in order.
    callbacks.consolewrite_warnerror = lambda text: _R_MESSAGES.append(text)
    callbacks.consolewrite_print = lambda text: _R_MESSAGES.append(text)
    saved = os.environ.get("LD_LIBRARY_PATH")
    ri.initr_simple()
    # Embedded R prepends its ldpaths (incl. /usr/lib/x86_64-linux-gnu) to this process's
    # LD_LIBRARY_PATH; child processes (pytest, spark-submit) would then load the system
    # libpython instead of the venv's. R's libraries are loaded by now: restore it.
    if saved is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = saved
    return ri


_R_MESSAGES: list[str] = []  # R's console output since the last call() began
# Seconds spent since the last take_timings(): "pandas_to_r", "r", "r_to_pandas".
_TIMINGS: dict[str, float] = {}

# Calls the model's function so that each warning is written to the console when raised
# (embedded R would otherwise keep them for a top level that never prints them).
_CALL = """function(fn, tables, params, name) withCallingHandlers(
  fn(tables, params),
  warning = function(w) {
    call <- conditionCall(w)
    text <- if (is.null(call)) "" else deparse(call, nlines = 1L)
    if (startsWith(text, "fn(")) text <- paste0(name, substring(text, 3))
    where <- if (nzchar(text)) paste0(" in ", text) else ""
    cat("Warning", where, ": ", conditionMessage(w), "\n", sep = "", file = stderr())
    invokeRestart("muffleWarning")
  })"""


def take_output() -> str:
    """R's console output since the last :func:`call` began (then forgotten)."""
    text = "".join(_R_MESSAGES)
    _R_MESSAGES.clear()
    return text


def take_timings() -> dict[str, float]:
    """Where :func:`call` spent its time since the last take (then forgotten): converting
    tables to R, R's own work, converting results back."""
    out = dict(_TIMINGS)
    _TIMINGS.clear()
    return out


def _timed(part: str, started: float) -> float:
    now = time.perf_counter()
    _TIMINGS[part] = _TIMINGS.get(part, 0.0) + now - started
    return now


def r_package_versions(packages: list[str]) -> dict[str, str]:
    ri = _r()
    versions = {"R": str(ri.evalr('paste(R.version$major, R.version$minor, sep=".")')[0])}
    for pkg in packages:
        try:
            versions[pkg] = str(ri.evalr(f'as.character(packageVersion("{pkg}"))')[0])
        except Exception:
            versions[pkg] = "not installed"
    return versions


# --------------------------------------------------------------------------- conversion


def _vector(series: pd.Series) -> Any:
    ri = _r()
    kind = series.dtype.kind
    mask = series.isna().to_numpy()
    if kind == "b" or (
        kind == "O"
        and series.dropna().map(lambda v: type(v) is bool).all()
        and len(series.dropna())
    ):
        values = [ri.NA_Logical if m else bool(v) for v, m in zip(series, mask, strict=True)]
        return ri.BoolSexpVector(values)
    if kind in "iu" and not mask.any() and series.abs().max() < 2**31:
        return ri.IntSexpVector.from_memoryview(series.to_numpy(np.int32).data)
    if kind in "iuf":
        arr = series.to_numpy(np.float64, na_value=np.nan).copy()
        arr.view(np.uint64)[mask] = _NA_REAL_BITS
        return ri.FloatSexpVector.from_memoryview(arr.data)
    if kind == "M":
        secs = series.dt.tz_localize(None) if series.dt.tz is not None else series
        arr = secs.to_numpy("datetime64[us]").astype(np.int64).astype(np.float64) / 1e6
        arr.view(np.uint64)[mask] = _NA_REAL_BITS
        vec = ri.FloatSexpVector.from_memoryview(arr.data)
        vec.do_slot_assign("tzone", ri.StrSexpVector(["UTC"]))
        return _classed(vec, ["POSIXct", "POSIXt"])
    sample = series.dropna()
    if len(sample) and hasattr(sample.iloc[0], "isoformat") and not isinstance(sample.iloc[0], str):
        # numpy converts the date objects in C (None becomes NaT, masked below)
        days = (series.to_numpy().astype("datetime64[D]") - _R_ORIGIN) / _R_DAY
        days = days.astype(np.float64)
        days.view(np.uint64)[mask] = _NA_REAL_BITS
        vec = ri.FloatSexpVector.from_memoryview(days.data)
        return _classed(vec, ["Date"])
    if len(sample) and isinstance(sample.iloc[0], Decimal):
        # DECIMAL columns arrive as Python Decimals; R has no decimal type: doubles, as Hive
        # hands DOUBLE to R scripts (strings would turn into factors in R's models).
        arr = np.array([np.nan if m else float(v) for v, m in zip(series, mask, strict=True)])
        arr.view(np.uint64)[mask] = _NA_REAL_BITS
        return ri.FloatSexpVector.from_memoryview(arr.data)
    return _strings(series)


def _strings(series: pd.Series) -> Any:
    """A character vector built by R from the distinct values and one index per row: only
    the distinct strings cross one by one (a column of millions of rows has few)."""
    ri = _r()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    levels = ri.StrSexpVector([str(u) for u in uniques])
    index = (codes + 1).astype(np.int32)
    index[codes < 0] = _NA_INT  # R's x[NA_integer_] is NA_character_
    return ri.baseenv["["](levels, ri.IntSexpVector.from_memoryview(index.data))


def to_r(pdf: pd.DataFrame) -> Any:
    """A pandas DataFrame as an R data.frame (compact row names, no copies per row)."""
    ri = _r()
    columns = ri.ListSexpVector([_vector(pdf[c]) for c in pdf.columns])
    columns.do_slot_assign("names", ri.StrSexpVector([str(c) for c in pdf.columns]))
    columns.do_slot_assign("row.names", ri.IntSexpVector([_NA_INT, -len(pdf)]))
    return _classed(columns, ["data.frame"])


def _classed(obj: Any, classes: list[str]) -> Any:
    """Set the class through R's own ``class<-``: setting the attribute directly misses
    R's internal object bit, and nrow(), x[i, ] and Date subsetting then misbehave."""
    ri = _r()
    return ri.baseenv["class<-"](obj, ri.StrSexpVector(classes))


def _from_vector(vec: Any) -> Any:
    ri = _r()
    classes = set(vec.rclass) if hasattr(vec, "rclass") else set()
    if "factor" in classes:
        codes = np.asarray(vec.memoryview())
        levels = np.array([*map(str, vec.do_slot("levels")), None], dtype=object)
        return levels[np.where(codes == _NA_INT, len(levels) - 1, codes - 1)]
    if vec.typeof == ri.RTYPES.REALSXP:
        arr = np.asarray(vec.memoryview()).copy()
        na = np.isnan(arr) & ((arr.view(np.uint64) & np.uint64(0xFFFFFFFF)) == np.uint64(1954))
        if "Date" in classes:
            out = (_R_ORIGIN + np.where(na, 0, arr).astype("int64")).astype(object)
            return [None if n else pd.Timestamp(d).date() for d, n in zip(out, na, strict=True)]
        if "POSIXct" in classes:
            ts = pd.to_datetime(pd.Index(np.where(na, 0, arr) * 1e6), unit="us")
            return [None if n else t for t, n in zip(ts, na, strict=True)]
        obj = arr.astype(object)
        obj[na] = None
        return obj
    if vec.typeof == ri.RTYPES.INTSXP:
        arr = np.asarray(vec.memoryview())
        obj = arr.astype(object)
        obj[arr == _NA_INT] = None
        return obj
    if vec.typeof == ri.RTYPES.LGLSXP:
        arr = np.asarray(vec.memoryview())
        return [None if v == _NA_INT else bool(v) for v in arr]
    if vec.typeof == ri.RTYPES.STRSXP:  # distinct values one by one, the rest by index
        distinct = ri.baseenv["unique"](vec)
        index = np.asarray(ri.baseenv["match"](vec, distinct).memoryview())
        values = np.array(
            [None if v is ri.NA_Character else str(v) for v in distinct], dtype=object
        )
        return values[index - 1]
    raise ModelRunError(f"R returned a column of unsupported type {vec.typeof}")


def from_r(rdf: Any) -> pd.DataFrame:
    _r()
    if "data.frame" not in set(rdf.rclass):
        raise ModelRunError(f"the R function returned {list(rdf.rclass)}, not a data.frame")
    names = [str(n) for n in rdf.do_slot("names")]
    return (
        pd.DataFrame({n: _from_vector(rdf[i]) for i, n in enumerate(names)})
        if names
        else pd.DataFrame()
    )


# ------------------------------------------------------------------------------ calling


@lru_cache(maxsize=32)
def _load_function(script: str, function: str) -> Any:
    """Source a script into its own environment once per process; return the function."""
    ri = _r()
    env = ri.evalr("new.env(parent = globalenv())")
    try:
        ri.baseenv["sys.source"](script, envir=env)
    except Exception as exc:
        raise ModelRunError(f"{script}: R could not source the script: {_r_error(exc)}") from None
    if function not in list(env.keys()):
        raise ModelRunError(f"{script}: defines no function '{function}'")
    return env[function]


def _r_error(exc: BaseException) -> str:
    text = "".join(_R_MESSAGES[-5:]).strip() or str(exc)
    return " ".join(text.split())[:500]


@lru_cache(maxsize=1)
def _caller() -> Any:
    return _r().evalr(_CALL)


def _params_to_r(params: dict[str, Any]) -> Any:
    ri = _r()
    items = []
    for value in params.values():
        if isinstance(value, bool):
            items.append(ri.BoolSexpVector([value]))
        elif isinstance(value, int):
            items.append(ri.IntSexpVector([value]))
        elif isinstance(value, float):
            items.append(ri.FloatSexpVector([value]))
        elif isinstance(value, (list, tuple)):
            items.append(
                ri.StrSexpVector([str(v) for v in value])
                if any(isinstance(v, str) for v in value)
                else ri.FloatSexpVector([float(v) for v in value])
            )
        else:
            items.append(ri.StrSexpVector([str(value)]))
    out = ri.ListSexpVector(items)
    out.do_slot_assign("names", ri.StrSexpVector(list(params)))
    return out


def call(
    script: Path | str,
    function: str,
    tables: dict[str, pd.DataFrame],
    params: dict[str, Any],
    produces: list[str],
) -> dict[str, pd.DataFrame]:
    """Run ``function(tables, params)`` from an R script; return its data.frames by name."""
    ri = _r()
    _R_MESSAGES.clear()
    fn = _load_function(str(script), function)
    started = time.perf_counter()
    r_tables = ri.ListSexpVector([to_r(t) for t in tables.values()])
    r_tables.do_slot_assign("names", ri.StrSexpVector(list(tables)))
    started = _timed("pandas_to_r", started)
    try:
        result = _caller()(fn, r_tables, _params_to_r(params), ri.StrSexpVector([function]))
    except Exception as exc:
        raise ModelRunError(f"{script}: {function}() failed in R: {_r_error(exc)}") from None
    started = _timed("r", started)
    try:
        return _results(script, function, result, produces)
    finally:
        _timed("r_to_pandas", started)


def _results(
    script: Path | str, function: str, result: Any, produces: list[str]
) -> dict[str, pd.DataFrame]:
    """The function's data.frame(s) by output name, converted to pandas."""
    if "data.frame" in set(getattr(result, "rclass", [])):
        if len(produces) != 1:
            raise ModelRunError(
                f"{script}: {function}() returned one data.frame, but the step "
                f"produces {produces}; return a named list"
            )
        return {produces[0]: from_r(result)}
    names = [str(n) for n in result.do_slot("names")]
    missing = [p for p in produces if p not in names]
    if missing:
        raise ModelRunError(f"{script}: {function}() returned {names}, missing {missing}")
    return {n: from_r(result[names.index(n)]) for n in produces}


def grouped_worker(
    script: str, function: str, params_json: str, table: str, output: str, columns: list[str]
):
    """A picklable function for ``applyInPandas``: R runs inside each Python worker."""

    def apply(pdf: pd.DataFrame) -> pd.DataFrame:
        out = call(script, function, {table: pdf}, json.loads(params_json), [output])[output]
        missing = [c for c in columns if c not in out.columns]
        if missing:
            raise ModelRunError(f"{script}: {function}() result lacks column(s) {missing}")
        _log_timings(len(pdf))
        return out[columns]

    return apply


PROFILE_ENV = "HARNESS_R_PROFILE"


def _log_timings(rows: int) -> None:
    """In a Spark worker, where the driver cannot see :data:`_TIMINGS`: append this group's
    split as a JSON line to ``$HARNESS_R_PROFILE/<pid>.jsonl`` when that folder is set (the
    benchmark sets it; nothing is written otherwise)."""
    folder = os.environ.get(PROFILE_ENV)
    timings = take_timings()
    if not folder:
        return
    with open(Path(folder) / f"{os.getpid()}.jsonl", "a") as handle:
        handle.write(json.dumps({"rows": rows, **timings}) + "\n")
