"""One run of the curate job: new raw files of the given accounts -> curated tables."""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

from pyspark import StorageLevel
from pyspark.sql import functions as F

from . import build, catalog, ingest, publish
from .store import open_store

log = logging.getLogger("hubcurate")


def ledger_key(hub: str) -> str:
    return f"curated/_state/ledger/{hub}.json"


class Killed(RuntimeError):
    """Raised by the ``fail_at`` hook to stop a run exactly where a crash could."""


def find_new(store, hub_ids: str):
    """{hub: {key: size}} of raw files not in the account's ledger; the ledgers."""
    if hub_ids in ("", "ALL", "*"):
        hubs = sorted({k.split("/")[1] for k in store.list("raw/") if ingest.parse_key(k)})
    else:
        hubs = sorted({h.strip() for h in hub_ids.split(",") if h.strip()})
    new, ledgers = {}, {}
    for h in hubs:
        ledgers[h] = store.get_json(ledger_key(h), {"files": {}, "properties": {}})
        fresh = {k: s for k, s in store.list(f"raw/{h}/").items()
                 if ingest.parse_key(k) and k not in ledgers[h]["files"]}
        if fresh:
            new[h] = fresh
    return new, ledgers


def run(spark, lake_root: str, hub_ids: str = "ALL", run_id: str | None = None,
        fail_at: str | None = None, max_records_per_file=publish.MAX_RECORDS_PER_FILE) -> dict:
    store = open_store(lake_root)
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    run_id = run_id or f"{dt.datetime.utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    new, ledgers = find_new(store, hub_ids)
    report = {"run_id": run_id, "hub_ids": hub_ids, "new_files": sum(map(len, new.values())),
              "tables": {}, "drift": [], "airbyte_changes": [], "typing_failures": []}
    if not new:
        log.info(json.dumps({"msg": "nothing new", **report}))
        return report
    by_stream: dict[str, dict[str, list[str]]] = {}
    for h, files in new.items():
        for k in sorted(files):
            by_stream.setdefault(ingest.parse_key(k)[1], {}).setdefault(h, []).append(store.path(k))
    inter, kinds, touched = {}, {}, {}
    for stream, paths in sorted(by_stream.items()):
        df, has_props = ingest.read_stream(spark, paths, stream, report["drift"])
        t = catalog.table_of(stream)
        inter[t] = df if t not in inter else inter[t].unionByName(df)
        kinds[t] = catalog.kind_of(t, has_props or kinds.get(t) == "crm")
        touched.setdefault(t, set()).update(paths)
    for t in inter:
        inter[t] = inter[t].persist(StorageLevel.MEMORY_AND_DISK)
    _report_inputs(inter, ledgers, report)
    # Deals carry owner and stage labels: new owners/pipelines rebuild the account's deals.
    label_hubs = touched.get("owners", set()) | touched.get("deal_pipelines", set())
    deal_hubs = set(publish.partitions(store, "deals")) & label_hubs
    if deal_hubs:
        touched["deals"] = touched.get("deals", set()) | deal_hubs
        kinds.setdefault("deals", "crm")
    for table in catalog.build_order(touched):
        hubs = touched[table]
        rows = build.typed_rows(inter[table], table, kinds[table]) if table in inter else None
        current = publish.read_current(spark, store, table, hubs)
        if table == "deals" and current is not None:
            current = current.drop(*catalog.DEAL_LABELS)
        merged = build.merge(rows, current) if rows is not None else current
        if merged is None:
            continue
        if table == "deals":
            merged = build.join_deals(merged, publish.read_current(spark, store, "deal_pipelines", hubs),
                                      publish.read_current(spark, store, "owners", hubs))
        stats = publish.write(merged, store, table, run_id, hubs, max_records_per_file)
        _hook(fail_at, f"after_write:{table}")
        publish.switch(store, table, run_id, hubs, stats)
        _hook(fail_at, f"after_switch:{table}")
        publish.collect_garbage(store, table, hubs)
        report["tables"][table] = stats
    for h, files in new.items():  # last: a crash before this only means files are redone
        ledgers[h]["files"].update(files)
        store.put_json(ledger_key(h), ledgers[h])
    for df in inter.values():
        df.unpersist()
    store.put_json(f"curated/_reports/{run_id}.json", report)
    log.info(json.dumps({"msg": "curate run done", "run_id": run_id,
                         "new_files": report["new_files"], "drift": report["drift"][:20]}))
    return report


def _hook(fail_at, point):
    if fail_at == point:
        raise Killed(point)


def _report_inputs(inter, ledgers, report):
    """Airbyte's nulled/truncated values, typing failures and new properties (drift)."""
    for t, df in inter.items():
        ch = df.select("hub_id", "_source_stream", F.explode("_changes").alias("c")) \
            .groupBy("hub_id", "_source_stream", "c.field", "c.change", "c.reason").count()
        report["airbyte_changes"] += [r.asDict() for r in ch.collect()]
        report["typing_failures"] += build.typing_failures(df, t)
        props = df.where(F.col("props").isNotNull()) \
            .select("hub_id", F.explode(F.map_keys("props")).alias("p")).distinct() \
            .groupBy("hub_id").agg(F.collect_set("p").alias("ps")).collect()
        for r in props:
            known = ledgers[r.hub_id]["properties"].get(t)
            added = sorted(set(r.ps) - set(known or []))
            if known is not None and added:
                report["drift"].append({"event": "properties_added", "table": t,
                                        "hub_id": r.hub_id, "properties": added})
            ledgers[r.hub_id]["properties"][t] = sorted(set(r.ps) | set(known or []))
        report.setdefault("records_read", {})[t] = df.count()
