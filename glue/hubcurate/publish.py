"""Atomic per-account partition replacement on S3 (no rename there).

Each run writes an account's new rows to a fresh directory
``curated/<table>/hub_id=<id>/run=<run_id>/`` that no reader knows about; only then does it
switch the account's entry in ``curated/<table>/_manifest.json`` (one PUT: readers see the old or
the new version, never half of one). A killed run leaves only unreferenced directories, which
the next run that touches the account deletes. The previous version is kept one more run so a
query that started on it can finish."""
from __future__ import annotations

import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

MAX_RECORDS_PER_FILE = 1_000_000  # one compacted file per account unless it is huge


def manifest_key(table: str) -> str:
    return f"curated/{table}/_manifest.json"


def partitions(store, table: str) -> dict:
    return store.get_json(manifest_key(table), {}).get("partitions", {})


def part_path(store, table: str, hub: str, run: str) -> str:
    return store.path(f"curated/{table}/hub_id={hub}/run={run}")


def read_current(spark: SparkSession, store, table: str, hubs) -> DataFrame | None:
    parts = partitions(store, table)
    paths = [part_path(store, table, h, parts[h]["run"]) for h in sorted(hubs)
             if parts.get(h, {}).get("run")]
    if not paths:
        return None
    return spark.read.option("basePath", store.path(f"curated/{table}")).parquet(*paths).drop("run")


def write(df: DataFrame, store, table: str, run_id: str, hubs, max_records=MAX_RECORDS_PER_FILE):
    """Write the touched accounts' full new partitions, one task (so one file) per account:
    this is also the compaction of Airbyte's many small files. Returns {hub: stats}."""
    spark = df.sparkSession
    df.withColumn("run", F.lit(run_id)).repartition("hub_id").write.mode("append") \
        .partitionBy("hub_id", "run").option("maxRecordsPerFile", max_records) \
        .parquet(store.path(f"curated/{table}"))
    written = [h for h in sorted(hubs)
               if any(f"/run={run_id}/" in k for k in store.list(f"curated/{table}/hub_id={h}/"))]
    if not written:
        return {}
    back = spark.read.option("basePath", store.path(f"curated/{table}")) \
        .parquet(*[part_path(store, table, h, run_id) for h in written])
    rows = back.groupBy("hub_id").agg(F.count("*").alias("rows"),
                                      F.sum(F.col("is_deleted").cast("int")).alias("deleted"))
    return {r.hub_id: {"rows": r.rows, "deleted": r.deleted or 0} for r in rows.collect()}


def switch(store, table: str, run_id: str, hubs, stats: dict) -> None:
    man = store.get_json(manifest_key(table), {"table": table, "partitions": {}})
    for h in hubs:
        old = man["partitions"].get(h, {})
        s = stats.get(h, {"rows": 0, "deleted": 0})
        man["partitions"][h] = {"run": run_id if h in stats else None,
                                "previous": old.get("run"), "committed_at": time.time(), **s}
    store.put_json(manifest_key(table), man)


def collect_garbage(store, table: str, hubs) -> int:
    """Delete run directories of these accounts that are neither current nor previous."""
    parts, removed = partitions(store, table), 0
    for h in hubs:
        keep = {parts.get(h, {}).get("run"), parts.get(h, {}).get("previous")}
        runs = {k.split("/")[3][4:] for k in store.list(f"curated/{table}/hub_id={h}/")
                if k.split("/")[3].startswith("run=")}
        for r in runs - keep:
            store.delete_prefix(f"curated/{table}/hub_id={h}/run={r}/")
            removed += 1
    return removed
