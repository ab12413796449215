"""Small DataFrames of rows the driver holds (bookkeeping rows, a few generations), built in the
JVM: each chunk of rows is one JSON string literal that ``from_json`` parses in one task.

``spark.createDataFrame(list)`` parallelises the rows as a Python RDD: every one of its tasks
(``spark.default.parallelism`` of them) starts a Python worker to unpickle them, which cost a
run's two bookkeeping appends ~1 s of a 8 s incremental run and ~3 s of a full run (Spark's
event log: tasks of 0.2-0.9 s with 0.01 s of JVM CPU). One task also means one file per
partition of an append, as before (Iceberg's hash distribution gathered them)."""
from __future__ import annotations

import json

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .sqltext import cast, ident, named

CHUNK = 10_000  # rows per literal: a few MB at most, shipped once with the task


def _plain(v, dtype):
    """A Python value as from_json reads it back into ``dtype`` (structs as objects)."""
    if v is None:
        return None
    if isinstance(dtype, T.StructType):
        values = v.values() if isinstance(v, dict) else v
        return {f.name: _plain(x, f.dataType) for f, x in zip(dtype.fields, values, strict=True)}
    if isinstance(dtype, T.ArrayType):
        return [_plain(x, dtype.elementType) for x in v]
    if isinstance(dtype, T.MapType):
        return {str(k): _plain(x, dtype.valueType) for k, x in v.items()}
    if isinstance(dtype, T.TimestampType):  # as createDataFrame reads it (naive: local time)
        return T.TimestampType().toInternal(v)
    if isinstance(dtype, (T.DateType, T.TimestampNTZType, T.DecimalType, T.BinaryType)):
        raise TypeError(f"local_frame: {dtype.simpleString()} is not supported")
    return v


def _carrier(dtype):
    """``dtype`` with timestamps as bigint microseconds (JSON has no timestamp)."""
    if isinstance(dtype, T.StructType):
        return T.StructType([T.StructField(f.name, _carrier(f.dataType)) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(_carrier(dtype.elementType))
    if isinstance(dtype, T.MapType):
        return T.MapType(dtype.keyType, _carrier(dtype.valueType))
    return T.LongType() if isinstance(dtype, T.TimestampType) else dtype


def local_frame(spark, rows: list, schema: str) -> DataFrame:
    """``rows`` (tuples in the order of ``schema``, a DDL string such as ``"a string, b
    bigint"``) as a DataFrame of that schema, the same as ``spark.createDataFrame(rows,
    schema)`` gives (timestamps only as top-level columns)."""
    st = T._parse_datatype_string(schema)
    assert isinstance(st, T.StructType)
    carrier = T.ArrayType(_carrier(st))
    stamps = {f.name for f in st.fields if isinstance(f.dataType, T.TimestampType)}
    cols = [named(f"timestamp_micros(r.{ident(f.name)})" if f.name in stamps
                  else cast(f"r.{ident(f.name)}", f.dataType), f.name) for f in st.fields]
    parts = []
    for i in range(0, max(len(rows), 1), CHUNK):
        text = json.dumps([_plain(r, st) for r in rows[i:i + CHUNK]])
        parts.append(spark.range(1, numPartitions=1).select(
            F.explode(F.from_json(F.lit(text), carrier)).alias("r")).selectExpr(*cols))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out
