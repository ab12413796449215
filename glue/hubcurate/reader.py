"""How to read the curated layer: through the manifests (or the Glue Catalog partitions the job
points at the same directories), never by listing ``curated/<table>/`` (old versions and
unfinished runs live there too)."""
from __future__ import annotations

from . import publish
from .store import open_store


def tables(lake_root: str) -> list[str]:
    store = open_store(lake_root)
    return sorted({k.split("/")[1] for k in store.list("curated/")
                   if k.endswith("/_manifest.json") and k.count("/") == 2})


def read_table(spark, lake_root: str, table: str, hubs=None):
    """The current version of every account's partition (or of ``hubs``); None if empty."""
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    store = open_store(lake_root)
    return publish.read_current(spark, store, table, hubs or publish.partitions(store, table))


def summary(lake_root: str) -> dict:
    """{table: {hub_id: {"rows", "live", "deleted"}}} from the manifests, without Spark."""
    store = open_store(lake_root)
    return {t: {h: {"rows": p["rows"], "live": p["rows"] - p["deleted"], "deleted": p["deleted"]}
                for h, p in publish.partitions(store, t).items() if p.get("run")}
            for t in tables(lake_root)}
