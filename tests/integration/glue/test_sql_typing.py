"""The job's projections are SQL text (hubcurate/sqltext.py, coerce.py): quoting that survives
any name or value, and HubSpot's value formats typed as the curated tables promise."""
from pyspark.sql import types as T

from hubcurate import coerce
from hubcurate.sqltext import cast, ddl, ident, lit, named


def test_literals_identifiers_and_types_round_trip_through_spark_sql(spark):
    odd = ["it's", "back\\slash \\d", "`tick`", "ünïcode ✓", "a.b", "--", "x'); DROP"]
    row = spark.range(1).selectExpr(*[named(lit(v), f"c{i}") for i, v in enumerate(odd)]).first()
    assert list(row) == odd
    # a column named anything is one top-level column, never a nested field path
    df = spark.range(1).selectExpr(*[named(str(i), v) for i, v in enumerate(odd)])
    assert df.columns == odd
    assert df.selectExpr(*[ident(v) for v in reversed(odd)]).first() == \
        tuple(reversed(range(len(odd))))
    nested = T.StructType([
        T.StructField("a b", T.ArrayType(T.StructType([T.StructField("x`y", T.LongType())]))),
        T.StructField("m", T.MapType(T.StringType(), T.ArrayType(T.DoubleType()))),
        T.StructField("when", T.TimestampType()), T.StructField("d", T.DecimalType(12, 3))])
    assert spark.range(1).selectExpr(named(cast("NULL", nested), "v")).schema["v"].dataType \
        == nested
    assert ddl(nested).startswith("struct<`a b`:array<struct<`x``y`:bigint>>")


CASES = {  # kind: [(HubSpot's string, what the curated column holds)]
    "string": [("  Ada ", "Ada"), ("   ", None), (None, None)],
    "email": [(" Ada@Example.CO ", "ada@example.co"), ("not-an-email", None), ("a@b", None)],
    "domain": [("https://www.Example.com/path?q=1", "example.com"), ("example.org.", "example.org"),
               ("shop.example.net:8443", "shop.example.net"), ("localhost", None)],
    "timestamp": [("1700000000000", "2023-11-14 22:13:20"), ("2024-01-02T03:04:05Z",
                                                              "2024-01-02 03:04:05"),
                  ("2024-01-02 03:04:05", "2024-01-02 03:04:05"), ("soon", None), ("", None)],
    "date": [("2024-01-02T23:59:00Z", "2024-01-02"), ("1700000000000", "2023-11-14")],
    "bool": [("TRUE", True), ("no", False), ("1", True), ("maybe", None)],
    "double": [("1.5", 1.5), (" 2e3 ", 2000.0), ("n/a", None)],
    "long": [("42", 42), ("42.9", 42), ("x", None)],
    "multi": [("a; b;;c", ["a", "b", "c"]), ("", None)],
}


def _shown(kind: str, sql: str) -> str:
    """Timestamps as text in the session's time zone (UTC), so the comparison is exact."""
    return f"date_format({sql}, 'yyyy-MM-dd HH:mm:ss')" if kind == "timestamp" else \
        f"CAST({sql} AS string)" if kind == "date" else sql


def test_typers_read_hubspot_formats_and_count_what_did_not_type(spark):
    for kind, cases in CASES.items():
        values = [v for v, _ in cases]
        df = spark.createDataFrame([(v,) for v in values], "v string")
        got = [tuple(r) for r in df.selectExpr(_shown(kind, coerce.typed("v", kind)),
                                               coerce.failed("v", kind)).collect()]
        assert got == [(want, want is None and bool((v or "").strip()))
                       for v, want in cases], kind
