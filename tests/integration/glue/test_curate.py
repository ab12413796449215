"""The curate job on real Airbyte-shaped Parquet, local PySpark."""
import json

from conftest import T0, rows

from hubcurate import iceberg, job, reader
from hubcurate.store import LocalStore
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000


def _deals(d, bucket, hub, recs, ms, gen=0, custom=None):
    return r.write_airbyte_parquet(d, bucket, hub, "deals", recs, ms, gen, 1,
                                   r.account_schema("deals", custom or {}))


def test_duplicates_across_files_collapse_to_the_latest(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [r.crm_record(7, {"dealname": "old", "amount": "1"}, r._iso(T0))], T0)
    _deals(d, b, 1, [r.crm_record(7, {"dealname": "new", "amount": "2"}, r._iso(T0 + 5000)),
                     r.crm_record(8, {"dealname": "x"}, r._iso(T0))], T0 + 9000)
    # the older version delivered again, later (at-least-once): still loses on updatedAt
    _deals(d, b, 1, [r.crm_record(7, {"dealname": "old", "amount": "1"}, r._iso(T0))], T0 + 20000)
    job.run(spark, root, "1")
    got = rows(spark, root, "deals")
    assert len(got) == 2
    assert got[("1", "7")].dealname == "new" and got[("1", "7")].amount == 2.0


def test_a_delete_flags_the_row(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [r.crm_record(i, {"dealname": f"d{i}"}, r._iso(T0)) for i in (1, 2)], T0)
    job.run(spark, root, "1")
    r.archive_deals(d, b, 1, [2], T0 + DAY)
    rep = job.run(spark, root, "1")
    got = rows(spark, root, "deals")
    assert got[("1", "2")].is_deleted and not got[("1", "1")].is_deleted
    assert got[("1", "2")].dealname == "Deal 2"  # the archived version is the latest
    assert rep["tables"]["deals"]["1"] == {"rows": 2, "deleted": 1}
    assert lake_query.summary(root)["deals"]["1"] == {"rows": 2, "live": 1, "deleted": 1}


def test_new_custom_property_in_one_account_does_not_break_another(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 6}, T0)
    r.write_account(d, b, 2, {"contacts": 6}, T0, custom={"tier": "gold"})
    job.run(spark, root, "1,2")
    before = rows(spark, root, "contacts", 1)
    r.write_account(d, b, 2, {"contacts": 3}, T0 + DAY, custom={"tier": "gold", "fav": "blue"},
                    first_id=100)
    rep = job.run(spark, root, "ALL")
    assert {"event": "properties_added", "table": "contacts", "hub_id": "2",
            "properties": ["fav"]} in rep["drift"]
    assert rows(spark, root, "contacts", 1) == before  # account 1 untouched, same schema
    c2 = rows(spark, root, "contacts", 2)
    assert len(c2) == 9
    assert c2[("2", "100")].custom_properties == {"tier": "gold-100", "fav": "blue-100"}
    assert c2[("2", "1")].custom_properties == {"tier": "gold-1"}
    assert set(reader.read_table(spark, root, "contacts").columns) == set(
        reader.read_table(spark, root, "contacts", ["1"]).columns)


def test_typing_and_normalisation(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 4, "companies": 10}, T0)
    c = rows(spark, root, "contacts") or (job.run(spark, root, "1") and rows(spark, root, "contacts"))
    one = c[("1", "1")]
    assert one.email == "user1@example1.com"
    assert one.website == "site1.example.com"
    assert one.lastname is None  # "" -> null
    assert one.hs_email_optout is True and one.num_conversion_events == 1
    assert one.hs_buying_role == ["BUDGET_HOLDER", "END_USER"]
    assert one.createdate.isoformat().startswith("2023-11-13T22:13:20")
    co = rows(spark, root, "companies")
    assert co[("1", "3")].domain == "company3.example.com" and co[("1", "3")].numberofemployees == 13
    assert co[("1", "10")].annualrevenue is None  # "" was nulled by Airbyte


def test_string_values_epoch_ms_and_typing_failures(spark, lake):
    d, b, root = lake
    # an account whose connector declared everything as string (HubSpot's raw values)
    schema = r.crm_stream_schema({k: "string" for k in r.STANDARD["deals"]})
    recs = [r.crm_record(1, {"amount": "12.5", "closedate": str(T0), "hs_is_closed_won": "TRUE"},
                         r._iso(T0)),
            r.crm_record(2, {"amount": "n/a", "closedate": "", "hs_is_closed_won": "maybe"},
                         r._iso(T0))]
    r.write_airbyte_parquet(d, b, 1, "deals", recs, T0, 0, 1, schema)
    rep = job.run(spark, root, "1")
    got = rows(spark, root, "deals")
    assert got[("1", "1")].amount == 12.5 and got[("1", "1")].hs_is_closed_won is True
    assert got[("1", "1")].closedate.isoformat().startswith("2023-11-14T22:13:20")
    assert got[("1", "2")].amount is None and got[("1", "2")].closedate is None
    fails = {f["column"]: f["failed"] for f in rep["typing_failures"]}
    assert fails == {"amount": 1, "hs_is_closed_won": 1}


def test_airbyte_changes_are_counted(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"companies": 20}, T0, dup_every=0)
    rep = job.run(spark, root, "1")
    nulled = {(c["field"], c["change"]): c["count"] for c in rep["airbyte_changes"]}
    assert nulled[("properties_annualrevenue", "NULLED")] == 2  # ids 10 and 20 had ""


def test_a_row_with_several_changes_counts_once_in_records_and_typing(spark, lake):
    """read_checks explodes a row per Airbyte change: the copies count as changes, not as
    records or typing failures."""
    d, b, root = lake
    recs = [r.crm_record(1, {"numberofemployees": "many", "annualrevenue": "", "domain": "x"},
                         r._iso(T0)),
            r.crm_record(2, {"annualrevenue": "", "domain": "y"}, r._iso(T0)),
            r.crm_record(3, {"annualrevenue": "5", "domain": "ok.io"}, r._iso(T0))]
    r.write_airbyte_parquet(d, b, 1, "companies", recs, T0, 0, 1,
                            r.account_schema("companies", {}))
    rep = job.run(spark, root, "1")
    changes = {(c["field"], c["change"]): c["count"] for c in rep["airbyte_changes"]}
    # each bad value is in the properties struct and its flattened column: two changes
    assert changes == {("properties.numberofemployees", "NULLED"): 1,
                       ("properties_numberofemployees", "NULLED"): 1,
                       ("properties.annualrevenue", "NULLED"): 2,
                       ("properties_annualrevenue", "NULLED"): 2}
    assert rep["records_read"]["companies"] == 3
    assert {f["column"]: f["failed"] for f in rep["typing_failures"]} == {"domain": 2}
    assert len(rows(spark, root, "companies")) == 3


def test_column_type_changing_between_files_is_handled_and_reported(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [r.crm_record(1, {"amount": "5"}, r._iso(T0))], T0)  # amount: double
    as_text = r.crm_stream_schema({**r.STANDARD["deals"], "amount": "string"})
    r.write_airbyte_parquet(d, b, 1, "deals", [r.crm_record(2, {"amount": "7.25"}, r._iso(T0))],
                            T0 + 1000, 0, 1, as_text)  # the same column, now a string
    _deals(d, b, 2, [r.crm_record(3, {"amount": "9"}, r._iso(T0))], T0)
    rep = job.run(spark, root, "ALL")
    got = rows(spark, root, "deals")
    assert {k: v.amount for k, v in got.items()} == {("1", "1"): 5.0, ("1", "2"): 7.25,
                                                      ("2", "3"): 9.0}
    events = {e["event"] for e in rep["drift"]}
    assert {"type_conflict", "type_conflict_within_account"} <= events


def test_full_refresh_generation_replaces_older_generations(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [r.crm_record(i, {"dealname": "g0"}, r._iso(T0)) for i in range(1, 6)], T0)
    job.run(spark, root, "1")
    _deals(d, b, 1, [r.crm_record(i, {"dealname": "g1"}, r._iso(T0)) for i in (1, 2)],
           T0 + DAY, gen=1)
    job.run(spark, root, "1")
    got = rows(spark, root, "deals")
    assert sorted(k[1] for k in got) == ["1", "2"] and {v.dealname for v in got.values()} == {"g1"}


def test_deals_joined_with_stage_labels_and_owner_names(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"deals": 6}, T0)
    job.run(spark, root, "1")
    got = rows(spark, root, "deals")
    assert got[("1", "3")].dealstage_label == "Closed Won"
    assert got[("1", "3")].pipeline_label == "Sales Pipeline"
    assert got[("1", "3")].owner_name == "Owner0 Smith" and got[("1", "3")].dealstage_is_closed
    assert got[("1", "3")].associations == {"companies": ["3"], "contacts": ["3", "4"]}
    # an owner renamed later: the account's deals are rebuilt with the new name
    owner = [{"id": "100", "firstName": "Ada", "lastName": "L", "updatedAt": r._iso(T0 + DAY)}]
    r.write_airbyte_parquet(d, b, 1, "owners", owner, T0 + DAY, 0, 2, r.OWNERS_SCHEMA)
    rep = job.run(spark, root, "1")
    assert "deals" in rep["tables"]
    assert rows(spark, root, "deals")[("1", "3")].owner_name == "Ada L"


def test_generic_stream_without_properties_is_kept(spark, lake):
    d, b, root = lake
    schema = {"type": "object", "properties": {"id": {"type": "string"},
                                               "type": {"type": "string"},
                                               "created": {"type": "integer"}}}
    r.write_airbyte_parquet(d, b, 1, "email_events", [{"id": "e1", "type": "OPEN",
                                                       "created": T0}] * 2, T0, 0, 1, schema)
    job.run(spark, root, "1")
    got = rows(spark, root, "email_events")
    assert len(got) == 1 and json.loads(got[("1", "e1")].record_json)["type"] == "OPEN"
    assert got[("1", "e1")].created_at.year == 2023


def _state(d, b, root):
    store = LocalStore(f"{d}/{b}")
    files = sorted(k for k in store.list("curated/") if "/_reports/" not in k)
    snaps = {t: lake_query.load(root, t).metadata.current_snapshot_id
             for t in ("contacts", "deals", "owners")}
    return files, snaps


def _partitions(spark, root, table):
    """{hub_id: (snapshot that last changed it, rows)} from Iceberg's partitions table."""
    t = iceberg.Tables(spark, root)
    return {r.h: (r.s, r.n) for r in spark.sql(
        "SELECT partition.hub_id AS h, last_updated_snapshot_id AS s, record_count AS n "
        f"FROM {t.name(table)}.partitions").collect()}


def test_second_run_without_new_files_changes_nothing(spark, lake):
    d, b, root = lake
    r.write_account(d, b, 1, {"contacts": 5, "deals": 5}, T0)
    job.run(spark, root, "ALL")
    before = _state(d, b, root)
    rep = job.run(spark, root, "ALL")
    assert rep["new_files"] == 0 and rep["tables"] == {}
    assert _state(d, b, root) == before  # no new snapshot, no new file


def test_second_run_with_one_new_file_touches_only_that_account(spark, lake):
    d, b, root = lake
    for hub in (1, 2, 3):
        r.write_account(d, b, hub, {"contacts": 5, "deals": 5}, T0)
    job.run(spark, root, "ALL")
    before = {t: _partitions(spark, root, t) for t in ("contacts", "deals")}
    r.write_airbyte_parquet(d, b, 2, "contacts", [r.crm_record(50, {"email": "a@b.co"},
                                                                r._iso(T0 + DAY))],
                            T0 + DAY, 0, 2, r.account_schema("contacts", {}))
    rep = job.run(spark, root, "ALL")
    assert rep["new_files"] == 1 and set(rep["tables"]) == {"contacts"}
    assert set(rep["tables"]["contacts"]) == {"2"}
    after = {t: _partitions(spark, root, t) for t in ("contacts", "deals")}
    assert after["deals"] == before["deals"]
    assert {h: after["contacts"][h] == before["contacts"][h] for h in "123"} == \
        {"1": True, "2": False, "3": True}
    assert after["contacts"]["2"][1] == 6


def test_a_killed_run_leaves_tables_readable_and_the_next_run_completes(spark, lake):
    """Killed while writing a table's data files (before its commit) or between two tables'
    commits: every table stays at a complete snapshot (Spark and pyiceberg agree), and the next
    run redoes everything (the ledger is written last)."""
    d, b, root = lake
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 5, "deals": 4}, T0)
    job.run(spark, root, "ALL")
    expected_before = {t: rows(spark, root, t) for t in ("contacts", "deals")}
    snap_before = {t: lake_query.load(root, t).metadata.current_snapshot_id
                   for t in ("contacts", "deals")}
    for hub in (1, 2):
        r.write_account(d, b, hub, {"contacts": 3, "deals": 2}, T0 + DAY, first_id=10)
    for point, contacts in (("during_write:contacts", 10), ("after_commit:contacts", 16),
                            ("during_write:deals", 16)):
        try:
            job.run(spark, root, "ALL", fail_at=point)
            raise AssertionError("hook did not fire")
        except job.Killed:
            pass
        # deals were never committed: readers still see the previous complete version
        assert rows(spark, root, "deals") == expected_before["deals"]
        assert lake_query.load(root, "deals").metadata.current_snapshot_id == snap_before["deals"]
        assert len(rows(spark, root, "contacts")) == contacts
        independent = lake_query.summary(root)
        assert sum(p["rows"] for p in independent["contacts"].values()) == contacts
        assert sum(p["rows"] for p in independent["deals"].values()) == 8
    rep = job.run(spark, root, "ALL")
    assert rep["new_files"] == 2 * 6  # nothing was recorded as processed by the killed runs
    # the kills hit both write paths: contacts upserted (MERGE, as owners and pipelines are),
    # deals replaced (relabelled after the new owners and pipelines)
    assert sorted(rep["upserted"]) == ["contacts", "deal_pipelines", "owners"]
    assert len(rows(spark, root, "contacts")) == 16 and len(rows(spark, root, "deals")) == 12
    assert job.run(spark, root, "ALL")["new_files"] == 0
