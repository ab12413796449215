"""The job's bookkeeping without Spark: report rows per account and stream, and how long
processed files are kept against the bucket's lifecycle (the Spark side is in
tests/integration/glue/test_bookkeeping.py)."""
from hubcurate import bookkeeping


def test_report_rows_place_each_item_on_its_account_and_stream():
    report = {"run_id": "r", "tables": {"deals": {"1": {"rows": 5, "deleted": 1}}},
              "unrecognised": [{"key": "raw/acme/x.parquet", "reason": "folder is not a numeric "
                                "hub_id"}],
              "airbyte_changes": [], "typing_failures": [],
              "drift": [{"event": "type_conflict", "stream": "deals", "hub_ids": ["1", "2"]},
                        {"event": "properties_added", "table": "deals", "hub_id": "1",
                         "properties": ["p"]}]}
    files = {"1": {"raw/1/deals_archived/a.parquet": (1, "e"), "raw/1/deals/b.parquet": (1, "e")},
             "2": {"raw/2/pets/c.parquet": (1, "e")}}
    held = {"2": {"raw/2/deals/z.parquet": {"reason": "empty file", "etag": "e", "size": 0}}}
    out = {(x[2], x[3]): x for x in bookkeeping.report_rows(report, files, held, {})}
    assert set(out) == {(None, None), ("1", "deals"), ("1", "deals_archived"), ("2", "deals"),
                        ("2", "pets")}
    assert [e[0] for e in out[("1", "deals")][11]] == ["type_conflict", "properties_added"]
    assert out[("1", "deals_archived")][9:11] == (5, 1)  # the table's rows after the run
    assert out[("2", "pets")][5] is False and out[("2", "deals")][8] == 1
    assert out[(None, None)][15] == [("raw/acme/x.parquet", "folder is not a numeric hub_id")]


def test_processed_files_are_kept_as_long_as_the_bucket_keeps_a_raw_version_restorable():
    import json
    from pathlib import Path

    import curate_job
    root = Path(__file__).resolve().parents[3]
    for stage in ("dev", "prod"):
        tpl = json.loads((root / f".chalice/merge-template-{stage}.json").read_text())
        rules = tpl["Resources"]["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        assert not [x for x in rules if "Expiration" in x]  # raw files themselves never expire
        days = max(x["NoncurrentVersionExpiration"]["NoncurrentDays"] for x in rules
                   if "NoncurrentVersionExpiration" in x)
        assert float(curate_job.OPTIONAL["raw_restorable_days"]) >= days

