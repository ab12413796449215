"""Raw files that do not fit (issue 15.2-15.4) on local PySpark: unreadable files are quarantined
and never block others; a rewritten key is read again; what does not fit is reported."""
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import T0, rows

from hubcurate import job, quarantine
from hubcurate.store import LocalStore
from local_stack import lake_query
from local_stack import raw_lake as r

DAY = 86_400_000


def _deals(d, b, hub, ids, ms, name="d", n=0):
    return r.write_airbyte_parquet(d, b, hub, "deals", [r.crm_record(i, {"dealname": name},
                                                                     r._iso(ms)) for i in ids],
                                   ms, 0, 1, r.account_schema("deals", {}), n=n)


def _raw(d, b, key, data: bytes):
    p = Path(d, b, key)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


@pytest.mark.slow
def test_unreadable_files_are_quarantined_reported_and_the_rest_commits(spark, lake, caplog,
                                                                        capsys):
    d, b, root = lake
    good = _deals(d, b, 1, [1, 2], T0)
    _raw(d, b, "raw/1/deals/2023_11_14_1_0.parquet", b"")                    # zero bytes
    data = Path(d, b, good).read_bytes()
    _raw(d, b, "raw/1/contacts/2023_11_14_2_0.parquet", data[: len(data) // 2])  # truncated
    # magic at both ends, a footer length that fits, but no valid footer: only Spark can tell
    _raw(d, b, "raw/2/deals/2023_11_14_3_0.parquet", b"PAR1" + b"\0" * 40
         + (20).to_bytes(4, "little") + b"PAR1")
    _deals(d, b, 2, [7], T0)
    caplog.set_level(logging.WARNING, logger="hubcurate")
    rep = job.run(spark, root, "ALL")
    reasons = {q["key"]: q["reason"] for q in rep["quarantined"]}
    assert reasons["raw/1/deals/2023_11_14_1_0.parquet"] == "empty file"
    assert reasons["raw/1/contacts/2023_11_14_2_0.parquet"].startswith("truncated")
    assert reasons["raw/2/deals/2023_11_14_3_0.parquet"].startswith("unreadable Parquet")
    assert len(reasons) == 3
    assert sorted(rows(spark, root, "deals")) == [("1", "1"), ("1", "2"), ("2", "7")]
    store = LocalStore(f"{d}/{b}")
    assert set(quarantine.load(store, "1")["files"]) == {"raw/1/deals/2023_11_14_1_0.parquet",
                                                          "raw/1/contacts/2023_11_14_2_0.parquet"}
    processed = {x["key"] for x in lake_query.load(root, "processed_files", lake_query.OPS_DATABASE)
                 .scan().to_arrow().to_pylist()}
    assert not processed & set(reasons) and good in processed
    _, reported = lake_query.query(  # the run report, as ./dev query reads it
        "SELECT q.key, q.reason FROM (SELECT unnest(quarantined) AS q FROM hubspot_ops.run_reports"
        f" WHERE run_id = '{rep['run_id']}') ORDER BY 1", root)
    assert reported == sorted((q["key"], q["reason"]) for q in rep["quarantined"])
    logged = [json.loads(m) for m in caplog.messages if m.startswith("{")]
    assert sum(m.get("msg") == "raw file quarantined" for m in logged) == 3
    alert = [m for m in logged if m.get("msg") == "alert"]
    assert len(alert) == 1 and alert[0]["event"] == "raw_files_quarantined"
    metrics = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert [m["QuarantinedFiles"] for m in metrics if "QuarantinedFiles" in m] == [3]
    # not retried by later runs (hourly backstop included) until an operator asks
    again = job.run(spark, root, "ALL")
    assert again["new_files"] == 0 and again["quarantine_skipped"] == 3
    assert again["quarantined"] == []


@pytest.mark.slow
def test_a_file_whose_pages_cannot_be_read_is_quarantined(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [1], T0)
    key = _deals(d, b, 1, [2, 3], T0 + 1)
    data = bytearray(Path(d, b, key).read_bytes())
    data[4:24] = b"\xff" * 20  # the first page header: footer intact, pages unreadable
    Path(d, b, key).write_bytes(bytes(data))
    rep = job.run(spark, root, "1")
    assert [q["key"] for q in rep["quarantined"]] == [key]
    assert rep["quarantined"][0]["reason"].startswith("unreadable Parquet data: TProtocolException")
    assert sorted(rows(spark, root, "deals")) == [("1", "1")]


@pytest.mark.slow
def test_a_fixed_file_is_read_by_the_next_run(spark, lake):
    d, b, root = lake
    _deals(d, b, 1, [1], T0)
    bad = "raw/1/deals/2023_11_14_9_0.parquet"
    _raw(d, b, bad, b"")
    assert [q["key"] for q in job.run(spark, root, "1")["quarantined"]] == [bad]
    # rewritten under the same key (a new ETag): read again without an operator
    _deals(d, b, 1, [5], T0 + DAY, n=7)
    fixed = sorted(Path(d, b, "raw/1/deals").glob(f"*_{T0 + DAY}_7.parquet"))[0]
    fixed.rename(Path(d, b, bad))
    rep = job.run(spark, root, "1")
    assert rep["new_files"] == 1 and rep["quarantined"] == []
    assert sorted(rows(spark, root, "deals")) == [("1", "1"), ("1", "5")]


@pytest.mark.slow
def test_an_object_rewritten_under_its_key_is_read_again(spark, lake):
    d, b, root = lake
    key = _deals(d, b, 1, [1, 2], T0, name="first")
    job.run(spark, root, "1")
    assert _deals(d, b, 1, [1, 2], T0 + 1, name="second") != key  # control: new name
    Path(d, b, key).unlink()
    for p in Path(d, b, "raw/1/deals").iterdir():
        p.rename(Path(d, b, key))  # the rewritten content, under the old key
    rep = job.run(spark, root, "1")
    assert rep["new_files"] == 1
    assert {v.dealname for v in rows(spark, root, "deals").values()} == {"second"}


@pytest.mark.slow
def test_what_does_not_fit_is_reported(spark, lake, capsys):
    d, b, root = lake
    _deals(d, b, 1, [1], T0)
    good = sorted(Path(d, b, "raw/1/deals").iterdir())[0].read_bytes()
    _raw(d, b, "raw/acme/deals/2023_11_14_1_0.parquet", good)        # not a numeric hub_id
    _raw(d, b, "raw/1/deals/notes.txt", b"hello")                    # not Parquet
    r.write_airbyte_parquet(d, b, 1, "pets", [{"id": "p1", "properties": {"name": "Rex"}}],
                            T0, 0, 1, {"type": "object", "properties": {
                                "id": {"type": "string"},
                                "properties": {"type": "object",
                                               "properties": {"name": {"type": "string"}}}}})
    foreign = "raw/1/deals/2023_11_14_5_0.parquet"   # Parquet, but not an Airbyte record
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": [1, 2]}), buf)
    _raw(d, b, foreign, buf.getvalue().to_pybytes())
    rep = job.run(spark, root, "ALL")
    assert rep["unrecognised"] == [
        {"key": "raw/1/deals/notes.txt", "reason": "not a .parquet file"},
        {"key": "raw/acme/deals/2023_11_14_1_0.parquet",
         "reason": "folder is not a numeric hub_id"}]
    assert rep["unknown_streams"] == [{"stream": "pets", "hub_ids": ["1"]}]
    assert rows(spark, root, "pets")[("1", "p1")]  # a custom object: curated, and reported
    assert [(q["key"], q["reason"][:30]) for q in rep["quarantined"]] == [
        (foreign, "schema matches no stream (no _")]
    assert sorted(rows(spark, root, "deals")) == [("1", "1")]
    metrics = {k: v for x in capsys.readouterr().out.splitlines() if '"_aws"' in x
               for k, v in json.loads(x).items() if k in ("UnrecognisedRawKeys", "UnknownStreams")}
    assert metrics == {"UnrecognisedRawKeys": 2, "UnknownStreams": 1}
