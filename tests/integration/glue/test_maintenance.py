"""The scheduled maintenance of the job's tables (compaction, snapshot expiry, orphan files, a
purged account gone from every snapshot) and of its processed-files bookkeeping. Split from
test_bookkeeping.py so the two Spark-heavy halves can run on different workers."""
import os
import time

import pytest
from conftest import DAY, T0, ops_rows

from hubcurate import job
from local_stack import lake_query
from local_stack import raw_lake as r

_ops = ops_rows


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
