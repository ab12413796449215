"""Typed rows per curated table, merged with the accounts' current rows: latest version per
(hub_id, id), only the newest generation of each stream, deleted/archived flagged, deals
joined with pipeline/stage labels and owner names."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from . import catalog, coerce

META = ["_source_stream", "_generation_id", "_extracted_at", "_raw_id", "_sync_id"]
_OWNER = "struct<id:string,email:string,firstName:string,lastName:string,userId:bigint>"
_PIPE = ("struct<label:string,displayOrder:bigint,stages:array<struct<stageId:string,"
         "label:string,displayOrder:bigint,archived:boolean,"
         "metadata:struct<isClosed:string,probability:string>>>>")


def _deleted():
    return (F.coalesce(F.col("archived"), F.lit(False))
            | F.col("_source_stream").endswith(catalog.ARCHIVED_SUFFIX)
            | F.col("archived_at").isNotNull())


def typed_rows(inter: DataFrame, table: str, kind: str) -> DataFrame:
    """Intermediate rows -> the table's fixed schema (same for every account)."""
    common = [F.col("hub_id"), F.col("id"), F.col("created_at"), F.col("updated_at"),
              F.col("archived_at"), _deleted().alias("is_deleted")]
    meta = [F.col(c) for c in META]
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


def typing_failures(inter: DataFrame, table: str) -> list:
    """Per account, stream and typed column: values that were present but did not type (e.g.
    "abc" as a number)."""
    spec = catalog.TYPED.get(table, {})
    if not spec:
        return []
    rows = inter.groupBy("hub_id", "_source_stream").agg(
        *[F.sum(coerce.failed(F.col("props")[k], t).cast("int")).alias(k)
          for k, t in spec.items()]).collect()
    return [{"table": table, "hub_id": r.hub_id, "stream": r._source_stream, "column": k,
             "failed": r[k]} for r in sorted(rows, key=lambda r: (r.hub_id, r._source_stream))
            for k in spec if r[k]]


def merge(new: DataFrame, current: DataFrame | None) -> DataFrame:
    """Latest version per (hub_id, id) among the current rows and the new ones."""
    # a column the table gained or lost (catalog.TYPED changed) is null on the other side
    rows = new if current is None else current.unionByName(new, allowMissingColumns=True)
    # A full refresh bumps the stream's generation: older generations' rows are gone.
    g = Window.partitionBy("hub_id", "_source_stream")
    rows = rows.withColumn("_g", F.max("_generation_id").over(g)) \
        .where(F.col("_generation_id") == F.col("_g")).drop("_g")
    w = Window.partitionBy("hub_id", "id").orderBy(
        F.col("updated_at").desc_nulls_last(), F.col("_extracted_at").desc(),
        F.col("is_deleted").desc(), F.col("_raw_id").desc())
    return rows.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")


def join_deals(deals: DataFrame, pipelines: DataFrame | None, owners: DataFrame | None):
    """Deals with what an analyst expects next to them: pipeline/stage labels, owner name."""
    deals = deals.drop(*catalog.DEAL_LABELS)
    if pipelines is not None:
        p = pipelines.where(~F.col("is_deleted"))
        stages = p.select("hub_id", F.col("id").alias("_p"), F.col("label").alias("pipeline_label"),
                          F.explode_outer("stages").alias("s")).select(
            "hub_id", "_p", "pipeline_label", F.col("s.stage_id").alias("_s"),
            F.col("s.label").alias("dealstage_label"),
            F.col("s.probability").alias("dealstage_probability"),
            F.col("s.is_closed").alias("dealstage_is_closed"))
        deals = deals.join(stages, (deals.hub_id == stages.hub_id) & (deals.pipeline == stages._p)
                           & (deals.dealstage == stages._s), "left") \
            .drop(stages.hub_id).drop("_p", "_s")
    if owners is not None:
        o = owners.select("hub_id", F.col("id").alias("_o"), F.col("full_name").alias("owner_name"),
                          F.col("email").alias("owner_email"))
        deals = deals.join(o, (deals.hub_id == o.hub_id) & (deals.hubspot_owner_id == o._o),
                           "left").drop(o.hub_id).drop("_o")
    for c in catalog.DEAL_LABELS:
        if c not in deals.columns:
            deals = deals.withColumn(c, F.lit(None).cast(
                "double" if c == "dealstage_probability" else
                "boolean" if c == "dealstage_is_closed" else "string"))
    return deals
