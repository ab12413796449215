"""Typed rows per curated table, merged with the accounts' current rows: latest version per
(hub_id, id), only the newest generation of each stream, deleted/archived flagged, deals
joined with pipeline/stage labels and owner names."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from . import catalog, coerce
from .frames import local_frame

META = ["_source_stream", "_generation_id", "_extracted_at", "_raw_id", "_sync_id"]
_OWNER = "struct<id:string,email:string,firstName:string,lastName:string,userId:bigint>"
_PIPE = ("struct<label:string,displayOrder:bigint,stages:array<struct<stageId:string,"
         "label:string,displayOrder:bigint,archived:boolean,"
         "metadata:struct<isClosed:string,probability:string>>>>")


def _deleted():
    return (F.coalesce(F.col("archived"), F.lit(False))
            | F.col("_source_stream").endswith(catalog.ARCHIVED_SUFFIX)
            | F.col("archived_at").isNotNull())


def typed_rows(inter: DataFrame, table: str, kind: str, extra=()) -> DataFrame:
    """Intermediate rows -> the table's fixed schema (same for every account), plus ``extra``
    columns of ``inter`` (checked_rows' checks)."""
    common = [F.col("hub_id"), F.col("id"), F.col("created_at"), F.col("updated_at"),
              F.col("archived_at"), _deleted().alias("is_deleted")]
    meta = [F.col(c) for c in META] + list(extra)
    if kind == "crm":
        spec = catalog.TYPED.get(table, {})
        known = F.array(*[F.lit(k) for k in spec]) if spec else F.array().cast("array<string>")
        cols = [coerce.typed(F.col("props")[k], t).alias(k) for k, t in spec.items()]
        custom = F.map_filter(F.col("props"), lambda k, v: ~F.array_contains(known, k)
                              & coerce.blank_null(v).isNotNull())
        return inter.select(*common, *cols, custom.alias("custom_properties"),
                            F.col("assoc").alias("associations"), *meta)
    if kind == "owners":
        o = F.from_json("record_json", _OWNER)
        first, last = coerce.blank_null(o.firstName), coerce.blank_null(o.lastName)
        return inter.select(*common, coerce.to_email(o.email).alias("email"),
                            first.alias("first_name"), last.alias("last_name"),
                            F.concat_ws(" ", first, last).alias("full_name"),
                            o.userId.alias("user_id"), *meta)
    if kind == "pipelines":
        p = F.from_json("record_json", _PIPE)
        stages = F.transform(p.stages, lambda s: F.struct(
            s.stageId.alias("stage_id"), s.label.alias("label"),
            s.displayOrder.alias("display_order"),
            coerce.to_double(s.metadata.probability).alias("probability"),
            coerce.to_bool(s.metadata.isClosed).alias("is_closed")))
        return inter.select(*common, p.label.alias("label"),
                            p.displayOrder.alias("display_order"), stages.alias("stages"), *meta)
    return inter.select(*common, F.col("record_json"), *meta)


# What a run reports about its input rides along with the typed rows in the one cached pass
# (hubcurate/checks.py aggregates it), so typing runs once and the raw files are read once.
CHECK = "_chk_"
CHECKED = ["_file", "_changes"]


def checked_rows(inter: DataFrame, table: str, kind: str) -> DataFrame:
    """typed_rows plus, per row: its file, Airbyte's changes, whether it is no Airbyte record
    (``_chk_foreign``), its property names (``_chk_props``) and, per typed column, whether a
    present value failed to type (``_chk_failed_<column>``; Spark evaluates the typing once
    for the column and its check: common subexpressions of a projection)."""
    spec = catalog.TYPED.get(table, {}) if kind == "crm" else {}
    extra = [F.col("_file"), F.col("_changes"),
             (F.col("_raw_id").isNull() | F.col("_extracted_at").isNull()).alias(
                 CHECK + "foreign"),
             F.map_keys("props").alias(CHECK + "props"),
             *[coerce.failed(F.col("props")[k], t).alias(f"{CHECK}failed_{k}")
               for k, t in spec.items()]]
    return typed_rows(inter, table, kind, extra)


def rows_of(checked: DataFrame) -> DataFrame:
    """checked_rows without its checks: the table's rows."""
    return checked.drop(*CHECKED, *[c for c in checked.columns if c.startswith(CHECK)])


def merge(new: DataFrame | None, current: DataFrame | None,
          stale: dict | None = None) -> DataFrame:
    """Latest version per (hub_id, id) among the current rows and the new ones. ``stale``:
    {(hub_id, stream): newest generation} where older generations are present (a full
    refresh bumped the stream's generation: the older generations' rows are gone)."""
    # a column the table gained or lost (catalog.TYPED changed) is null on the other side
    rows = new if current is None else current if new is None else \
        current.unionByName(new, allowMissingColumns=True)
    assert rows is not None
    # rows without a generation never equal the newest one: dropped, as they always were
    rows = rows.where(F.col("_generation_id").isNotNull())
    if stale:  # a tiny broadcast table, instead of a window (a shuffle) over every row
        g = local_frame(rows.sparkSession, [(h, s, int(v)) for (h, s), v in sorted(stale.items())],
                        "_gh string, _gs string, _gmax bigint")
        rows = rows.join(F.broadcast(g), (rows.hub_id == g._gh)
                         & (rows._source_stream == g._gs), "left") \
            .where(F.col("_gmax").isNull() | (F.col("_generation_id") >= F.col("_gmax"))) \
            .select(*rows.columns)
    # One shuffle, by account: the window's (hub_id, id) clustering and the Iceberg write's
    # per-account files both reuse it (hubcurate/iceberg.py writes with distribution "none").
    w = Window.partitionBy("hub_id", "id").orderBy(*[F.col(c).desc_nulls_last() for c in LATEST])
    return rows.repartition("hub_id").withColumn("_n", F.row_number().over(w)) \
        .where("_n = 1").drop("_n")


# Which version of a row is the latest: each column descending, nulls last, in this order (a
# row with an updated_at beats one without; then the later extraction; a deletion beats the
# live row it ties with; the raw id decides the rest). merge()'s window and NEWER use it.
LATEST = ("updated_at", "_extracted_at", "is_deleted", "_raw_id")


def _newer(cols) -> str:
    c, rest = cols[0], cols[1:]
    gt = f"(s.{c} > t.{c} OR (s.{c} IS NOT NULL AND t.{c} IS NULL))"
    return gt if not rest else f"({gt} OR (s.{c} <=> t.{c} AND {_newer(rest)}))"


# SQL: the new row ``s`` is later than the table's row ``t`` of its id by LATEST (a tie keeps
# the table's row), for iceberg.Tables.upsert.
NEWER = _newer(LATEST)


def generations(df: DataFrame) -> dict:
    """{(hub_id, stream): (oldest, newest generation)} of some rows (a small aggregation)."""
    return {(r.hub_id, r._source_stream): (r.g0, r.g1) for r in df.groupBy(
        "hub_id", "_source_stream").agg(F.min("_generation_id").alias("g0"),
                                        F.max("_generation_id").alias("g1")).collect()}


def stale_generations(*spans: dict) -> dict:
    """{(hub_id, stream): newest generation} where the spans (generations(), checks.spans)
    hold older ones."""
    out: dict = {}
    for span in spans:
        for k, (lo, hi) in span.items():
            if lo is None:
                continue
            a, b = out.get(k, (lo, hi))
            out[k] = (min(a, lo), max(b, hi))
    return {k: hi for k, (lo, hi) in out.items() if lo < hi}


def join_deals(deals: DataFrame, pipelines: DataFrame | None, owners: DataFrame | None):
    """Deals with what an analyst expects next to them: pipeline/stage labels, owner name.
    Both sides are an account's few owners and stages: broadcast, so the deals keep merge()'s
    partitioning by account (a sort-merge join would shuffle them again)."""
    deals = deals.drop(*catalog.DEAL_LABELS)
    if pipelines is not None:
        p = pipelines.where(~F.col("is_deleted"))
        stages = p.select("hub_id", F.col("id").alias("_p"), F.col("label").alias("pipeline_label"),
                          F.explode_outer("stages").alias("s")).select(
            "hub_id", "_p", "pipeline_label", F.col("s.stage_id").alias("_s"),
            F.col("s.label").alias("dealstage_label"),
            F.col("s.probability").alias("dealstage_probability"),
            F.col("s.is_closed").alias("dealstage_is_closed"))
        stages = F.broadcast(stages)
        deals = deals.join(stages, (deals.hub_id == stages.hub_id) & (deals.pipeline == stages._p)
                           & (deals.dealstage == stages._s), "left") \
            .drop(stages.hub_id).drop("_p", "_s")
    if owners is not None:
        o = owners.select("hub_id", F.col("id").alias("_o"), F.col("full_name").alias("owner_name"),
                          F.col("email").alias("owner_email"))
        o = F.broadcast(o)
        deals = deals.join(o, (deals.hub_id == o.hub_id) & (deals.hubspot_owner_id == o._o),
                           "left").drop(o.hub_id).drop("_o")
    for c in catalog.DEAL_LABELS:
        if c not in deals.columns:
            deals = deals.withColumn(c, F.lit(None).cast(
                "double" if c == "dealstage_probability" else
                "boolean" if c == "dealstage_is_closed" else "string"))
    return deals
