"""What a run reports about its new rows, from the checks build.checked_rows puts next to them:
one aggregation per table by raw file (records, generations, property names, rows that are no
Airbyte record, typing failures) and one for Airbyte's changes, over the cached rows. Each
used to be a pass of its own (the typing computed twice): they cost a third of a run."""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .build import CHECK


def typed_checks(df: DataFrame) -> list[str]:
    """The typed columns whose failures ``df`` (checked_rows) counts, in catalog order."""
    p = CHECK + "failed_"
    return [c[len(p):] for c in df.columns if c.startswith(p)]


def by_file(df: DataFrame) -> list:
    """One row per raw file: hub_id, stream, n, g0/g1 (oldest/newest generation), ps (property
    names), foreign (a row without _airbyte_raw_id/_extracted_at), failed (per typed column).
    As the run's first full read, it also fills the cache."""
    typed = typed_checks(df)
    failed = F.array(*[F.sum(F.col(f"{CHECK}failed_{k}").cast("int")) for k in typed]) \
        if typed else F.array().cast("array<bigint>")
    return df.groupBy("_file", "hub_id", F.col("_source_stream").alias("stream")).agg(
        F.count("*").alias("n"), F.min("_generation_id").alias("g0"),
        F.max("_generation_id").alias("g1"),
        F.array_distinct(F.flatten(F.collect_set(CHECK + "props"))).alias("ps"),
        F.max(F.col(CHECK + "foreign").cast("int")).alias("foreign"),
        failed.alias("failed")).collect()


def spans(files: list) -> dict:
    """{(hub_id, stream): (oldest, newest generation)} of by_file's rows (build.generations)."""
    out: dict = {}
    for r in files:
        if r.g0 is None:
            continue
        lo, hi = out.get((r.hub_id, r.stream), (r.g0, r.g1))
        out[(r.hub_id, r.stream)] = (min(lo, r.g0), max(hi, r.g1))
    return out


def airbyte_changes(dfs: list[DataFrame]) -> list[dict]:
    """Airbyte's ``_airbyte_meta.changes`` counted per account, stream, field, change, reason:
    one job for every table (only rows with changes are exploded)."""
    parts = [df.where(F.size("_changes") > 0).select(
        "hub_id", "_source_stream", F.explode("_changes").alias("c")) for df in dfs]
    if not parts:
        return []
    ch = reduce(DataFrame.unionByName, parts).groupBy(
        "hub_id", "_source_stream", "c.field", "c.change", "c.reason").count()
    return [r.asDict() for r in ch.collect()]


def typing_failures(files: list, table: str, typed: list[str]) -> list[dict]:
    """Per account, stream and typed column: values that were present but did not type (e.g.
    "abc" as a number), summed over by_file's rows."""
    sums: dict[tuple, list[int]] = {}
    for r in files:
        acc = sums.setdefault((r.hub_id, r.stream), [0] * len(typed))
        for i, v in enumerate(r.failed or []):
            acc[i] += v or 0
    return [{"table": table, "hub_id": h, "stream": s, "column": k, "failed": n}
            for (h, s), counts in sorted(sums.items()) for k, n in zip(typed, counts, strict=True)
            if n]


def inputs(files: dict[str, list], typed: dict[str, list[str]], known: dict, report: dict,
           locate) -> dict:
    """Typing failures and new properties (drift: names an account's table had not shown
    before, from processed_files) into ``report``. ``files``: {table: by_file rows}; ``typed``:
    {table: typed_checks}; ``locate``: a row's file -> (hub, key) or None. Returns {key:
    {records, generation, properties_added}} per raw file for the bookkeeping."""
    per_file: dict[str, dict] = {}
    for t, rows in files.items():
        report["typing_failures"] += typing_failures(rows, t, typed.get(t, []))
        seen: dict[str, set] = {}  # this run's names so far, per account
        added: dict[str, set] = {}  # reported: names new to an account that had this table
        for r in sorted(rows, key=lambda r: r._file):
            found = locate(r._file)
            if found is None:
                continue
            hub, key = found
            before = known.get(hub, {}).get(t)
            fresh = set(r.ps or []) - (before or set()) - seen.get(hub, set())
            seen.setdefault(hub, set()).update(fresh)
            if before is not None:
                added.setdefault(hub, set()).update(fresh)
            per_file[key] = {"records": r.n, "generation": r.g1,
                             "properties_added": sorted(fresh)}
        for hub, names in sorted(added.items()):
            if names:
                report["drift"].append({"event": "properties_added", "table": t,
                                        "hub_id": hub, "properties": sorted(names)})
        report.setdefault("records_read", {})[t] = sum(r.n for r in rows)
    return per_file
