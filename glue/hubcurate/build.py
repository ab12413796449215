"""Typed rows per curated table, merged with the accounts' current rows: latest version per
(hub_id, id), only the newest generation of each stream, deleted/archived flagged, deals
joined with pipeline/stage labels and owner names."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from . import catalog, coerce
from .frames import local_frame
from .sqltext import lit, named

META = ["_source_stream", "_generation_id", "_extracted_at", "_raw_id", "_sync_id"]
_OWNER = "struct<id:string,email:string,firstName:string,lastName:string,userId:bigint>"
_PIPE = ("struct<label:string,displayOrder:bigint,stages:array<struct<stageId:string,"
         "label:string,displayOrder:bigint,archived:boolean,"
         "metadata:struct<isClosed:string,probability:string>>>>")


_DELETED = (f"(coalesce(archived, false) OR endswith(_source_stream, "
            f"{lit(catalog.ARCHIVED_SUFFIX)}) OR archived_at IS NOT NULL) AS is_deleted")
_COMMON = ["hub_id", "id", "created_at", "updated_at", "archived_at", _DELETED]


def _prop(k: str) -> str:
    return f"props[{lit(k)}]"


def typed_rows(inter: DataFrame, table: str, kind: str, extra=()) -> DataFrame:
    """Intermediate rows -> the table's fixed schema (same for every account), plus ``extra``
    (SQL of more columns of ``inter``: checked_rows' checks). One selectExpr (sqltext.py)."""
    meta = [*META, *extra]
    if kind == "crm":
        spec = catalog.TYPED.get(table, {})
        known = f"NOT _k IN ({', '.join(map(lit, spec))}) AND " if spec else ""
        custom = f"map_filter(props, (_k, _v) -> {known}{coerce.blank_null('_v')} IS NOT NULL)"
        return inter.selectExpr(*_COMMON, *[named(coerce.typed(_prop(k), t), k)
                                            for k, t in spec.items()],
                                named(custom, "custom_properties"), "assoc AS associations", *meta)
    if kind == "owners":
        first, last = coerce.blank_null("_o.firstName"), coerce.blank_null("_o.lastName")
        return inter.selectExpr("*", f"from_json(record_json, {lit(_OWNER)}) AS _o").selectExpr(
            *_COMMON, named(coerce.to_email("_o.email"), "email"), named(first, "first_name"),
            named(last, "last_name"), named(f"concat_ws(' ', {first}, {last})", "full_name"),
            "_o.userId AS user_id", *meta)
    if kind == "pipelines":
        stage = (f"named_struct('stage_id', _s.stageId, 'label', _s.label, 'display_order', "
                 f"_s.displayOrder, 'probability', {coerce.to_double('_s.metadata.probability')}, "
                 f"'is_closed', {coerce.to_bool('_s.metadata.isClosed')})")
        return inter.selectExpr("*", f"from_json(record_json, {lit(_PIPE)}) AS _p").selectExpr(
            *_COMMON, "_p.label AS label", "_p.displayOrder AS display_order",
            f"transform(_p.stages, _s -> {stage}) AS stages", *meta)
    return inter.selectExpr(*_COMMON, "record_json", *meta)


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
    extra = ["_file", "_changes",
             f"(_raw_id IS NULL OR _extracted_at IS NULL) AS {CHECK}foreign",
             f"map_keys(props) AS {CHECK}props",
             *[named(coerce.failed(_prop(k), t), f"{CHECK}failed_{k}") for k, t in spec.items()]]
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
