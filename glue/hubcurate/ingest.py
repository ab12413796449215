"""Raw Airbyte Parquet -> one fixed intermediate shape per record, whatever the file's schema.

Files of a stream are read together with mergeSchema (structs that differ between accounts
merge); if a column's type conflicts between files, Spark cannot merge them, so we fall back to
reading per account, then per file, and report the drift instead of failing the run."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from . import catalog, coerce, labels_snapshot
from .sqltext import cast, ident, lit, named

CHANGES = "array<struct<field:string,change:string,reason:string>>"
INTERMEDIATE = [
    ("hub_id", "string"), ("_source_stream", "string"), ("_file", "string"),
    ("_raw_id", "string"), ("_extracted_at", "timestamp"), ("_generation_id", "bigint"),
    ("_sync_id", "bigint"), ("_changes", CHANGES), ("id", "string"),
    ("created_at", "timestamp"), ("updated_at", "timestamp"), ("archived_at", "timestamp"),
    ("archived", "boolean"), ("props", "map<string,string>"),
    ("assoc", "map<string,array<string>>"), ("record_json", "string")]


def unrecognised(key: str) -> str | None:
    """Why a key under raw/ is not a raw file this job reads (None when it is one): reported
    in the run report, never silently skipped."""
    parts = key.split("/")
    if parse_key(key) or parts[0] != "raw" or parts[-1].startswith((".", "_")):
        return None  # hidden/marker files (in-flight uploads, _SUCCESS) are not data
    if labels_snapshot.manifest_key(key) or labels_snapshot.chunk_key(key):
        return None  # association labels, our reader's (hubcurate/association_labels.py)
    if len(parts) < 2 or not parts[1].isdigit():
        return "folder is not a numeric hub_id"
    if len(parts) != 4:
        return "not raw/<hub_id>/<stream>/<file>.parquet"
    if not parts[3].endswith(".parquet"):
        return "not a .parquet file"
    return "stream name is not letters, digits and _"


def stream_of(key: str) -> str | None:
    """The stream a raw file the job curates belongs to: a Parquet file's folder, or
    ``association_labels`` for our reader's manifests (processed_files, run_reports)."""
    parsed = parse_key(key)
    if parsed:
        return parsed[1]
    return labels_snapshot.STREAM if labels_snapshot.manifest_key(key) else None


def parse_key(key: str):
    """raw/<hub_id>/<stream>/<file>.parquet -> (hub_id, stream) or None."""
    parts = key.split("/")
    if len(parts) == 4 and parts[0] == "raw" and parts[1].isdigit() and ".." not in key \
            and parts[2].replace("_", "").isalnum() and parts[3].endswith(".parquet"):
        return parts[1], parts[2]
    return None


def _ts(df: DataFrame, *names: str) -> str:
    for n in names:
        if n in df.columns:
            dtype = df.schema[n].dataType
            if isinstance(dtype, (T.TimestampType, T.TimestampNTZType, T.DateType)):
                return cast(ident(n), "timestamp")
            if isinstance(dtype, T.NumericType):
                return f"timestamp_millis({cast(ident(n), 'bigint')})"
            return coerce.to_timestamp(cast(ident(n), "string"))
    return cast("NULL", "timestamp")


def _as_str(x: str, dtype) -> str:
    if isinstance(dtype, (T.StructType, T.ArrayType, T.MapType)):
        return f"to_json({x})"
    return cast(x, "string")


_NO_PROPS = cast("map()", "map<string,string>")


def _props(df: DataFrame) -> str:
    """The ``properties`` struct (or JSON) plus flattened ``properties_<name>`` root columns."""
    pairs, seen = [], set()
    if "properties" in df.columns:
        dtype = df.schema["properties"].dataType
        if isinstance(dtype, T.StructType):
            for f in dtype.fields:
                seen.add(f.name)
                pairs.append((f.name, _as_str(f"properties.{ident(f.name)}", f.dataType)))
    for f in df.schema.fields:
        name = f.name[len("properties_"):]
        if f.name.startswith("properties_") and name not in seen:
            pairs.append((name, _as_str(ident(f.name), f.dataType)))
    m = (f"map_from_arrays(array({', '.join(lit(k) for k, _ in pairs)}), "
         f"array({', '.join(v for _, v in pairs)}))") if pairs else _NO_PROPS
    if "properties" in df.columns and not isinstance(df.schema["properties"].dataType,
                                                     T.StructType):
        # an object without declared properties is a JSON string
        base = f"from_json({cast('properties', 'string')}, 'map<string,string>')"
        m = f"map_concat(coalesce({base}, {_NO_PROPS}), {m})"
    return f"map_filter({m}, (_k, _v) -> _v IS NOT NULL)"


def _assoc(df: DataFrame) -> str:
    pairs = []
    for n in catalog.ASSOCIATIONS:
        if n in df.columns:
            v = cast(ident(n), "array<string>") if isinstance(df.schema[n].dataType, T.ArrayType) \
                else f"from_json({cast(ident(n), 'string')}, 'array<string>')"
            pairs += [lit(n), v]
    if not pairs:
        return cast("NULL", "map<string,array<string>>")
    return f"map_filter(map({', '.join(pairs)}), (_k, _v) -> _v IS NOT NULL)"


def normalise(df: DataFrame, stream: str) -> DataFrame:
    """One projection, written as SQL text (one py4j call: hubcurate/sqltext.py)."""
    table = catalog.table_of(stream)
    data_cols = [c for c in df.columns if not c.startswith("_airbyte")]
    crm = catalog.kind_of(table, "properties" in df.columns) == "crm"
    record = f"to_json(struct({', '.join(map(ident, data_cols))}))" if data_cols else "'{}'"
    id_field = catalog.ID_FIELD.get(table, "id")
    meta = "_airbyte_meta" in df.columns

    def col(name: str, otherwise: str = "NULL") -> str:
        return ident(name) if name in df.columns else otherwise
    exprs = {
        "hub_id": "regexp_extract(input_file_name(), '/raw/([^/]+)/', 1)",
        "_source_stream": lit(stream),
        "_file": "input_file_name()",
        "_raw_id": col("_airbyte_raw_id"),
        "_extracted_at": _ts(df, "_airbyte_extracted_at"),
        "_generation_id": col("_airbyte_generation_id", "0"),
        "_sync_id": "_airbyte_meta.sync_id" if meta else "NULL",
        "_changes": "_airbyte_meta.changes" if meta else "NULL",
        "id": cast(ident(id_field), "string") if id_field in df.columns else f"sha2({record}, 256)",
        "created_at": _ts(df, "createdAt", "created_at", "created"),
        "updated_at": _ts(df, "updatedAt", "updated_at", "lastUpdated", "updated"),
        "archived_at": _ts(df, "archivedAt"),
        "archived": col("archived"),
        "props": _props(df) if crm else "NULL",
        "assoc": _assoc(df) if crm else "NULL",
        "record_json": "NULL" if crm else record}
    types = dict(INTERMEDIATE)
    return df.selectExpr(*[named(cast(exprs[n], types[n]), n) for n, _ in INTERMEDIATE])


def _is_merge_error(e: Exception) -> bool:
    text = str(e)
    return any(s in text for s in ("CANNOT_MERGE", "Failed to merge", "Failed merging",
                                   "incompatible", "cannot be converted",
                                   "PARQUET_CONVERSION", "Parquet column cannot"))


def is_unreadable(e: Exception) -> bool:
    """Spark's errors for a file that is not (or no longer) valid Parquet."""
    text = str(e)
    return any(s in text for s in ("CANNOT_READ_FILE", "FAILED_READ_FILE", "is not a Parquet file",
                                   "Could not read footer", "can not read class",
                                   "expected magic number", "corrupt",
                                   "Encountered error while reading file"))


def find_unreadable(spark: SparkSession, by_stream: dict[str, dict[str, list[str]]]) -> dict:
    """{path: reason} of the files whose pages cannot be read (their footer could): each file
    read in full on its own. Only after a read failed, so its cost is paid rarely."""
    bad = {}
    for stream, by_hub in by_stream.items():
        for p in (p for ps in by_hub.values() for p in ps):
            try:
                normalise(spark.read.parquet(p), stream).write.format("noop").mode(
                    "overwrite").save()
            except Exception as e:
                if not is_unreadable(e):
                    raise
                bad[p] = "unreadable Parquet data: " + _root_cause(e)
    return bad


def read_stream(spark: SparkSession, paths_by_hub: dict[str, list[str]], stream: str,
                drift: list, unreadable=None):
    """Read one stream's new files -> (intermediate rows or None, whether it has
    ``properties``). Schema conflicts degrade to smaller reads, never fail the run; so does a
    file Spark cannot read: it is handed to ``unreadable(path, reason)`` and left out. Both
    raise at schema inference (footers are read then), before anything is written."""
    everything = [p for ps in paths_by_hub.values() for p in ps]
    has_props = False

    def attempt(paths):
        nonlocal has_props
        df = spark.read.option("mergeSchema", "true").parquet(*paths)
        has_props = has_props or "properties" in df.columns
        return normalise(df, stream)

    def degradable(e):
        if _is_merge_error(e):
            return True
        return unreadable is not None and is_unreadable(e)

    try:
        return attempt(everything), has_props
    except Exception as e:
        if not degradable(e):
            raise
        if _is_merge_error(e):
            drift.append({"event": "type_conflict", "stream": stream,
                          "hub_ids": sorted(paths_by_hub)})
    parts = []
    for hub, paths in paths_by_hub.items():
        try:
            parts.append(attempt(paths))
            continue
        except Exception as e:
            if not degradable(e):
                raise
            if _is_merge_error(e):
                drift.append({"event": "type_conflict_within_account", "stream": stream,
                              "hub_id": hub, "files": len(paths)})
        for p in paths:
            try:
                parts.append(attempt([p]))
            except Exception as e:
                if unreadable is None or not is_unreadable(e):
                    raise
                unreadable(p, "unreadable Parquet: " + _first_line(e))
    if not parts:
        return None, has_props
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out, has_props


def _root_cause(e: Exception) -> str:
    """The JVM's innermost "Caused by:" (e.g. a thrift error in a page header), short."""
    causes = [x.strip()[len("Caused by:"):].strip() for x in str(e).splitlines()
              if x.strip().startswith("Caused by:")]
    if not causes:
        return _first_line(e)
    name, _, message = causes[-1].partition(":")
    return f"{name.rsplit('.', 1)[-1]}:{message}"[:300]


_MARKERS = ("Encountered error while reading file", "CANNOT_READ_FILE", "FAILED_READ_FILE",
            "is not a Parquet file", "Could not read footer", "can not read class", "corrupt")


def _first_line(e: Exception) -> str:
    """The line that says what is wrong (Py4J errors start with a generic one)."""
    lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()] or [type(e).__name__]
    return next((x for x in lines if any(m in x for m in _MARKERS)), lines[0])[:300]
