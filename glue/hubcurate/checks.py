"""What a run reports about its new rows, from the checks build.checked_rows puts next to them:
one aggregation per table by raw file and Airbyte change (records, generations, property
names, rows that are no Airbyte record, typing failures, ``_airbyte_meta.changes`` counts),
over the cached rows, all in one query (read_checks). Each used to be a pass of its own (the
typing computed twice): they cost a third of a run."""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .build import CHECK
from .sqltext import ident


def typed_checks(df: DataFrame) -> list[str]:
    """The typed columns whose failures ``df`` (checked_rows) counts, in catalog order."""
    p = CHECK + "failed_"
    return [c[len(p):] for c in df.columns if c.startswith(p)]


_FILE_KEY = ("_file", "hub_id", "stream")


def _grouped(df: DataFrame) -> DataFrame:
    """One aggregation by raw file and Airbyte change: a row with changes is exploded, one
    copy per change (``posexplode_outer``: a row without changes stays one copy with a null
    change), and only a row's first copy counts towards the file's records and typing
    failures. So per raw file: one group of its rows without changes, one per distinct change
    (``nc``: how many; its rows are in the file's other figures once). What used to be two
    aggregations (by file, and the changes by file) unioned: a shuffle and two Spark jobs
    fewer (glue/README.md, "What a run costs")."""
    typed = typed_checks(df)
    first = "(_pos IS NULL OR _pos = 0)"
    failed = [f"sum(CASE WHEN {first} AND {ident(CHECK + 'failed_' + k)} THEN 1 ELSE 0 END)"
              for k in typed]
    return df.selectExpr(
        "_file", "hub_id", "_source_stream AS stream", "_generation_id", f"{CHECK}props",
        f"{CHECK}foreign", *[ident(f"{CHECK}failed_{k}") for k in typed],
        "posexplode_outer(_changes) AS (_pos, _c)").groupBy(*_FILE_KEY, "_c").agg(
        F.expr(f"cast(count_if({first}) AS bigint)").alias("n"),
        F.min("_generation_id").alias("g0"), F.max("_generation_id").alias("g1"),
        F.array_distinct(F.flatten(F.collect_set(CHECK + "props"))).alias("ps"),
        F.max(F.col(CHECK + "foreign").cast("int")).alias("foreign"),
        F.expr(f"cast(array({', '.join(failed)}) AS array<bigint>)").alias("failed"),
        F.count("_c").alias("nc"))


@dataclass
class FileChecks:
    """What read_checks found in one raw file: n records, g0/g1 the oldest/newest generation,
    ps its property names, foreign whether a row is no Airbyte record (no _airbyte_raw_id or
    _extracted_at), failed per typed column (typed_checks' order)."""
    _file: str
    hub_id: str
    stream: str
    n: int
    g0: int | None
    g1: int | None
    ps: list
    foreign: bool
    failed: list


@dataclass(frozen=True)
class ChangeCount:
    """How many of a raw file's rows carry one of Airbyte's ``_airbyte_meta.changes``."""
    _file: str
    hub_id: str
    stream: str
    field: str | None
    change: str | None
    reason: str | None
    n: int


def _fold(group_rows: list) -> tuple[list[FileChecks], list[ChangeCount]]:
    """_grouped's rows of one table -> one FileChecks per raw file, and its ChangeCounts."""
    files: dict[tuple, FileChecks] = {}
    changes = []
    for r in group_rows:
        key = (r._file, r.hub_id, r.stream)
        if r.nc:
            changes.append(ChangeCount(*key, r._c.field, r._c.change, r._c.reason, r.nc))
        f = files.get(key)
        if f is None:
            files[key] = FileChecks(*key, r.n, r.g0, r.g1, sorted(set(r.ps or ())),
                                    bool(r.foreign), list(r.failed or ()))
            continue
        f.n += r.n
        f.g0 = min((g for g in (f.g0, r.g0) if g is not None), default=None)
        f.g1 = max((g for g in (f.g1, r.g1) if g is not None), default=None)
        f.ps = sorted(set(f.ps) | set(r.ps or ()))
        f.foreign = f.foreign or bool(r.foreign)
        f.failed = [a + b for a, b in zip(f.failed, r.failed or (), strict=True)]
    return list(files.values()), changes


def read_checks(dfs: dict[str, DataFrame]) -> tuple[dict[str, list[FileChecks]],
                                                    list[ChangeCount]]:
    """({table: FileChecks per raw file}, ChangeCounts per raw file) of checked_rows frames,
    in one query (one aggregation per table, unioned, one Spark action). As the run's first
    full read, it also fills the caches, so unreadable pages are found before any commit."""
    parts = [_grouped(df).select(F.lit(t).alias("_t"), "*") for t, df in dfs.items()]
    if not parts:
        return {}, []
    by_table: dict[str, list] = {t: [] for t in dfs}
    for r in reduce(DataFrame.unionByName, parts).collect():
        by_table[r._t].append(r)
    files: dict[str, list[FileChecks]] = {}
    changes: list[ChangeCount] = []
    for t, rows in by_table.items():
        files[t], found = _fold(rows)
        changes += found
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
