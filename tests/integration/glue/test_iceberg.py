"""The curated tables are Iceberg tables an independent reader (pyiceberg + DuckDB, not the
job's code) reads with the same counts; each run commits each table it touches once; new
columns arrive by Iceberg schema evolution; `./dev query` answers SQL over them."""
import csv
import io
import json

import pytest
from conftest import T0

from hubcurate import catalog, iceberg, job
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000


def _spark_counts(spark, root, table):
    df = iceberg.Tables(spark, root).read(table)
    return {x.hub_id: x.n for x in df.groupBy("hub_id").count().withColumnRenamed("count", "n")
            .collect()}


@pytest.mark.slow
def test_tables_are_iceberg_v2_and_an_independent_reader_gets_the_same_counts(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 6, "deals": 4}, T0)
    r.write_account(d, b, 2, {"contacts": 3, "deals": 5}, T0)
    first = job.run(spark, root, "ALL", run_id="run-1")
    names = lake_query.table_names(root)
    assert {"contacts", "deals", "owners", "deal_pipelines"} <= set(names)
    independent = lake_query.summary(root)
    for t in names:
        meta = lake_query.load(root, t).metadata
        assert meta.format_version == 2
        [field] = meta.spec().fields
        assert (meta.schema().find_field(field.source_id).name, str(field.transform)) == \
            ("hub_id", "identity")
        assert {h: p["rows"] for h, p in independent[t].items()} == _spark_counts(spark, root, t)
        assert {h: {"rows": p["rows"], "deleted": p["deleted"]}
                for h, p in independent[t].items()} == first["tables"].get(t, {})
    assert independent["contacts"]["1"]["rows"] == 6 and independent["deals"]["2"]["rows"] == 5
    # one (hub_id, id) per row, as read by DuckDB
    _, dup = lake_query.query("SELECT hub_id, id FROM deals GROUP BY 1, 2 HAVING count(*) > 1",
                              root)
    assert dup == []
    snaps = {t: lake_query.load(root, t).metadata.snapshots for t in names}

    # a second run touching only account 2's contacts: one new snapshot there, nothing else
    r.write_airbyte_parquet(d, b, 2, "contacts", [r.crm_record(50, {"email": "a@b.co"},
                                                                r._iso(T0 + DAY))],
                            T0 + DAY, 0, 2, r.account_schema("contacts", {}))
    job.run(spark, root, "ALL", run_id="run-2")
    for t in names:
        after = lake_query.load(root, t).metadata.snapshots
        if t != "contacts":
            assert after == snaps[t]
            continue
        assert len(after) == len(snaps[t]) + 1
        assert after[-1].summary["hubcurate.run_id"] == "run-2"
        assert after[-1].summary["changed-partition-count"] == "1"  # account 2 only
    assert lake_query.summary(root)["contacts"] == {
        "1": {"rows": 6, "live": 6, "deleted": 0}, "2": {"rows": 4, "live": 4, "deleted": 0}}

    # SQL over the tables, as `./dev query` prints it
    cols, got = lake_query.query(
        "SELECT hub_id, count(*) AS deals, sum(amount) IS NOT NULL AS has_amount FROM deals "
        "GROUP BY hub_id ORDER BY hub_id", root)
    assert cols == ["hub_id", "deals", "has_amount"] and [g[:2] for g in got] == [("1", 4), ("2", 5)]
    assert list(csv.reader(io.StringIO(lake_query.render(cols, got, "csv"))))[1][:2] == ["1", "4"]
    assert json.loads(lake_query.render(cols, got, "json"))[1]["deals"] == 5


@pytest.mark.slow
def test_a_new_typed_column_arrives_by_schema_evolution(spark, lake, monkeypatch):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 3}, T0, custom={"tier": "gold"})
    r.write_account(d, b, 2, {"contacts": 2}, T0, custom={"tier": "gold"})
    job.run(spark, root, "ALL")
    before = lake_query.load(root, "contacts").metadata.schema()
    assert "tier" not in [f.name for f in before.fields]
    # the job learns a typed column: account 2's next run rewrites its rows with it
    monkeypatch.setitem(catalog.TYPED, "contacts", {**catalog.TYPED["contacts"], "tier": "string"})
    r.write_account(d, b, 2, {"contacts": 1}, T0 + DAY, custom={"tier": "gold"}, first_id=10)
    job.run(spark, root, "ALL")
    after = lake_query.load(root, "contacts").metadata
    assert after.schema().fields[-1].name == "tier" and after.schema().schema_id > before.schema_id
    assert after.schema().find_field("tier").field_id > max(f.field_id for f in before.fields)
    got = {(x["hub_id"], x["id"]): x for x in
           lake_query.load(root, "contacts").scan().to_arrow().to_pylist()}
    assert got[("2", "10")]["tier"] == "gold-10" and got[("1", "1")]["tier"] is None
    assert dict(got[("1", "1")]["custom_properties"]) == {"tier": "gold-1"}  # kept in the map


@pytest.mark.slow
def test_purge_deletes_an_account_in_one_commit_per_table_and_its_files(spark, lake):
    import curate_job
    d, b, root = lake
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 3, "deals": 2}, T0)
    job.run(spark, root, "ALL")
    # the tables with rows (association_labels is there from the first run on, empty here)
    names = [t for t in lake_query.table_names(root) if lake_query.load(root, t).metadata.snapshots]
    before = {t: len(lake_query.load(root, t).metadata.snapshots) for t in names}
    rep = curate_job.main(["--lake_root", root, "--purge_hub_ids", "1"], spark=spark)
    assert rep["rows_deleted"]["contacts"] == 3 and set(rep["rows_deleted"]) == set(names)
    independent = lake_query.summary(root)
    assert all(set(independent[t]) == {"2"} for t in names)  # account 2 reads on, complete
    assert independent["contacts"]["2"]["rows"] == 3
    for t in names:
        meta = lake_query.load(root, t).metadata
        assert meta.snapshots[-1].summary.operation.value == "delete" and before[t] >= 1
        assert len(meta.snapshots) == 1  # the snapshots that held account 1 are expired
    left = [p for p in (d / b / "curated").rglob("*.parquet") if "hub_id=1" in str(p)]
    assert left == []  # its data files are deleted with the snapshots
    ops = lake_query.table_names(root, lake_query.OPS_DATABASE)
    assert set(ops) == {"processed_files", "run_reports"}
    raw_files = len(list((d / b / "raw/1").rglob("*.parquet")))
    assert rep["bookkeeping_deleted"]["processed_files"] == raw_files
    for t in ops:
        hubs = {x["hub_id"] for x in lake_query.load(root, t, lake_query.OPS_DATABASE).scan()
                .to_arrow().to_pylist()}
        assert "1" not in hubs and "2" in hubs
    with pytest.raises(ValueError, match="numeric"):
        job.purge(spark, root, "1/../x")
