"""Spark SQL text for the job's projections: quoted identifiers, string literals, types.

Why text: every PySpark Column operation is a py4j round trip to the driver's JVM (~1 ms each
on a loaded 2-core machine, measured 2026-12-07), and a stream's projection was hundreds of
them (a cast, a field, a literal per property): ~1 s of a 4-5 s incremental run was spent
building plans. ``DataFrame.selectExpr`` parses a whole projection in one call."""
from __future__ import annotations

from pyspark.sql import types as T


def ident(name: str) -> str:
    """A column or field name as a quoted SQL identifier (any characters)."""
    return "`" + name.replace("`", "``") + "`"


def lit(value: str) -> str:
    """A Python string as a Spark SQL string literal (backslash escapes are on by default:
    ``spark.sql.parser.escapedStringLiterals`` false)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ddl(dtype: T.DataType) -> str:
    """A data type as DDL Spark parses back to the same type (``simpleString`` leaves struct
    field names unquoted)."""
    if isinstance(dtype, T.StructType):
        return "struct<" + ",".join(f"{ident(f.name)}:{ddl(f.dataType)}"
                                    for f in dtype.fields) + ">"
    if isinstance(dtype, T.ArrayType):
        return f"array<{ddl(dtype.elementType)}>"
    if isinstance(dtype, T.MapType):
        return f"map<{ddl(dtype.keyType)},{ddl(dtype.valueType)}>"
    return dtype.simpleString()


def cast(expr: str, dtype: T.DataType | str) -> str:
    return f"CAST({expr} AS {dtype if isinstance(dtype, str) else ddl(dtype)})"


def named(expr: str, name: str) -> str:
    return f"{expr} AS {ident(name)}"
