"""Typing and normalisation of HubSpot's string property values, as Spark SQL expressions: each
function takes the SQL of a string value and returns the SQL of the typed one (a projection is
parsed in one py4j call, hubcurate/sqltext.py says why).

Values reach here as strings: HubSpot sends strings, and where the connector declared a type
Airbyte wrote a typed Parquet value, which ingest casts back to string, so both shapes of the
same property (drift between files) type the same way."""
from .sqltext import lit

_EPOCH_MS = lit(r"^[0-9]{11,13}$")
_EMAIL = lit(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN_JUNK = [lit(p) for p in (r"^[a-z][a-z0-9+.-]*://", r"^www\.", r"[/?#:].*$", r"\.$")]


def blank_null(x: str) -> str:
    """Trimmed; blank is null."""
    return f"nullif(trim({x}), '')"


def to_timestamp(x: str) -> str:
    s = blank_null(x)
    # HubSpot datetimes: ISO-8601 or epoch milliseconds; Spark's cast handles ISO and the
    # "yyyy-MM-dd HH:mm:ss" text a typed timestamp casts to.
    return (f"CASE WHEN {s} RLIKE {_EPOCH_MS} THEN timestamp_millis(CAST({s} AS BIGINT)) "
            f"ELSE CAST({s} AS TIMESTAMP) END")


def to_date(x: str) -> str:
    return f"to_date({to_timestamp(x)})"


def to_bool(x: str) -> str:
    s = f"lower({blank_null(x)})"
    return (f"CASE WHEN {s} IN ('true', '1', 'yes') THEN true "
            f"WHEN {s} IN ('false', '0', 'no') THEN false END")


def to_double(x: str) -> str:
    return f"CAST({blank_null(x)} AS DOUBLE)"


def to_long(x: str) -> str:
    s = blank_null(x)
    return f"coalesce(CAST({s} AS BIGINT), CAST(CAST({s} AS DOUBLE) AS BIGINT))"


def to_email(x: str) -> str:
    s = f"lower({blank_null(x)})"
    return f"CASE WHEN {s} RLIKE {_EMAIL} THEN {s} END"


def to_domain(x: str) -> str:
    s = f"lower({blank_null(x)})"
    for pattern in _DOMAIN_JUNK:
        s = f"regexp_replace({s}, {pattern}, '')"
    return f"CASE WHEN instr({s}, '.') > 0 THEN {s} END"


def to_multi(x: str) -> str:
    """Multi-select enumerations: HubSpot joins the options with ';'."""
    return (f"filter(transform(split({blank_null(x)}, ';'), _opt -> trim(_opt)), "
            f"_opt -> _opt != '')")


TYPERS = {"string": blank_null, "email": to_email, "domain": to_domain, "timestamp": to_timestamp,
          "date": to_date, "bool": to_bool, "double": to_double, "long": to_long,
          "multi": to_multi}


def typed(x: str, kind: str) -> str:
    return TYPERS[kind](x)


def failed(x: str, kind: str) -> str:
    """A non-empty value that did not survive typing (counted in the run report)."""
    return f"({blank_null(x)} IS NOT NULL AND {typed(x, kind)} IS NULL)"
