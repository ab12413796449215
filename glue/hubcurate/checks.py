"""What a run reports about its new rows, from the checks build.checked_rows puts next to them:
one aggregation per table by raw file (records, generations, property names, rows that are no
Airbyte record, typing failures) and one of Airbyte's changes by file, over the cached rows,
all in one query (read_checks). Each used to be a pass of its own (the typing computed
twice): they cost a third of a run."""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .build import CHECK


def typed_checks(df: DataFrame) -> list[str]:
    """The typed columns whose failures ``df`` (checked_rows) counts, in catalog order."""
    p = CHECK + "failed_"
    return [c[len(p):] for c in df.columns if c.startswith(p)]


def _by_file(df: DataFrame) -> DataFrame:
    """One row per raw file: hub_id, stream, n, g0/g1 (oldest/newest generation), ps (property
    names), foreign (a row without _airbyte_raw_id/_extracted_at), failed (per typed column)."""
    typed = typed_checks(df)
    failed = F.array(*[F.sum(F.col(f"{CHECK}failed_{k}").cast("int")) for k in typed]) \
        if typed else F.array().cast("array<bigint>")
    return df.groupBy("_file", "hub_id", F.col("_source_stream").alias("stream")).agg(
        F.count("*").alias("n"), F.min("_generation_id").alias("g0"),
        F.max("_generation_id").alias("g1"),
        F.array_distinct(F.flatten(F.collect_set(CHECK + "props"))).alias("ps"),
        F.max(F.col(CHECK + "foreign").cast("int")).alias("foreign"),
        failed.cast("array<bigint>").alias("failed"))


def _changes_by_file(df: DataFrame) -> DataFrame:
    """Airbyte's ``_airbyte_meta.changes`` counted per raw file, field, change, reason (only
    rows with changes are exploded)."""
    return df.where(F.size("_changes") > 0).select(
        "_file", "hub_id", F.col("_source_stream").alias("stream"),
        F.explode("_changes").alias("c")).groupBy(
        "_file", "hub_id", "stream", "c.field", "c.change", "c.reason").agg(
        F.count("*").alias("n"))


_FILE_COLS = {"g0": "bigint", "g1": "bigint", "ps": "array<string>", "foreign": "int",
              "failed": "array<bigint>"}
_CHANGE_COLS = {"field": "string", "change": "string", "reason": "string"}


def read_checks(dfs: dict[str, DataFrame]) -> tuple[dict[str, list], list]:
    """({table: by-file rows}, per-file counts of Airbyte's changes) of checked_rows frames,
    in one query (a union, one Spark action; it was one per table and one more for the
    changes). By-file rows: _file, hub_id, stream, n, g0/g1 (oldest/newest generation), ps
    (property names), foreign (a row without _airbyte_raw_id/_extracted_at), failed (per
    typed column, typed_checks' order). As the run's first full read, it also fills the
    caches, so unreadable pages are found before any commit."""
    parts = []
    for t, df in dfs.items():
        head = [F.lit(t).alias("_t"), "_file", "hub_id", "stream", F.col("n").cast("bigint")]
        parts.append(_by_file(df).select(
            *head, F.lit(False).alias("_change"), *[F.col(c).cast(ty) for c, ty in _FILE_COLS.items()],
            *[F.lit(None).cast(ty).alias(c) for c, ty in _CHANGE_COLS.items()]))
        parts.append(_changes_by_file(df).select(
            *head, F.lit(True).alias("_change"),
            *[F.lit(None).cast(ty).alias(c) for c, ty in _FILE_COLS.items()],
            *[F.col(c).cast(ty) for c, ty in _CHANGE_COLS.items()]))
    if not parts:
        return {}, []
    files: dict[str, list] = {t: [] for t in dfs}
    changes = []
    for r in reduce(DataFrame.unionByName, parts).collect():
        (changes if r._change else files[r._t]).append(r)
    return files, changes


def airbyte_changes(changes: list, skip=frozenset()) -> list[dict]:
    """read_checks' change rows summed per account, stream, field, change, reason (rows of the
    files in ``skip`` left out: the run quarantined them)."""
    out: dict[tuple, int] = {}
    for r in changes:
        if r._file not in skip:
            k = (r.hub_id, r.stream, r.field, r.change, r.reason)
            out[k] = out.get(k, 0) + r.n
    return [{"hub_id": h, "_source_stream": s, "field": f, "change": c, "reason": why,
             "count": n} for (h, s, f, c, why), n in sorted(out.items(), key=str)]


def spans(files: list) -> dict:
    """{(hub_id, stream): (oldest, newest generation)} of read_checks' rows."""
    out: dict = {}
    for r in files:
        if r.g0 is None:
            continue
        lo, hi = out.get((r.hub_id, r.stream), (r.g0, r.g1))
        out[(r.hub_id, r.stream)] = (min(lo, r.g0), max(hi, r.g1))
    return out


def typing_failures(files: list, table: str, typed: list[str]) -> list[dict]:
    """Per account, stream and typed column: values that were present but did not type (e.g.
    "abc" as a number), summed over read_checks' rows."""
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
    before, from processed_files) into ``report``. ``files``: {table: read_checks rows}; ``typed``:
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
