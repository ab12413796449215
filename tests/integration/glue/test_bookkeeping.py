"""The job's bookkeeping as Iceberg tables in <database>_ops (processed raw files, run reports),
the commit order between them and the data tables, and the scheduled maintenance."""
import os
import time

import pytest
from conftest import T0, rows

from hubcurate import bookkeeping, job
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000
OPS = lake_query.OPS_DATABASE


def _ops(root, table):
    return lake_query.load(root, table, OPS).scan().to_arrow().to_pylist()


@pytest.mark.slow
def test_a_run_killed_between_the_data_commits_and_the_bookkeeping_rereads_its_files(spark, lake):
    d, b, root = lake
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 4, "deals": 3}, T0)
    first = job.run(spark, root, "ALL")
    assert len(_ops(root, "processed_files")) == first["new_files"]
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 2, "deals": 2}, T0 + DAY, first_id=10)
    with pytest.raises(job.Killed):
        job.run(spark, root, "ALL", run_id="killed", fail_at="before_processed")
    # every data table committed; the files are not recorded as processed
    after_kill = {t: rows(spark, root, t) for t in ("contacts", "deals", "owners")}
    assert len(after_kill["contacts"]) == 12 and len(after_kill["deals"]) == 10
    assert "killed" not in {x["run_id"] for x in _ops(root, "processed_files")}
    snaps = {t: lake_query.load(root, t).metadata.current_snapshot_id for t in after_kill}
    again = job.run(spark, root, "ALL", run_id="again")
    raw = len(list((d / b / "raw").rglob("*.parquet")))
    assert again["new_files"] == raw - first["new_files"] > 0  # the killed run's, all re-read
    # re-reading is idempotent: the same rows (the latest version per (hub_id, id) wins)
    assert {t: rows(spark, root, t) for t in after_kill} == after_kill
    assert all(lake_query.load(root, t).metadata.current_snapshot_id != snaps[t]
               for t in ("contacts", "deals"))
    processed = _ops(root, "processed_files")
    assert sorted({x["run_id"] for x in processed}) == sorted({first["run_id"], "again"})
    assert len({(x["key"], x["etag"]) for x in processed}) == len(processed)  # no file twice
    assert job.run(spark, root, "ALL")["new_files"] == 0
    # the killed run's report was written before the kill: reported at least once, not lost
    assert {"killed", "again"} <= {x["run_id"] for x in _ops(root, "run_reports")}


@pytest.mark.slow
def test_processed_files_and_run_reports_rows(spark, lake):
    d, b, root = lake
    schema = r.crm_stream_schema({k: "string" for k in r.STANDARD["deals"]})
    r.write_airbyte_parquet(d, b, 1, "deals", [
        r.crm_record(1, {"amount": "n/a", "dealname": "x"}, r._iso(T0))], T0, 3, 1, schema)
    r.write_account(d, b, 2, {"companies": 10}, T0, dup_every=0)
    (d / b / "raw/2/companies/notes.txt").write_text("hi")
    rep = job.run(spark, root, "ALL", run_id="run-1")
    # analysts' SHOW TABLES stays clean: the bookkeeping lives in its own namespace
    assert not {"processed_files", "run_reports"} & set(lake_query.table_names(root))
    assert set(lake_query.table_names(root, OPS)) == {"processed_files", "run_reports"}
    files = {x["key"]: x for x in _ops(root, "processed_files")}
    assert len(files) == rep["new_files"]
    deal = next(x for x in files.values() if x["stream"] == "deals" and x["hub_id"] == "1")
    assert (deal["records"], deal["generation"], deal["run_id"]) == (1, 3, "run-1")
    assert {"amount", "dealname"} <= set(deal["properties_added"])  # the account's first names
    reports = {(x["hub_id"], x["stream"]): x for x in _ops(root, "run_reports")}
    one = reports[("1", "deals")]
    assert (one["files_read"], one["records_read"], one["rows_after"], one["known_stream"]) == \
        (1, 1, 1, True)
    assert one["typing_failures"] == [{"column": "amount", "failed": 1}]
    nulled = {(c["field"], c["change"]): c["count"] for c in reports[("2", "companies")]
              ["airbyte_changes"]}
    assert nulled[("properties_annualrevenue", "NULLED")] == 1
    assert reports[("2", "companies")]["unrecognised"] == [
        {"key": "raw/2/companies/notes.txt", "reason": "not a .parquet file"}]
    # drift: a property new to account 1's deals, found from processed_files, not a ledger
    r.write_airbyte_parquet(d, b, 1, "deals", [r.crm_record(2, {"dealname": "y", "fav": "z"},
                                                            r._iso(T0 + DAY))], T0 + DAY, 3, 2,
                            r.crm_stream_schema({"dealname": "string", "fav": "string"}))
    rep2 = job.run(spark, root, "1", run_id="run-2")
    assert {"event": "properties_added", "table": "deals", "hub_id": "1",
            "properties": ["fav"]} in rep2["drift"]
    cols, got = lake_query.query(
        "SELECT run_id, d.event, d.details FROM (SELECT run_id, unnest(drift) AS d "
        "FROM hubspot_ops.run_reports) WHERE d.event = 'properties_added'", root)
    assert got == [("run-2", "properties_added",
                    '{"hub_id": "1", "properties": ["fav"], "table": "deals"}')]


@pytest.mark.slow
def test_bookkeeping_rows_built_in_the_jvm_equal_create_dataframe(spark):
    """hubcurate/frames.py stands in for spark.createDataFrame (no Python workers): same schema,
    same values (nested structs, empty arrays, nulls, quotes, non-ASCII, timestamps), one task,
    and more rows than one literal holds."""
    import datetime as dt

    from hubcurate import frames
    now = dt.datetime(2026, 12, 7, 6, 3, 51, 721332)
    processed = [("1", "contacts", "raw/1/contacts/a.parquet", "e1", 10, 5, 0, ["x", "y"], "r1",
                  now), ("2", "deals", "raw/2/deals/b.parquet", 'e"2', 11, 0, None, [], "r1", None)]
    reports = [("r1", now, "1", "contacts", "contacts", True, 1, 5, 0, 10, 2,
                [("properties_added", '{"a": "\u00e9"}')], [("f", "c", "r", 3)], [("email", 2)],
                [], [("raw/x", "why")]),
               ("r1", now, None, None, None, None, 0, 0, 0, None, None, [], [], [], [], [])]
    for data, schema in ((processed, bookkeeping.PROCESSED_SCHEMA),
                         (reports, bookkeeping.REPORT_SCHEMA)):
        want, got = spark.createDataFrame(data, schema), frames.local_frame(spark, data, schema)
        assert got.schema == want.schema
        assert sorted(map(str, got.collect())) == sorted(map(str, want.collect()))
        assert got.rdd.getNumPartitions() == 1
    many = [("1", "s", f"k{i}", "e", i, i, i, [], "r", now) for i in range(frames.CHUNK + 5)]
    assert frames.local_frame(spark, many, bookkeeping.PROCESSED_SCHEMA).count() == len(many)
    assert frames.local_frame(spark, [], bookkeeping.PROCESSED_SCHEMA).count() == 0


@pytest.mark.slow
def test_maintenance_compacts_expires_and_removes_orphans_so_a_purged_account_is_gone(spark, lake):
    import curate_job
    d, b, root = lake
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 3, "deals": 2}, T0)
    job.run(spark, root, "ALL")
    for day in (1, 2, 3, 4, 5):  # small files: one per run and account
        r.write_airbyte_parquet(d, b, 2, "contacts", [r.crm_record(100 + day, {"email": "a@b.co"},
                                                                   r._iso(T0 + day * DAY))],
                                T0 + day * DAY, 0, 2, r.account_schema("contacts", {}))
        job.run(spark, root, "2")
    r.write_account(d, b, 2, {"contacts": 1}, T0 + 9 * DAY, first_id=500)
    with pytest.raises(job.Killed):  # leaves data files no snapshot references
        job.run(spark, root, "ALL", fail_at="during_write:contacts")
    # an uninstall within the retention: account 1's rows leave the current snapshots only
    curate_job.main(["--lake_root", root, "--purge_hub_ids", "1", "--purge_retention_hours",
                     "24"], spark=spark)

    def hubs_in_snapshots(table, database=lake_query.DEFAULT_DATABASE):
        t = lake_query.load(root, table, database)
        return {x["hub_id"] for s in t.metadata.snapshots
                for x in t.scan(snapshot_id=s.snapshot_id, selected_fields=("hub_id",))
                .to_arrow().to_pylist()}
    assert "1" in hubs_in_snapshots("contacts")  # time travel still reaches it
    files_before = sorted((d / b / "curated/hubspot/contacts").rglob("*.parquet"))
    with pytest.raises(ValueError, match="24 hours"):  # Iceberg's own floor, said up front
        job.maintain(spark, root, 0, 1)
    # a process killed while writing leaves its data files (Spark's task abort, as above,
    # cleans up after itself; a killed JVM cannot): one such file, from two days ago
    data = d / b / "curated/hubspot/contacts/data"
    orphan = data / "hub_id=2" / "00000-killed-run.parquet"
    orphan.write_bytes(next(data.rglob("*.parquet")).read_bytes())
    two_days_ago = time.time() - 48 * 3600
    for f in (d / b / "curated").rglob("*"):
        os.utime(f, (two_days_ago, two_days_ago))
    rep = curate_job.main(["--lake_root", root, "--mode", "maintenance",
                           "--snapshot_retention_hours", "0", "--orphan_older_than_hours", "24"],
                          spark=spark)
    m = rep["maintained"]
    assert {"hubspot.contacts", "hubspot.deals", "hubspot_ops.processed_files",
            "hubspot_ops.run_reports"} <= set(m)
    assert m["hubspot.contacts"]["orphans_removed"] == 1 and not orphan.exists()
    for name in m:
        database, table = name.split(".")
        assert hubs_in_snapshots(table, database) <= {"2", None}, name
        # association_labels exists from the first run on, empty here (no labels snapshot)
        assert len(lake_query.load(root, table, database).metadata.snapshots) >= 1 or \
            table == "association_labels"
    assert [p for p in (d / b / "curated").rglob("*.parquet") if "hub_id=1" in str(p)] == []
    files_after = sorted((d / b / "curated/hubspot/contacts").rglob("*.parquet"))
    assert len(files_after) < len(files_before)
    # the tables read on, with every row of account 2
    assert lake_query.summary(root)["contacts"] == {"2": {"rows": 8, "live": 8, "deleted": 0}}
    assert job.run(spark, root, "ALL")["new_files"] > 0  # the killed run's files, read again


@pytest.mark.slow
def test_maintenance_forgets_a_processed_file_only_once_its_raw_version_cannot_return(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 6}, T0, files_per_stream=3)
    job.run(spark, root, "ALL")
    rows = {x["key"]: x for x in _ops(root, "processed_files")}
    contacts = sorted(k for k in rows if "/contacts/" in k)
    first, gone, back = contacts  # the first file introduced the account's property names
    assert rows[first]["properties_added"] and not rows[gone]["properties_added"]
    kept = {p: ((d / b / p).read_bytes(), (d / b / p).stat().st_mtime_ns) for p in (first, back)}
    for k in (first, gone, back):  # deleted (Airbyte's overwrite refresh, an operator)
        (d / b / k).unlink()
    # a version just gone may still be restored (the bucket keeps replaced and deleted
    # versions NoncurrentDays): marked, not forgotten
    rep = job.maintain(spark, root, 168, 72, raw_restorable_days=30)
    assert rep["processed_files"] == {"missing": 3, "forgotten": 0}
    marked = {x["key"]: x["missing_since"] for x in _ops(root, "processed_files")}
    assert {k for k, v in marked.items() if v} == {first, gone, back}
    # one comes back under its key and ETag (a restore): it is no longer missing
    data, mtime = kept[back]
    (d / b / back).write_bytes(data)
    os.utime(d / b / back, ns=(mtime, mtime))
    rep = job.maintain(spark, root, 168, 72, raw_restorable_days=0)  # past the restore window
    assert rep["processed_files"] == {"missing": 2, "forgotten": 1}
    after = {x["key"]: x for x in _ops(root, "processed_files")}
    assert gone not in after and after[back]["missing_since"] is None
    assert after[first]["missing_since"] is not None  # kept: drift is measured against its names
    assert set(after) == set(rows) - {gone}
    # the restored file is not read again, and a file with the same names is no drift
    r.write_airbyte_parquet(d, b, 1, "contacts", [r.crm_record(50, r._props("contacts", 50, 1, T0,
                                                                            {}), r._iso(T0 + DAY))],
                            T0 + DAY, 0, 2, r.account_schema("contacts", {}))
    again = job.run(spark, root, "ALL")
    assert again["new_files"] == 1 and not [e for e in again["drift"]
                                            if e["event"] == "properties_added"]
    assert job.maintain(spark, root, 168, 72)["processed_files"] == {"missing": 1, "forgotten": 0}
