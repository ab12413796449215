"""What the job remembers between runs, as Iceberg tables in the ``<database>_ops`` namespace
of the curated tables' catalog (not one JSON object per account):

``processed_files``: one row per raw file version a run curated (hub_id, stream, key, etag,
size, records, generation, the property names first seen in it, run_id, committed_at),
partitioned by hub_id. A file is new when its (key, ETag) has no row: an object rewritten under
its key (a new ETag) is read again (issue 15.3).

``run_reports``: one row per run x account x stream with what the run saw (drift, Airbyte's
``_airbyte_meta.changes``, typing failures, quarantined and unrecognised files), partitioned by
day; analysts and operators query it like any table.

Commit order (each table commits once per run): the data tables, then ``run_reports``, then
``processed_files``. A crash before the last commit leaves the files unrecorded, so the next run
reads them again; that is idempotent (the latest version per (hub_id, id) wins, the same
records merge to the same rows), so nothing is lost and nothing doubles. A crash after the
reports only repeats a report row under another run id.

Bounded: the scheduled maintenance forgets a processed file once its raw object version can
never be listed again (``forget_gone``)."""
from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import functions as F

from . import catalog, ingest, labels_snapshot
from .frames import local_frame

PROCESSED, REPORTS = "processed_files", "run_reports"
OWN_STREAMS = {labels_snapshot.STREAM}  # our own reader's: known, not the connector's
MISSING = "missing_since"  # processed_files: when maintenance first found the version gone
PROCESSED_SCHEMA = ("hub_id string, stream string, key string, etag string, size bigint, "
                    "records bigint, generation bigint, properties_added array<string>, "
                    "run_id string, committed_at timestamp")
_KV = "array<struct<key:string,reason:string>>"
REPORT_SCHEMA = (
    "run_id string, reported_at timestamp, hub_id string, stream string, table_name string, "
    "known_stream boolean, files_read int, records_read bigint, files_quarantined int, "
    "rows_after bigint, deleted_after bigint, drift array<struct<event:string,details:string>>, "
    "airbyte_changes array<struct<field:string,change:string,reason:string,count:bigint>>, "
    f"typing_failures array<struct<column:string,failed:bigint>>, quarantined {_KV}, "
    f"unrecognised {_KV}")


def seen(ops, hubs=None) -> tuple[dict[str, set], dict[str, dict[str, set]]]:
    """({hub: {(key, etag)}} processed, {hub: {table: property names seen}}) from
    processed_files (``hubs``: only those accounts; None: all)."""
    df = ops.read(PROCESSED, hubs)
    if df is None:
        return {}, {}
    files: dict[str, set] = {}
    props: dict[str, dict[str, set]] = {}
    # one scan, folded here (it was a scan and an aggregation: two Spark jobs per run)
    for r in df.select("hub_id", "stream", "key", "etag", "properties_added").collect():
        files.setdefault(r.hub_id, set()).add((r.key, r.etag))
        props.setdefault(r.hub_id, {}).setdefault(catalog.table_of(r.stream), set()).update(
            r.properties_added or ())
    return files, props


def record(spark, ops, files: dict[str, dict[str, tuple[int, str]]], per_file: dict,
           run_id: str) -> int:
    """The run's curated files, one append commit. ``per_file``: {key: {records, generation,
    properties_added}} (a file without rows has none)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for hub, keys in sorted(files.items()):
        for key, (size, etag) in sorted(keys.items()):
            info = per_file.get(key, {})
            rows.append((hub, ingest.stream_of(key), key, etag, int(size),
                         int(info.get("records", 0)), info.get("generation"),
                         info.get("properties_added", []), run_id, now))
    if rows:
        ops.append(local_frame(spark, rows, PROCESSED_SCHEMA), PROCESSED, run_id,
                   F.col("hub_id"))
    return len(rows)


def report_rows(report: dict, files: dict, held: dict, per_file: dict) -> list[tuple]:
    """The run report (job.run's dict) as rows of REPORT_SCHEMA, one per account x stream
    (keys that are not an account's raw file: hub_id and/or stream null)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cells: dict[tuple, dict] = {}

    def cell(hub, stream):
        return cells.setdefault((hub, stream), {"files": 0, "records": 0, "quarantined": [],
                                                "drift": [], "changes": [], "typing": [],
                                                "unrecognised": []})
    for hub, keys in files.items():
        for key in keys:
            c = cell(hub, ingest.stream_of(key))
            c["files"] += 1
            c["records"] += per_file.get(key, {}).get("records", 0)
    for hub, keys in held.items():
        for key, info in keys.items():
            cell(hub, ingest.stream_of(key))["quarantined"].append((key, info["reason"]))
    for u in report["unrecognised"]:
        parts = u["key"].split("/")
        hub = parts[1] if len(parts) > 1 and parts[1].isdigit() else None
        cell(hub, parts[2] if hub and len(parts) == 4 else None)["unrecognised"].append(
            (u["key"], u["reason"]))
    for ch in report["airbyte_changes"]:
        cell(ch["hub_id"], ch["_source_stream"])["changes"].append(
            (ch["field"], ch["change"], ch["reason"], int(ch["count"])))
    for f in report["typing_failures"]:
        cell(f["hub_id"], f["stream"])["typing"].append((f["column"], int(f["failed"])))
    for e in report["drift"]:
        details = json.dumps({k: v for k, v in e.items() if k != "event"}, sort_keys=True)
        if "stream" in e:
            for hub in e.get("hub_ids") or [e.get("hub_id")]:
                cell(hub, e["stream"])["drift"].append((e["event"], details))
        else:  # properties_added: per table; on its stream of the same name, else its first
            streams = sorted(s for (h, s) in cells if h == e["hub_id"] and s
                             and catalog.table_of(s) == e["table"])
            stream = e["table"] if e["table"] in streams or not streams else streams[0]
            cell(e["hub_id"], stream)["drift"].append((e["event"], details))
    tables = report["tables"]
    for t, by_hub in tables.items():  # a table rebuilt without new files of its own (deals)
        for hub in by_hub:
            if not any(h == hub and s and catalog.table_of(s) == t for (h, s) in cells):
                cell(hub, t)
    out = []
    for (hub, stream), c in sorted(cells.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        table = catalog.table_of(stream) if stream else None
        after = tables.get(table, {}).get(hub, {}) if table else {}
        out.append((report["run_id"], now, hub, stream, table,
                    None if stream is None else stream in catalog.KNOWN_STREAMS | OWN_STREAMS,
                    c["files"], c["records"], len(c["quarantined"]), after.get("rows"),
                    after.get("deleted"), c["drift"], c["changes"], c["typing"],
                    c["quarantined"], c["unrecognised"]))
    return out


def write_report(spark, ops, rows: list[tuple], run_id: str) -> None:
    if rows:
        ops.append(local_frame(spark, rows, REPORT_SCHEMA), REPORTS, run_id,
                   F.days("reported_at"))


def forget_gone(spark, ops, listing: dict[str, tuple[int, str]], restorable_hours: float,
                run_id: str) -> dict:
    """Keep processed_files bounded (the scheduled maintenance). Raw files never expire (the
    bucket's only lifecycle rule expires replaced or deleted versions, ``NoncurrentDays`` in
    deploy/infra.py), and versioning keeps a deleted or overwritten object restorable until
    then, under the same key and ETag: while it is, its row must stay, or a restore would be
    read again as new. So a row whose (key, ETag) is not in ``listing`` (the raw objects now)
    gets ``missing_since`` (the first maintenance that saw it gone), is forgotten once that is
    ``restorable_hours`` ago, and is cleared if the version came back. A row that introduced
    property names stays: drift is measured against those names (at most one row per name per
    account and table, so still bounded). One commit, rewriting only the accounts that
    changed. Returns {"missing": rows gone from the listing, "forgotten": rows deleted}."""
    df = ops.read(PROCESSED)
    if df is None:
        return {"missing": 0, "forgotten": 0}
    if MISSING not in df.columns:  # added by the first maintenance (schema evolution)
        df = df.withColumn(MISSING, F.lit(None).cast("timestamp"))
    live = spark.createDataFrame([(k, e) for k, (_, e) in sorted(listing.items())],
                                 "_k string, _e string").withColumn("_live", F.lit(True))
    j = df.join(live, (df.key == live._k) & (df.etag == live._e), "left")
    present, since = F.col("_live").isNotNull(), F.col(MISSING)
    baseline = F.size(F.coalesce("properties_added", F.array().cast("array<string>"))) > 0
    j = j.select(*df.columns, present.alias("_present"),
                 F.coalesce(~present & ~baseline & (since <= _ts(restorable_hours)),
                            F.lit(False)).alias("_forget"),
                 F.when(present, F.lit(None).cast("timestamp"))
                 .otherwise(F.coalesce(since, _ts(0))).alias("_since"))
    changed = F.col("_forget") | (F.col("_present") == since.isNotNull())
    counts = j.groupBy("hub_id").agg(F.max(changed.cast("int")).alias("changed"),
                                     F.sum((~F.col("_present")).cast("int")).alias("missing"),
                                     F.sum(F.col("_forget").cast("int")).alias("forgotten")
                                     ).collect()
    hubs = sorted(r.hub_id for r in counts if r.changed)
    if hubs:
        ops.replace(j.where(F.col("hub_id").isin(hubs) & ~F.col("_forget"))
                    .withColumn(MISSING, F.col("_since")).select(*df.columns),
                    PROCESSED, hubs, run_id)
    return {"missing": sum(r.missing for r in counts),
            "forgotten": sum(r.forgotten for r in counts)}


def _ts(hours_ago: float):
    """A timestamp ``hours_ago`` in UTC as a Spark literal (the session's time zone is UTC)."""
    t = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return F.lit(f"{t:%Y-%m-%d %H:%M:%S.%f}").cast("timestamp")
