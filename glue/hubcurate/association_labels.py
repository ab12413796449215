"""Association labels -> the Iceberg table ``association_labels`` (the reader's snapshots:
hubcurate/labels_snapshot.py; glue/README.md, "Association labels").

Grain: one row per (hub_id, from_object_type, from_id, to_object_type, to_id, type_id), with
category, label (null for HubSpot's unlabelled types), the snapshot_id it came from and when it
was curated; partitioned by hub_id like every table.

A run takes each account's new manifests (key + ETag not in processed_files), checks them
(labels_snapshot.problems, then every chunk read in full with Spark's JSON reader on an
explicit schema: per pair the lines must be ``records``, every line parse, carry both ids and a
type id, and name the pair of its folder). A snapshot that fails is quarantined with the reason
like an unreadable Parquet file; the other snapshots and accounts go on. For each pair a good
snapshot lists, the account's rows of that pair become the snapshot's (the newest new snapshot
listing the pair wins; a manifest older than the newest curated for the account is skipped and
recorded, so it never undoes a newer one).

One commit per run: the new content of the touched accounts (their kept pairs read back from
the table, plus the snapshots' rows) goes in with Tables.replace's ``overwrite(hub_id IN
(...))``, the same partition-scoped overwrite as the entity tables. Not a row filter on the
pair: Iceberg refuses it ("Cannot delete file where some, but not all, rows match filter"), a
file of the hub_id partition holding all its pairs. Not MERGE ... WHEN NOT MATCHED BY SOURCE
(one commit too): its delete clause sees only the target, so the replaced pairs would be a
literal list in the SQL (glue/README.md, "Association labels", says what was tried)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import labels_snapshot as ls

TABLE = ls.STREAM
LINE = T.StructType([T.StructField(n, T.StringType()) for n in (
    "from_object_type", "from_id", "to_object_type", "to_id", "category")]
    + [T.StructField("type_id", T.IntegerType()), T.StructField("label", T.StringType()),
       T.StructField("_corrupt", T.StringType())])
COLUMNS = ("hub_id string, from_object_type string, from_id string, to_object_type string, "
           "to_id string, category string, type_id int, label string, snapshot_id string, "
           "curated_at timestamp")
GRAIN = ["hub_id", "from_object_type", "from_id", "to_object_type", "to_id", "type_id"]
_KEY = r"(raw/[0-9]+/association_labels/.+)$"  # a chunk's key in input_file_name()
# Spark's errors for a chunk that is not (whole) gzip: read as failure, never as fewer lines
_UNREADABLE = ("EOFException", "Unexpected end of", "Not in GZIP format", "ZipException",
               "incorrect header check", "invalid", "CANNOT_READ_FILE", "FAILED_READ_FILE",
               "corrupt")


@dataclass
class Plan:
    """What a run does with the labels: ``rows`` the new content of accounts ``hubs`` (None:
    nothing to commit), ``files``/``per_file`` the manifests to record in processed_files
    (curated and skipped; {hub: {key: (size, etag)}}, {key: {"records": n}})."""
    rows: DataFrame | None = None
    hubs: list[str] = field(default_factory=list)
    files: dict = field(default_factory=dict)
    per_file: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)  # {hub: [snapshot ids curated]}
    cached: list = field(default_factory=list)


def ensure_table(spark, tables) -> None:
    """The table exists (empty) from the first run on, so the analyst bridges that join it
    are created before any account has a snapshot (Athena checks a view's tables)."""
    if not tables.exists(TABLE):
        from .iceberg import TABLE_PROPERTIES
        props = ", ".join(f"'{k}'='{v}'" for k, v in TABLE_PROPERTIES.items())
        spark.sql(f"CREATE TABLE IF NOT EXISTS {tables.name(TABLE)} ({COLUMNS}) USING iceberg "
                  f"PARTITIONED BY (hub_id) TBLPROPERTIES ({props})")


def prepare(spark, store, tables, listing: dict, processed: dict, hold, report: dict) -> Plan:
    """Everything before the commit: choose, check, read. ``listing``: {hub: {key: (size,
    etag)}} of the accounts' association_labels/ folders (job.find_new); ``processed``: {hub:
    {(key, etag)}} from processed_files; ``hold(hub, key, size, etag, reason)`` quarantines a
    manifest. Skipped manifests go into ``report["drift"]`` as ``association_labels_skipped``."""
    from . import quarantine
    plan, manifests = Plan(), {}
    for hub, keys in sorted(listing.items()):
        fresh, skipped = ls.choose(keys, processed.get(hub, set()),
                                   quarantine.load(store, hub)["files"] if any(
                                       ls.manifest_key(k) for k in keys) else {})
        for key, newest in skipped:
            _record(plan, hub, key, keys[key], 0)
            report["drift"].append({"event": "association_labels_skipped", "stream": TABLE,
                                    "hub_id": hub, "snapshot_id": ls.manifest_key(key)[1],
                                    "newest_curated": newest})
        for key in fresh:
            try:
                m = store.get_json(key)
            except ValueError as e:
                m, why = None, f"manifest is not JSON: {str(e)[:200]}"
            else:
                why = ls.problems(m, key, keys)
            if why:
                hold(hub, key, *keys[key], why)
            else:
                manifests[(hub, key)] = m
    if not manifests:
        return plan
    lines, bad = _read(spark, store, manifests)
    for (hub, key), why in bad.items():
        hold(hub, key, *listing[hub][key], why)
        del manifests[(hub, key)]
    if not manifests:
        lines.unpersist()
        return plan
    plan.cached.append(lines)
    winners: dict[tuple[str, str, str], str] = {}  # (hub, from, to) -> snapshot_id, newest
    for (hub, key), m in sorted(manifests.items(), key=lambda kv: ls.manifest_key(kv[0][1])[1]):
        snap = m["snapshot_id"]
        _record(plan, hub, key, listing[hub][key], sum(p["records"] for p in m["pairs"]))
        plan.snapshots.setdefault(hub, []).append(snap)
        for p in m["pairs"]:
            winners[(hub, p["from"], p["to"])] = snap
    plan.hubs = sorted({h for h, _, _ in winners})
    plan.rows = _content(spark, tables, lines, winners, plan.hubs)
    return plan


def _record(plan: Plan, hub: str, key: str, version: tuple, records: int) -> None:
    plan.files.setdefault(hub, {})[key] = version
    plan.per_file[key] = {"records": records}


def _lines(spark, paths: list[str]) -> DataFrame:
    """The chunks' lines, each with its chunk's key, hub and snapshot (from the key: the
    manifest was checked to be the folder's)."""
    key = F.regexp_extract(F.input_file_name(), _KEY, 1)
    return spark.read.schema(LINE).option("mode", "PERMISSIVE") \
        .option("columnNameOfCorruptRecord", "_corrupt").json(paths) \
        .withColumn("_key", key) \
        .withColumn("hub_id", F.regexp_extract("_key", r"^raw/([0-9]+)/", 1)) \
        .withColumn("snapshot_id", F.regexp_extract("_key", r"^raw/[0-9]+/[a-z_]+/([^/]+)/", 1)) \
        .withColumn("_pair", F.regexp_extract("_key", r"/([a-z_]+__[a-z_]+)/[^/]+$", 1))


def _counts(df: DataFrame) -> dict[str, tuple[int, int]]:
    """{chunk key: (lines, bad lines)}: a bad line did not parse, lacks an id or the type id,
    or names another pair than its folder's (so a chunk can never write another pair's rows)."""
    bad = (F.col("_corrupt").isNotNull() | F.col("from_id").isNull() | F.col("to_id").isNull()
           | F.col("type_id").isNull()
           | (F.concat_ws("__", "from_object_type", "to_object_type") != F.col("_pair")))
    return {r._key: (r.n, r.bad) for r in df.groupBy("_key").agg(
        F.count(F.lit(1)).alias("n"), F.sum(bad.cast("int")).alias("bad")).collect()}


def _read(spark, store, manifests: dict) -> tuple[DataFrame, dict]:
    """(every good snapshot's lines, cached; {(hub, key): why} of the bad ones). All chunks in
    one read; if one cannot be read (a truncated gzip), each snapshot is read on its own so
    only the bad ones are set aside."""
    def paths(ms):
        return [store.path(c) for m in ms for p in m["pairs"] for c in p["chunks"]]
    bad: dict = {}

    def attempt(ms):
        ps = paths(ms)
        if not ps:
            return spark.createDataFrame([], _LINES_SCHEMA), {}
        df = _lines(spark, ps).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            return df, _counts(df)
        except Exception as e:
            df.unpersist()
            if not any(s in str(e) for s in _UNREADABLE):
                raise
            raise _Unreadable(_first_line(e)) from e
    try:
        df, counts = attempt(list(manifests.values()))
    except _Unreadable:
        good = {}
        for k, m in manifests.items():
            try:
                attempt([m])[0].unpersist()
                good[k] = m
            except _Unreadable as e:
                bad[k] = f"a chunk is not readable gzip JSON Lines: {e}"
        df, counts = attempt(list(good.values()))
    for k, m in manifests.items():
        if k not in bad:
            why = _mismatch(m, counts)
            if why:
                bad[k] = why
    return df, bad


def _mismatch(manifest: dict, counts: dict) -> str | None:
    for p in manifest["pairs"]:
        got = [counts.get(c, (0, 0)) for c in p["chunks"]]  # a chunk of no lines has no row
        lines, wrong = sum(n for n, _ in got), sum(b or 0 for _, b in got)
        if wrong:
            return f"{p['from']} -> {p['to']}: {wrong} line(s) unreadable or without ids"
        if lines != p["records"]:
            return f"{p['from']} -> {p['to']}: {lines} lines, the manifest says {p['records']}"
    return None


def _content(spark, tables, lines: DataFrame, winners: dict, hubs: list[str]) -> DataFrame:
    """The accounts' new rows: each replaced pair from its winning snapshot, every other pair
    as the table has it. Deduplicated on the grain (a type read twice, on two pages)."""
    won = spark.createDataFrame([(h, f, t, s) for (h, f, t), s in sorted(winners.items())],
                                "hub_id string, from_object_type string, to_object_type string, "
                                "snapshot_id string")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    new = lines.join(F.broadcast(won), ["hub_id", "from_object_type", "to_object_type",
                                        "snapshot_id"]) \
        .groupBy(*GRAIN).agg(F.max("category").alias("category"), F.max("label").alias("label"),
                             F.max("snapshot_id").alias("snapshot_id")) \
        .withColumn("curated_at", F.lit(now).cast("timestamp"))
    names = [c.split()[0] for c in COLUMNS.split(", ")]
    current = tables.read(TABLE, hubs)
    if current is not None:
        kept = current.join(F.broadcast(won.drop("snapshot_id")),
                            ["hub_id", "from_object_type", "to_object_type"], "left_anti")
        new = new.select(*names).unionByName(kept.select(*names))
    return new.select(*names).repartition("hub_id")


class _Unreadable(Exception):
    pass


_LINES_SCHEMA = (", ".join(f"{f.name} {f.dataType.simpleString()}" for f in LINE.fields)
                 + ", _key string, hub_id string, snapshot_id string, _pair string")


def _first_line(e: Exception) -> str:
    from .ingest import _first_line as first
    return first(e)
