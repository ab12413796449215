"""Typing and normalisation of HubSpot's string property values (Spark Column expressions).

Values reach here as strings: HubSpot sends strings, and where the connector declared a type
Airbyte wrote a typed Parquet value, which ingest casts back to string, so both shapes of the
same property (drift between files) type the same way."""
from pyspark.sql import Column
from pyspark.sql import functions as F


def blank_null(c: Column) -> Column:
    t = F.trim(c)
    return F.when(t == "", F.lit(None)).otherwise(t)


def to_timestamp(c: Column) -> Column:
    s = blank_null(c)
    # HubSpot datetimes: ISO-8601 or epoch milliseconds; Spark's cast handles ISO and the
    # "yyyy-MM-dd HH:mm:ss" text a typed timestamp casts to.
    return F.when(s.rlike(r"^\d{11,13}$"), F.timestamp_millis(s.cast("long"))) \
        .otherwise(s.cast("timestamp"))


def to_date(c: Column) -> Column:
    return F.to_date(to_timestamp(c))


def to_bool(c: Column) -> Column:
    s = F.lower(blank_null(c))
    return F.when(s.isin("true", "1", "yes"), True).when(s.isin("false", "0", "no"), False)


def to_double(c: Column) -> Column:
    return blank_null(c).cast("double")


def to_long(c: Column) -> Column:
    s = blank_null(c)
    return F.coalesce(s.cast("long"), s.cast("double").cast("long"))


def to_email(c: Column) -> Column:
    s = F.lower(blank_null(c))
    return F.when(s.rlike(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), s)


def to_domain(c: Column) -> Column:
    s = F.lower(blank_null(c))
    for pattern in (r"^[a-z][a-z0-9+.-]*://", r"^www\.", r"[/?#:].*$", r"\.$"):
        s = F.regexp_replace(s, pattern, "")
    return F.when(s.contains("."), s)


def to_multi(c: Column) -> Column:
    """Multi-select enumerations: HubSpot joins the options with ';'."""
    parts = F.transform(F.split(blank_null(c), ";"), lambda x: F.trim(x))
    return F.filter(parts, lambda x: x != "")


TYPERS = {"string": blank_null, "email": to_email, "domain": to_domain, "timestamp": to_timestamp,
          "date": to_date, "bool": to_bool, "double": to_double, "long": to_long,
          "multi": to_multi}


def typed(c: Column, kind: str) -> Column:
    return TYPERS[kind](c)


def failed(c: Column, kind: str) -> Column:
    """A non-empty value that did not survive typing (counted in the run report)."""
    return blank_null(c).isNotNull() & typed(c, kind).isNull()
