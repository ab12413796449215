"""The job's bookkeeping as Iceberg tables in <database>_ops (processed raw files, run reports)
and the commit order between them and the data tables (the scheduled maintenance:
test_maintenance.py)."""
import pytest
from conftest import DAY, T0, ops_rows, rows

from hubcurate import bookkeeping, job
from local_stack import lake_query
from local_stack import raw_lake as r

OPS = lake_query.OPS_DATABASE
_ops = ops_rows


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
