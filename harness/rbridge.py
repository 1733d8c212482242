"""Calling R models through rpy2, with tables crossing as Arrow (:mod:`harness.rconvert`).

An R model is a script defining a function ``f(tables, params)``: ``tables`` is a named
list of data.frames, ``params`` a named list; it returns a data.frame or a named list of
data.frames. Everything it prints (``print``, ``cat``, ``message``) and every warning it
raises is captured in order (:func:`harness.rsession.take_output`) for the run's step log,
and where the time went (converting to R, R's own work, converting back) is kept for
:func:`take_timings`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from harness import rconvert
from harness.errors import ModelRunError
from harness.rsession import MESSAGES, PROFILE_ENV, r

# Seconds spent since the last take_timings(): "to_r", "r", "from_r".
_TIMINGS: dict[str, float] = {}

# Calls the model's function so that each warning is written to the console when raised
# (embedded R would otherwise keep them for a top level that never prints them). ``setup``
# (the legacy platform's R code, e.g. the pre-3.6 sampler) runs first, its warnings (R warns
# that the old sampler is non-uniform) not the model's; the random number
# generator's kinds it may change are put back afterwards, so the next step or model in
# this process starts from today's R.
_CALL = """function(fn, tables, params, name, setup) {
  kinds <- RNGkind()
  on.exit({
    now <- RNGkind()
    if (now[2] != kinds[2]) RNGkind(normal.kind = kinds[2])
    if (now[3] != kinds[3]) suppressWarnings(RNGkind(sample.kind = kinds[3]))
  })
  for (code in setup) suppressWarnings(eval(parse(text = code), envir = globalenv()))
  withCallingHandlers(
  fn(tables, params),
  warning = function(w) {
    call <- conditionCall(w)
    text <- if (is.null(call)) "" else deparse(call, nlines = 1L)
    if (startsWith(text, "fn(")) text <- paste0(name, substring(text, 3))
    where <- if (nzchar(text)) paste0(" in ", text) else ""
    cat("Warning", where, ": ", conditionMessage(w), "\n", sep = "", file = stderr())
    invokeRestart("muffleWarning")
  })
}"""


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


# ------------------------------------------------------------------------------ calling


def _version(script: str) -> tuple[int, int]:
    """What tells an edited script from the one sourced before: its mtime and size."""
    try:
        stat = os.stat(script)
    except OSError:
        return (0, 0)  # sys.source then names the missing file
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load_function(script: str, function: str, version: tuple[int, int]) -> Any:
    """Source a script into its own environment once per process and version of the file
    (an edited script is sourced again); return the function."""
    ri = r()
    env = ri.evalr("new.env(parent = globalenv())")
    try:
        ri.baseenv["sys.source"](script, envir=env)
    except Exception as exc:
        raise ModelRunError(f"{script}: R could not source the script: {_r_error(exc)}") from None
    if function not in list(env.keys()):
        raise ModelRunError(f"{script}: defines no function '{function}'")
    return env[function]


def _r_error(exc: BaseException) -> str:
    text = "".join(MESSAGES[-5:]).strip() or str(exc)
    return " ".join(text.split())[:500]


@lru_cache(maxsize=1)
def _caller() -> Any:
    return r().evalr(_CALL)


def _params_to_r(params: dict[str, Any]) -> Any:
    ri = r()
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
    tables: dict[str, pa.Table],
    params: dict[str, Any],
    produces: list[str],
    setup: tuple[str, ...] = (),
) -> dict[str, pa.Table]:
    """Run ``function(tables, params)`` from an R script; return its data.frames by name.
    ``setup``: R code run just before (the legacy platform's R settings), undone after."""
    ri = r()
    MESSAGES.clear()
    fn = _load_function(str(script), function, _version(str(script)))
    started = time.perf_counter()
    r_tables = ri.ListSexpVector([rconvert.to_r(t) for t in tables.values()])
    r_tables.do_slot_assign("names", ri.StrSexpVector(list(tables)))
    started = _timed("to_r", started)
    try:
        result = _caller()(
            fn,
            r_tables,
            _params_to_r(params),
            ri.StrSexpVector([function]),
            ri.StrSexpVector(list(setup)),
        )
    except Exception as exc:
        where = f" (after the legacy settings {'; '.join(setup)})" if setup else ""
        raise ModelRunError(f"{script}: {function}() failed in R{where}: {_r_error(exc)}") from None
    started = _timed("r", started)
    try:
        return _results(script, function, result, produces)
    finally:
        _timed("from_r", started)


def _results(
    script: Path | str, function: str, result: Any, produces: list[str]
) -> dict[str, pa.Table]:
    """The function's data.frame(s) by output name, as Arrow tables."""
    if "data.frame" in set(getattr(result, "rclass", [])):
        if len(produces) != 1:
            raise ModelRunError(
                f"{script}: {function}() returned one data.frame, but the step "
                f"produces {produces}; return a named list"
            )
        return {produces[0]: _table(script, function, result)}
    names = [str(n) for n in result.do_slot("names")]
    missing = [p for p in produces if p not in names]
    if missing:
        raise ModelRunError(f"{script}: {function}() returned {names}, missing {missing}")
    return {n: _table(script, function, result[names.index(n)]) for n in produces}


def _table(script: Path | str, function: str, rdf: Any) -> pa.Table:
    if "data.frame" not in set(getattr(rdf, "rclass", [])):
        raise ModelRunError(
            f"{script}: {function}() returned {list(getattr(rdf, 'rclass', []))}, not a data.frame"
        )
    try:
        return rconvert.from_r(rdf)
    except TypeError as exc:
        raise ModelRunError(f"{script}: {function}(): {exc}") from None


def grouped_worker(
    script: str,
    function: str,
    params_json: str,
    table: str,
    output: str,
    schema: pa.Schema,
    setup: tuple[str, ...] = (),
) -> Callable[[pa.Table], pa.Table]:
    """A picklable function for ``applyInArrow``: R runs inside each Python worker on one
    group (after ``setup``, as :func:`call`); ``schema`` is the output's Arrow schema, each
    result is cast to."""

    def apply(group: pa.Table) -> pa.Table:
        params = json.loads(params_json)
        out = call(script, function, {table: group}, params, [output], setup)[output]
        try:
            conformed = rconvert.conform(out, schema, f"{script}: {function}()")
        except ValueError as exc:
            raise ModelRunError(str(exc)) from None
        _log_timings(group.num_rows)
        return conformed

    return apply


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
