"""Tables between Arrow and R, column by column, without a Python object per value.

Spark hands tables over as Arrow (``DataFrame.toArrow`` on the driver, ``applyInArrow`` in
the executors), so the R bridge converts Arrow buffers straight into R vectors and back:
numbers and dates as one memory copy; strings as their distinct values plus one index per
row, expanded by R (``levels[index]``) and on the way back collapsed by R
(``unique``/``match``) and expanded by Arrow, so that only the distinct strings cross one by
one. Pandas is not on the way: it made Python objects of every date and string (for
propensity_glm, 7.9M rows, that was more time than R's own work).

How each Arrow type arrives in R (docs/r-steps.md): integers as ``integer`` when they fit
32 bits and have no NULL, otherwise ``numeric`` (R has no 64-bit integer; R's integer NA
would need a sentinel); floating point and DECIMAL as ``numeric``; booleans as ``logical``;
dates as ``Date``; timestamps as ``POSIXct`` in UTC; strings as ``character``; a column of
NullType as ``logical`` NA. NULL is R's ``NA`` of the column's type (``NaN`` stays ``NaN``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.rsession import r

NA_INT = np.iinfo(np.int32).min
_NA_REAL_BITS = np.uint64(0x7FF00000000007A2)
_NA_REAL_LOW = np.uint64(1954)  # R's NA_real_ is a NaN whose low word is 1954


def _classed(obj: Any, classes: list[str]) -> Any:
    """Set the class through R's own ``class<-``: setting the attribute directly misses
    R's internal object bit, and nrow(), x[i, ] and Date subsetting then misbehave."""
    ri = r()
    return ri.baseenv["class<-"](obj, ri.StrSexpVector(classes))


def _doubles(values: np.ndarray, nulls: np.ndarray) -> Any:
    arr = np.ascontiguousarray(values, dtype=np.float64).copy()
    arr.view(np.uint64)[nulls] = _NA_REAL_BITS
    return r().FloatSexpVector.from_memoryview(arr.data)


# Above this many distinct strings, they cross as one string that R cuts up (substring).
_BULK = 2000


def _bulk_to_r(values: pa.Array) -> Any | None:
    """Many distinct ASCII strings as one R string cut by R's vectorised ``substring`` at
    Arrow's offsets (one C loop instead of a Python call per value); None if not ASCII."""
    ri = r()
    values = pa.concat_arrays([values.cast(pa.string())])  # no offset, no slicing
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[: len(values) + 1]
    data = values.buffers()[2]
    raw = data.to_pybytes()[: offsets[-1]] if data is not None else b""
    if not raw.isascii() or b"\0" in raw:
        return None
    first = (offsets[:-1] + 1).astype(np.int32)
    last = offsets[1:].astype(np.int32)
    return ri.baseenv["substring"](
        ri.StrSexpVector([raw.decode("ascii")]),
        ri.IntSexpVector.from_memoryview(first.data),
        ri.IntSexpVector.from_memoryview(last.data),
    )


def _strings(arr: pa.Array) -> Any:
    """Distinct values (in bulk when many), then R indexes them (NA index: NA_character_)."""
    ri = r()
    encoded = pc.dictionary_encode(arr)
    levels = _bulk_to_r(encoded.dictionary) if len(encoded.dictionary) > _BULK else None
    if levels is None:
        levels = ri.StrSexpVector([str(v) for v in encoded.dictionary.to_pylist()])
    index = pc.add(encoded.indices.cast(pa.int32()), 1).fill_null(NA_INT)
    data = np.ascontiguousarray(index.to_numpy(zero_copy_only=False), dtype=np.int32)
    return ri.baseenv["["](levels, ri.IntSexpVector.from_memoryview(data.data))


def to_r_vector(column: pa.ChunkedArray | pa.Array) -> Any:
    """One Arrow column as an R vector (the mapping in the module docstring)."""
    ri = r()
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = arr.type
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_dictionary(kind):
        return to_r_vector(arr.dictionary_decode())
    if pa.types.is_null(kind):
        return ri.BoolSexpVector([ri.NA_Logical] * len(arr))
    if pa.types.is_boolean(kind):
        values = arr.fill_null(False).to_numpy(zero_copy_only=False).astype(np.int32)
        values[nulls] = NA_INT
        return ri.BoolSexpVector.from_memoryview(values.data)
    if pa.types.is_integer(kind):
        values = arr.fill_null(0).to_numpy(zero_copy_only=False)
        if not nulls.any() and (len(values) == 0 or np.abs(values.astype(np.int64)).max() < 2**31):
            return ri.IntSexpVector.from_memoryview(np.ascontiguousarray(values, np.int32).data)
        return _doubles(values, nulls)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # DECIMAL: double, as Hive hands DOUBLE to R scripts (strings would become factors)
        values = arr.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        return _doubles(values, nulls)
    if pa.types.is_date(kind):
        days = arr.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
        return _classed(_doubles(days, nulls), ["Date"])
    if pa.types.is_timestamp(kind):
        micros = arr.cast(pa.timestamp("us", kind.tz)).cast(pa.int64()).fill_null(0)
        vec = _doubles(micros.to_numpy(zero_copy_only=False) / 1e6, nulls)
        vec.do_slot_assign("tzone", ri.StrSexpVector(["UTC"]))
        return _classed(vec, ["POSIXct", "POSIXt"])
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _strings(arr)
    return _strings(pa.array([None if v is None else str(v) for v in arr.to_pylist()]))


def to_r(table: pa.Table) -> Any:
    """An Arrow table as an R data.frame (compact row names)."""
    ri = r()
    columns = ri.ListSexpVector([to_r_vector(table.column(i)) for i in range(table.num_columns)])
    columns.do_slot_assign("names", ri.StrSexpVector(list(table.column_names)))
    columns.do_slot_assign("row.names", ri.IntSexpVector([NA_INT, -table.num_rows]))
    return _classed(columns, ["data.frame"])


def _from_r_strings(distinct: Any, absent: np.ndarray) -> pa.Array:
    """R's distinct strings as an Arrow array (NA as ""): many of them as one string R
    pastes together, cut by Arrow at the byte lengths R counts."""
    ri = r()
    if len(distinct) <= _BULK:
        return pa.array(["" if a else str(v) for v, a in zip(distinct, absent, strict=True)])
    clean = ri.baseenv["ifelse"](ri.baseenv["is.na"](distinct), ri.StrSexpVector([""]), distinct)
    enc = ri.baseenv["enc2utf8"](clean)
    lengths = np.asarray(ri.baseenv["nchar"](enc, type="bytes").memoryview()).astype(np.int64)
    joined = str(ri.baseenv["paste0"](enc, collapse="")[0]).encode("utf-8")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(lengths), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(joined)]
    )


def _labels(values: pa.Array, index: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Rows from distinct values and a 0-based index (``missing``: NULL), built by Arrow."""
    dictionary = values.cast(pa.string())
    indices = pa.array(np.where(missing, 0, index).astype(np.int32), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()


def from_r_vector(vec: Any) -> pa.Array:
    """One R vector as an Arrow array (R's NA as NULL)."""
    ri = r()
    classes = set(vec.rclass) if hasattr(vec, "rclass") else set()
    if "factor" in classes:
        codes = np.asarray(vec.memoryview())
        levels = pa.array([str(v) for v in vec.do_slot("levels")] or [""], pa.string())
        return _labels(levels, codes - 1, codes == NA_INT)
    if vec.typeof == ri.RTYPES.REALSXP:
        arr = np.asarray(vec.memoryview()).copy()
        na = np.isnan(arr) & ((arr.view(np.uint64) & np.uint64(0xFFFFFFFF)) == _NA_REAL_LOW)
        if "Date" in classes:
            days = np.where(na, 0, np.floor(np.where(na, 0, arr))).astype(np.int32)
            return pa.array(days, pa.int32(), mask=na).cast(pa.date32())
        if "POSIXct" in classes:
            micros = np.round(np.where(na, 0, arr) * 1e6).astype(np.int64)
            return pa.array(micros, pa.int64(), mask=na).cast(pa.timestamp("us", "UTC"))
        return pa.array(arr, pa.float64(), mask=na)
    if vec.typeof == ri.RTYPES.INTSXP:
        arr = np.asarray(vec.memoryview())
        return pa.array(arr.astype(np.int32), pa.int32(), mask=arr == NA_INT)
    if vec.typeof == ri.RTYPES.LGLSXP:
        arr = np.asarray(vec.memoryview())
        return pa.array(arr == 1, pa.bool_(), mask=arr == NA_INT)
    if vec.typeof == ri.RTYPES.STRSXP:
        distinct = ri.baseenv["unique"](vec)
        index = np.asarray(ri.baseenv["match"](vec, distinct).memoryview()) - 1
        absent = np.asarray(ri.baseenv["is.na"](distinct).memoryview()) == 1
        missing = absent[index] if len(index) else np.zeros(0, dtype=bool)
        return _labels(_from_r_strings(distinct, absent), index, missing)
    raise TypeError(f"R returned a column of unsupported type {vec.typeof}")


def from_r(rdf: Any) -> pa.Table:
    """An R data.frame as an Arrow table."""
    names = [str(n) for n in rdf.do_slot("names")] if len(rdf) else []
    return pa.table({n: from_r_vector(rdf[i]) for i, n in enumerate(names)})


def conform(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """The columns ``schema`` names, in its order and types (R's doubles to BIGINT, its
    integers to DOUBLE ...); a missing column or a lossy cast is an error naming ``where``."""
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValueError(f"{where} result lacks column(s) {missing}")
    out = []
    for field in schema:
        try:
            out.append(table.column(field.name).cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"{where} column '{field.name}' ({table.column(field.name).type}) cannot be "
                f"{field.type}: {exc}"
            ) from None
    return pa.Table.from_arrays(out, schema=schema)
