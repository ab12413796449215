"""An incremental run merges its new rows into a table (MERGE INTO, merge-on-read: position
deletes mark the replaced rows, only the new rows are written) and the table then reads, to an
independent reader too, exactly as a rebuild from the same raw files would; maintenance folds
the deletes in; a purge leaves none of the account's files, delete files included; a table
created before the switch (it accepted any schema, which Spark's MERGE cannot resolve) is
settled on its next write."""
import shutil

import pytest
from conftest import T0

from hubcurate import iceberg, job
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000


def _write_changes(d, b, hub, ms):
    """Account ``hub``'s next sync: contact 2 updated, contact 3 in an older version (a late,
    stale copy: it must not win), contact 50 new; deal 1 updated (deals keep their labels)."""
    contacts = [r.crm_record(2, {"email": "new@b.co", "firstname": "Renamed"}, r._iso(ms)),
                r.crm_record(3, {"email": "old@b.co"}, r._iso(T0 - DAY)),
                r.crm_record(50, {"email": "fifty@b.co"}, r._iso(ms))]
    r.write_airbyte_parquet(d, b, hub, "contacts", contacts, ms, 0, 2,
                            r.account_schema("contacts", {}))
    deals = [r.crm_record(1, {"dealname": "Bigger", "amount": "999", "dealstage": "closedwon",
                              "pipeline": "default", "hubspot_owner_id": "101"}, r._iso(ms))]
    r.write_airbyte_parquet(d, b, hub, "deals", deals, ms, 0, 2, r.account_schema("deals", {}), 1)


def _rows(root, table):
    return {(x["hub_id"], x["id"]): x for x in
            lake_query.load(root, table).scan().to_arrow().to_pylist()}


def _summary(root, table):
    return lake_query.load(root, table).metadata.snapshots[-1].summary


@pytest.mark.slow
def test_an_incremental_run_upserts_and_reads_as_a_rebuild_would(spark, lake, tmp_path):
    d, b, root = lake
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 6, "deals": 4}, T0)
    first = job.run(spark, root, "ALL", run_id="run-1")
    assert first["upserted"] == []  # first writes create the tables
    _write_changes(d, b, 2, T0 + DAY)
    second = job.run(spark, root, "ALL", run_id="run-2")
    assert sorted(second["upserted"]) == ["contacts", "deals"]

    summary = _summary(root, "contacts")
    assert summary["hubcurate.run_id"] == "run-2"
    # the two rows that won were written, one old row marked deleted; account 1 untouched
    assert (summary["added-records"], summary["added-position-deletes"],
            summary["changed-partition-count"]) == ("2", "1", "1")
    got = _rows(root, "contacts")
    assert got[("2", "2")]["firstname"] == "Renamed" and got[("2", "50")]["email"] == "fifty@b.co"
    assert got[("2", "3")]["email"] == "user3@example2.com"  # the stale copy lost
    deal = _rows(root, "deals")[("2", "1")]
    assert (deal["amount"], deal["dealstage_label"], deal["owner_name"]) == \
        (999.0, "Closed Won", "Owner1 Smith")

    # the same raw files curated in one run from nothing: every row, every column the same
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(d / b / "raw", rebuilt / b / "raw")
    rebuilt_root = f"file://{rebuilt}/{b}/"
    job.run(spark, rebuilt_root, "ALL", run_id="rebuild")
    for table in ("contacts", "deals", "owners", "deal_pipelines"):
        assert _rows(root, table) == _rows(rebuilt_root, table), table
    # Spark reads what pyiceberg + DuckDB read (both apply the position deletes)
    spark_counts = {x.hub_id: x["count"] for x in
                    iceberg.Tables(spark, root).read("contacts").groupBy("hub_id").count().collect()}
    assert {h: v["rows"] for h, v in lake_query.summary(root)["contacts"].items()} == \
        spark_counts == {"1": 6, "2": 7}

    # maintenance rewrites the files with deletes: no delete file left, the rows the same
    before = _rows(root, "contacts")
    job.maintain(spark, root, retention_hours=0, orphan_older_than_hours=24)
    assert _summary(root, "contacts")["total-delete-files"] == "0"
    assert _rows(root, "contacts") == before

    # a purge after more upserts leaves no file of the account: data and delete files
    _write_changes(d, b, 2, T0 + 2 * DAY)
    assert "contacts" in job.run(spark, root, "ALL")["upserted"]
    assert int(_summary(root, "contacts")["total-delete-files"]) >= 1
    job.purge(spark, root, "2")
    left = [p for p in (d / b / "curated").rglob("*.parquet") if "hub_id=2" in str(p)]
    assert left == []
    assert set(lake_query.summary(root)["contacts"]) == {"1"}


@pytest.mark.slow
def test_a_table_from_before_the_switch_is_settled_on_its_next_write(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 3, "deals": 2}, T0)
    job.run(spark, root, "ALL")
    tables = iceberg.Tables(spark, root)
    name = tables.name("contacts")
    # as the tables of earlier releases were: any schema accepted, no merge mode
    spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ('write.spark.accept-any-schema' = 'true')")
    spark.sql(f"ALTER TABLE {name} UNSET TBLPROPERTIES ('write.merge.mode')")
    _write_changes(d, b, 1, T0 + DAY)
    report = job.run(spark, root, "ALL")
    assert "contacts" in report["upserted"]
    props = {x.key: x.value for x in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    assert "write.spark.accept-any-schema" not in props
    assert props["write.merge.mode"] == "merge-on-read"
    assert _rows(root, "contacts")[("1", "2")]["firstname"] == "Renamed"


def test_upsert_off_rewrites_what_would_be_merged(spark, lake):
    """The job's ``--upsert off`` (the way back if MERGE misbehaves on a runtime): the same
    incremental run replaces the accounts' rows instead, to the same result."""
    import curate_job

    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 3, "deals": 2}, T0)
    curate_job.main(["--lake_root", root], spark=spark)
    _write_changes(d, b, 1, T0 + DAY)
    with pytest.raises(ValueError, match="--upsert 'sideways': auto .* or off"):
        curate_job.main(["--lake_root", root, "--upsert", "sideways"], spark=spark)
    report = curate_job.main(["--lake_root", root, "--upsert", "off"], spark=spark)
    assert report["upserted"] == [] and report["new_files"] == 2
    summary = _summary(root, "contacts")
    # every row of the account written again (the upsert would write 2 and one position delete)
    assert (summary["added-records"], summary["deleted-records"]) == ("4", "3")
    assert summary.get("added-position-deletes") is None
    got = _rows(root, "contacts")
    assert got[("1", "2")]["firstname"] == "Renamed" and ("1", "50") in got
    assert got[("1", "3")]["email"] == "user3@example1.com"  # the stale copy lost here too
