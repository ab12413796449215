"""One run of the curate job: new raw files of the given accounts -> curated tables."""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from pyspark import StorageLevel
from pyspark.sql import functions as F

from . import association_labels, bookkeeping, build, catalog, checks, iceberg, ingest, labels_snapshot, quarantine
from .store import open_store

log = logging.getLogger("hubcurate")


class _Phases:
    """Wall seconds per phase of a run (``report["seconds"]``, logged at the end): where a
    run's time goes, next to Spark's event log."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._t, 3)
        self._t = now


class Killed(RuntimeError):
    """Raised by the ``fail_at`` hook to stop a run exactly where a crash could."""


def find_new(store, hub_ids: str, report: dict | None = None, processed=None,
             labels: dict | None = None):
    """({hub: {key: (size, etag)}} of raw files to read, the accounts looked at). A file is new
    when its (key, ETag) is not among the account's processed files (``processed(hubs)`` ->
    {hub: {(key, etag)}}, from hubcurate/bookkeeping.py; None: nothing processed yet), so an
    overwritten object is read again, and it is not quarantined at this ETag. Keys that are
    not raw files are reported. ``labels`` gets {hub: {key: (size, etag)}} of the accounts'
    association_labels/ folders (hubcurate/association_labels.py reads them)."""
    report = report if report is not None else {"unrecognised": []}
    everything = None
    if hub_ids in ("", "ALL", "*"):
        everything = store.listing("raw/")
        hubs = sorted({k.split("/")[1] for k in everything
                       if ingest.parse_key(k) or labels_snapshot.manifest_key(k)})
        _unrecognised(everything, report)
    else:
        hubs = sorted({h.strip() for h in hub_ids.split(",") if h.strip()})
    done = processed(hubs) if processed is not None and hubs else {}
    new = {}
    for h in hubs:
        seen = done.get(h, set())
        held = quarantine.load(store, h)["files"]
        if everything is None:
            listing = store.listing(f"raw/{h}/")
            _unrecognised(listing, report)
        else:
            listing = {k: v for k, v in everything.items() if k.startswith(f"raw/{h}/")}
        fresh = {}
        for k, (size, etag) in listing.items():
            if labels is not None and labels_snapshot.in_folder(k):
                labels.setdefault(h, {})[k] = (size, etag)
            if not ingest.parse_key(k) or (k, etag) in seen:
                continue
            if held.get(k, {}).get("etag") == etag:
                report.setdefault("quarantine_skipped", 0)
                report["quarantine_skipped"] += 1
                continue
            fresh[k] = (size, etag)
        if fresh:
            new[h] = fresh
    return new, hubs


def _unrecognised(listing: dict, report: dict) -> None:
    for k in sorted(listing):
        why = ingest.unrecognised(k)
        if why:
            report["unrecognised"].append({"key": k, "reason": why})


def run(spark, lake_root: str, hub_ids: str = "ALL", run_id: str | None = None,
        fail_at: str | None = None, alerts_topic_arn: str = "", sns=None,
        database: str = "", iceberg_catalog: str = "", upsert: bool = True) -> dict:
    """``database``/``iceberg_catalog``: where the Iceberg tables are (on Glue the Glue
    database and ``glue_catalog``; empty: a local catalog on the lake, hubcurate/iceberg.py).
    ``upsert`` False: every table the run touches is rewritten for its accounts (the replace
    path), never merged; the way back if MERGE INTO misbehaves on a runtime, and the
    benchmark's same-run baseline for the upsert."""
    with ThreadPoolExecutor(2, thread_name_prefix="hubcurate") as pool:  # waits for its jobs
        return _run(spark, lake_root, hub_ids, run_id, fail_at, alerts_topic_arn, sns,
                    database, iceberg_catalog, pool, upsert)


def _generations(tables, table: str, hubs) -> dict:
    return build.generations(tables.read(table, hubs))


def _run(spark, lake_root, hub_ids, run_id, fail_at, alerts_topic_arn, sns, database,
         iceberg_catalog, pool, allow_upsert) -> dict:
    lap = _Phases()
    store = open_store(lake_root)
    tables = iceberg.Tables(spark, lake_root, database, iceberg_catalog)
    ops = tables.ops()
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    run_id = run_id or f"{dt.datetime.utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    report = {"run_id": run_id, "hub_ids": hub_ids, "new_files": 0, "tables": {}, "drift": [],
              "airbyte_changes": [], "typing_failures": [], "quarantined": [],
              "unrecognised": [], "unknown_streams": [], "upserted": [], "seconds": lap.seconds}
    known: dict[str, dict[str, set]] = {}  # {hub: {table: property names}} seen before
    seen: dict[str, set] = {}  # {hub: {(key, etag)}} in processed_files
    labels_listing: dict[str, dict] = {}  # {hub: association_labels/ keys}

    def processed(hubs):
        files, props = bookkeeping.seen(ops, hubs)
        known.update(props)
        seen.update(files)
        return files
    new, _ = find_new(store, hub_ids, report, processed, labels_listing)
    lap("find_new")
    report["new_files"] = sum(map(len, new.values()))
    held: dict[str, dict[str, dict]] = {}  # quarantined by this run: {hub: {key: info}}

    def hold(hub, key, reason):
        size, etag = new[hub].pop(key)
        held.setdefault(hub, {})[key] = {"etag": etag, "size": size, "reason": reason}

    # files that cannot be Parquet, from their size and ends alone
    hub_of = {k: h for h, files in new.items() for k in files}
    for k, why in quarantine.structural_problems(
            store, {k: size for files in new.values() for k, (size, _) in files.items()}).items():
        hold(hub_of[k], k, why)
    lap("structural_checks")
    by_stream: dict[str, dict[str, list[str]]] = {}
    key_of: dict[str, tuple[str, str]] = {}
    for h, files in new.items():
        for k in sorted(files):
            by_stream.setdefault(ingest.parse_key(k)[1], {}).setdefault(h, []).append(store.path(k))
            key_of[store.path(k)] = (h, k)
    report["unknown_streams"] = [{"stream": st, "hub_ids": sorted(by_hub)}
                                 for st, by_hub in sorted(by_stream.items())
                                 if st not in catalog.KNOWN_STREAMS]
    while True:  # read; a file that fails only when its pages are read is set aside, then again
        drift: list = []
        checked, kinds, touched = _read_all(spark, by_stream, drift,
                                            lambda path, why: hold(*key_of[path], why))
        # the current rows' generations of the tables that have some (a small job each), in
        # the background while the checks run: this run commits a table only after using them
        early = {t: (hs, pool.submit(_generations, tables, t, hs)) for t, hs in
                 ((t, frozenset(touched[t])) for t in checked) if tables.exists(t)}
        try:  # the first full read (it fills the cache)
            files, changes = checks.read_checks(checked)
            break
        except Exception as e:
            if not ingest.is_unreadable(e):
                raise
            for df in checked.values():
                df.unpersist()
            bad = ingest.find_unreadable(spark, by_stream)
            if not bad:
                raise
            for path, why in bad.items():
                hold(*key_of[path], why)
                for by_hub in by_stream.values():
                    for paths in by_hub.values():
                        if path in paths:
                            paths.remove(path)
    cached = list(checked.values())
    foreign = {r._file for rows in files.values() for r in rows if r.foreign}
    lap("read_and_check")
    for t in list(checked):
        checked[t], files[t] = _drop_foreign_files(checked[t], files[t], key_of, hold)
    report["drift"] += drift
    # association labels (our reader's snapshots): checked and read here, so a bad snapshot
    # is quarantined with the files below, before any commit
    association_labels.ensure_table(spark, tables)
    labels = association_labels.prepare(
        spark, store, tables, labels_listing, seen, lambda hub, key, size, etag, why: held
        .setdefault(hub, {}).__setitem__(key, {"etag": etag, "size": size, "reason": why}),
        report)
    report["association_labels"] = labels.snapshots
    if held:  # before anything is published: a crash after this only redoes the good files
        quarantine.add(store, held, run_id)
    report["quarantined"] = quarantine.report(held, run_id, alerts_topic_arn, sns)
    _report_unfit(report)
    if labels.rows is not None:  # the first data commit of the run
        report["tables"][association_labels.TABLE] = _commit(
            fail_at, association_labels.TABLE, tables.replace, labels.rows,
            association_labels.TABLE, labels.hubs, run_id)
        lap(f"table:{association_labels.TABLE}")
    if not checked:
        log.info(json.dumps({"msg": "nothing new", **report}, default=str)[:4000])
        if held or labels.files:
            bookkeeping.write_report(spark, ops, bookkeeping.report_rows(
                report, labels.files, held, labels.per_file), run_id)
            _hook(fail_at, "before_processed")
            bookkeeping.record(spark, ops, labels.files, labels.per_file, run_id)
        for df in labels.cached:
            df.unpersist()
        return report
    report["airbyte_changes"] += checks.airbyte_changes(changes, foreign)
    per_file = checks.inputs(files, {t: checks.typed_checks(df) for t, df in checked.items()},
                             known, report, lambda f: _key_of_file(f, key_of))
    lap("report_inputs")
    # Deals carry owner and stage labels: new owners/pipelines rebuild the account's deals.
    label_hubs = touched.get("owners", set()) | touched.get("deal_pipelines", set())
    deal_hubs = tables.hubs("deals") & label_hubs if label_hubs else set()
    if deal_hubs:
        touched["deals"] = touched.get("deals", set()) | deal_hubs
        kinds.setdefault("deals", "crm")
    for table in catalog.build_order(touched):
        hubs = touched[table]
        rows = build.rows_of(checked[table]) if table in checked else None
        current = tables.read(table, hubs)
        if table == "deals" and current is not None:
            current = current.drop(*catalog.DEAL_LABELS)
        if rows is None and current is None:
            continue
        # a full refresh's older generations (new ones: from read_checks; current ones: a
        # small aggregation, collected ahead when the accounts are the same; cheaper than a
        # window over the merge: measured, the window's unordered frame buffers each
        # account's rows); a table rebuilt for its labels only has nothing new to compare
        if rows is None:
            stale = {}
        else:
            ahead = early.get(table)
            stale = build.stale_generations(checks.spans(files[table]), {} if current is None
                                            else ahead[1].result() if ahead and ahead[0] ==
                                            frozenset(hubs) else build.generations(current))
        # Only new rows of accounts the table has, of their streams' current generations, and
        # no labels to rebuild: merged in (only the new rows written); else the accounts' rows
        # are rebuilt (a table's first write, a full refresh, deals relabelled).
        upsert = allow_upsert and rows is not None and current is not None and not stale \
            and not (table == "deals" and deal_hubs)
        merged = build.merge(rows, None if upsert else current, stale)
        if table == "deals":
            merged = build.join_deals(merged, tables.read("deal_pipelines", hubs),
                                      tables.read("owners", hubs))
        report["tables"][table] = _commit(
            fail_at, table, *(tables.upsert, merged, table, hubs, run_id, build.NEWER) if upsert
            else (tables.replace, merged, table, hubs, run_id))
        if upsert:
            report["upserted"].append(table)
        lap(f"table:{table}")
    for df in cached + labels.cached:
        df.unpersist()
    # Bookkeeping after every data commit (hubcurate/bookkeeping.py): the report, then the
    # processed files last, so a crash before that only means the files are read again.
    new = {h: {**new.get(h, {}), **labels.files.get(h, {})} for h in {*new, *labels.files}}
    per_file = {**per_file, **labels.per_file}
    bookkeeping.write_report(spark, ops, bookkeeping.report_rows(report, new, held, per_file),
                             run_id)
    _hook(fail_at, "before_processed")
    bookkeeping.record(spark, ops, new, per_file, run_id)
    lap("bookkeeping")
    log.info(json.dumps({"msg": "curate run done", "run_id": run_id,
                         "new_files": report["new_files"], "drift": report["drift"][:20],
                         "seconds": lap.seconds}))
    return report


def _read_all(spark, by_stream, drift, unreadable):
    """Every stream's new files -> ({table: checked rows, cached}, {table: kind},
    {table: hubs}). Cached once, typed with their checks (build.checked_rows): the report's
    aggregations and the table's merge read the same pass."""
    inter, kinds, touched = {}, {}, {}
    for stream, paths in sorted(by_stream.items()):
        paths = {h: ps for h, ps in paths.items() if ps}
        if not paths:
            continue
        df, has_props = ingest.read_stream(spark, paths, stream, drift, unreadable=unreadable)
        if df is None:  # every file of the stream was unreadable
            continue
        t = catalog.table_of(stream)
        inter[t] = df if t not in inter else inter[t].unionByName(df)
        kinds[t] = catalog.kind_of(t, has_props or kinds.get(t) == "crm")
        touched.setdefault(t, set()).update(paths)
    checked = {t: build.checked_rows(df, t, kinds[t]).persist(StorageLevel.MEMORY_AND_DISK)
               for t, df in inter.items()}
    return checked, kinds, touched


def _key_of_file(f: str, key_of: dict):
    """(hub, key) of a row's ``input_file_name()`` (Spark may spell file:/// as file:/)."""
    if f in key_of:
        return key_of[f]
    return next((v for p, v in key_of.items() if f.endswith(p.split("://", 1)[-1])), None)


def _drop_foreign_files(df, files, key_of, hold):
    """Rows of files whose schema is not an Airbyte record's (no _airbyte_raw_id or
    _airbyte_extracted_at: the file matches no stream) are quarantined, not curated.
    ``files``: checks.read_checks' rows of ``df``. -> (df, files) without them."""
    bad = [r._file for r in files if r.foreign]
    for f in bad:
        found = _key_of_file(f, key_of)
        if found is not None:
            hold(*found, "schema matches no stream (no _airbyte_raw_id/_extracted_at)")
    if not bad:
        return df, files
    return df.where(~F.col("_file").isin(bad)), [r for r in files if not r.foreign]


def _report_unfit(report: dict) -> None:
    """Keys that are not raw files and streams outside the connector's catalogue: a log line
    and a metric each, so an operator sees them (they are otherwise skipped / curated as is)."""
    for name, items in (("UnrecognisedRawKeys", report["unrecognised"]),
                        ("UnknownStreams", report["unknown_streams"])):
        if items:
            log.warning(json.dumps({"msg": f"curate: {name}", "run_id": report["run_id"],
                                    "count": len(items), "first": items[:20]}))
            quarantine.metric_line(name, len(items), report["run_id"])


def _commit(fail_at, table, write, *args):
    """``write(*args, kill=...)``: the table's one commit of the run. The ``fail_at`` hooks:
    ``during_write:<table>`` fails its tasks before the commit, ``after_commit:<table>``
    stops right after it."""
    try:
        stats = write(*args, kill=fail_at == f"during_write:{table}")
    except Exception as e:
        if fail_at == f"during_write:{table}":
            raise Killed(fail_at) from e
        raise
    _hook(fail_at, f"after_commit:{table}")
    return stats


def _hook(fail_at, point):
    if fail_at == point:
        raise Killed(point)


def purge(spark, lake_root: str, hub_ids: str, retention_hours: float = 0, database: str = "",
          iceberg_catalog: str = "") -> dict:
    """Uninstalled accounts out of the curated layer: their rows from every Iceberg table, the
    bookkeeping tables included (one commit per table), the snapshots older than
    ``retention_hours`` expired with the data files only they held (hubcurate/iceberg.py; the
    scheduled maintenance expires the younger ones once they age past it), then their
    quarantine records: a re-install starts from nothing."""
    hubs = sorted({h.strip() for h in hub_ids.split(",") if h.strip()})
    if not hubs or not all(h.isdigit() for h in hubs):
        raise ValueError(f"purge needs numeric hub ids, got {hub_ids!r}")
    store = open_store(lake_root)
    tables = iceberg.Tables(spark, lake_root, database, iceberg_catalog)
    rows = tables.purge(hubs, retention_hours)
    bookkeeping_rows = tables.ops().purge(hubs, retention_hours)
    for h in hubs:
        store.delete_prefix(quarantine.record_key(h))
    report = {"purged_hub_ids": hubs, "rows_deleted": rows, "bookkeeping_deleted": bookkeeping_rows}
    log.info(json.dumps({"msg": "curate purge done", **report}))
    return report


def maintain(spark, lake_root: str, retention_hours: float, orphan_older_than_hours: float,
             database: str = "", iceberg_catalog: str = "", raw_restorable_days: float = 30,
             run_id: str | None = None) -> dict:
    """Scheduled table maintenance (``--mode maintenance``): first processed_files forgets the
    raw file versions that can never be listed again (older than ``raw_restorable_days`` since
    they left the listing; bookkeeping.forget_gone), then, every table of both namespaces:
    rewrite small data files, expire snapshots older than ``retention_hours`` (so a purged
    account's rows leave the snapshots the purge kept within retention), then delete orphan
    files older than ``orphan_older_than_hours`` (a killed run's data files). Each step is a
    bounded Iceberg procedure; the job's timeout bounds the run. {table: what each did}."""
    if orphan_older_than_hours < 24:  # remove_orphan_files refuses it too, less clearly
        raise ValueError("orphan files younger than 24 hours may belong to a write not yet "
                         f"committed: --orphan_older_than_hours {orphan_older_than_hours} < 24")
    tables = iceberg.Tables(spark, lake_root, database, iceberg_catalog)
    run_id = run_id or f"maintenance-{dt.datetime.utcnow():%Y%m%dT%H%M%S}"
    forgotten = bookkeeping.forget_gone(spark, tables.ops(), open_store(lake_root).listing("raw/"),
                                        raw_restorable_days * 24, run_id)
    out = {}
    for ns in (tables, tables.ops()):
        for t in ns.tables():
            out[f"{ns.database}.{t}"] = {
                "compacted": ns.compact(t),
                "expired_data_files": ns.expire(t, retention_hours),
                "orphans_removed": ns.remove_orphans(t, orphan_older_than_hours)}
    log.info(json.dumps({"msg": "curate maintenance done", "tables": out,
                         "processed_files": forgotten}))
    return {"maintained": out, "processed_files": forgotten}
