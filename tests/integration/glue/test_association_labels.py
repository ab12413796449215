"""Association labels curated from the reader's snapshots (glue/hubcurate/association_labels.py):
real gzip JSON Lines chunks and manifests in the contract's format, real Spark, real Iceberg,
counted again with pyiceberg + DuckDB (local_stack/lake_query.py, not the job's code)."""
import pytest
from conftest import T0

from hubcurate import job
from hubcurate.association_labels import TABLE
from local_stack import lake_query
from local_stack import raw_lake as r

S0, S1, S2 = "20261206T060000Z-00000000", "20261207T060000Z-0a1b2c3d", "20261208T060000Z-ffffffff"
OPS = lake_query.OPS_DATABASE


_line = r.label_line
_snapshot = r.write_labels_snapshot


def _labels(root):
    return sorted((x["hub_id"], x["from_object_type"], x["from_id"], x["to_id"], x["type_id"],
                   x["label"], x["snapshot_id"])
                  for x in lake_query.load(root, TABLE).scan().to_arrow().to_pylist())


def _snapshots(root):
    return lake_query.load(root, TABLE).metadata.snapshots


CC = ("contacts", "companies")
DC = ("deals", "contacts")
ONE = {CC: [_line(*CC[:1], 101, CC[1], 9001, 1, None),        # primary (HubSpot's, no label)
            _line(*CC[:1], 101, CC[1], 9001, 279, None),      # unlabelled
            _line(*CC[:1], 101, CC[1], 9001, 5, "Decision maker"),
            _line(*CC[:1], 102, CC[1], 9001, 279, None)],
       DC: [_line(*DC[:1], 7, DC[1], 101, 3, None)],
       ("calls", "tickets"): []}


@pytest.mark.slow
def test_snapshots_replace_pairs_per_account_in_one_commit(spark, lake):
    d, b, root = lake
    _snapshot(d, b, 1, S1, ONE)
    # account 2 has the same record ids: its rows must stay its own
    _snapshot(d, b, 2, S1, {CC: [_line("contacts", 101, "companies", 9001, 7, "Billing")]})
    # account 3: the manifest says 3 lines, the chunks hold 2 -> quarantined; its Parquet
    # files still commit
    _snapshot(d, b, 3, S1, {CC: ONE[CC][:2]}, records={CC: 3})
    r.write_account(d, b, 3, {"contacts": 2}, T0)
    # account 4: a truncated gzip chunk (all lines listed) -> quarantined, never read in part
    [pair] = _snapshot(d, b, 4, S1, {CC: ONE[CC][:2]})
    chunk = d / b / pair["chunks"][0]
    chunk.write_bytes(chunk.read_bytes()[:-12])
    # account 1, a snapshot still being written (no manifest): ignored, not reported
    _snapshot(d, b, 1, S2, {CC: ONE[CC][:1]}, manifest=False)

    rep = job.run(spark, root, "ALL", run_id="run-1")
    assert rep["unrecognised"] == []
    assert rep["association_labels"] == {"1": [S1], "2": [S1]}
    assert _labels(root) == sorted([
        ("1", "contacts", "101", "9001", 1, None, S1), ("1", "contacts", "101", "9001", 279, None, S1),
        ("1", "contacts", "101", "9001", 5, "Decision maker", S1),
        ("1", "contacts", "102", "9001", 279, None, S1), ("1", "deals", "7", "101", 3, None, S1),
        ("2", "contacts", "101", "9001", 7, "Billing", S1)])
    independent = lake_query.summary(root)[TABLE]
    assert {h: v["rows"] for h, v in independent.items()} == {"1": 5, "2": 1}
    assert {h: v["rows"] for h, v in rep["tables"][TABLE].items()} == {"1": 5, "2": 1}
    assert [s.summary["hubcurate.run_id"] for s in _snapshots(root)] == ["run-1"]  # one commit
    held = {x["hub_id"]: x for x in rep["quarantined"]}
    assert set(held) == {"3", "4"}
    assert held["3"]["key"].endswith(f"{S1}.manifest.json")
    assert "contacts -> companies: 2 lines, the manifest says 3" in held["3"]["reason"]
    assert "not readable gzip" in held["4"]["reason"]
    assert lake_query.summary(root)["contacts"]["3"]["rows"] == 2  # its other files committed
    processed = {x["key"] for x in lake_query.load(root, "processed_files", OPS).scan()
                 .to_arrow().to_pylist() if x["stream"] == TABLE}
    assert processed == {f"raw/{h}/association_labels/{S1}.manifest.json" for h in (1, 2)}
    _, got = lake_query.query(
        "SELECT hub_id, files_read, records_read, rows_after, files_quarantined, known_stream "
        f"FROM hubspot_ops.run_reports WHERE stream = '{TABLE}' ORDER BY 1", root)
    assert got == [("1", 1, 5, 5, 0, True), ("2", 1, 1, 1, 0, True), ("3", 0, 0, None, 1, True),
                   ("4", 0, 0, None, 1, True)]

    # account 1's newer snapshot: contact 102 left company 9001, calls -> tickets gained a
    # row, deals -> contacts is not listed (kept as it was); an older one arrives late
    _snapshot(d, b, 1, S2, {CC: ONE[CC][:3],
                            ("calls", "tickets"): [_line("calls", 11, "tickets", 5, 220)]})
    _snapshot(d, b, 1, S0, {CC: []})
    with pytest.raises(job.Killed):  # killed while writing: the table stays at run-1
        job.run(spark, root, "1", run_id="killed", fail_at=f"during_write:{TABLE}")
    assert [s.summary["hubcurate.run_id"] for s in _snapshots(root)] == ["run-1"]
    rep = job.run(spark, root, "1", run_id="run-2")
    assert rep["association_labels"] == {"1": [S2]}
    assert {"event": "association_labels_skipped", "stream": TABLE, "hub_id": "1",
            "snapshot_id": S0, "newest_curated": S1} in rep["drift"]
    assert _labels(root) == sorted([
        ("1", "contacts", "101", "9001", 1, None, S2), ("1", "contacts", "101", "9001", 279, None, S2),
        ("1", "contacts", "101", "9001", 5, "Decision maker", S2),
        ("1", "calls", "11", "5", 220, None, S2), ("1", "deals", "7", "101", 3, None, S1),
        ("2", "contacts", "101", "9001", 7, "Billing", S1)])
    assert [s.summary["hubcurate.run_id"] for s in _snapshots(root)] == ["run-1", "run-2"]
    assert job.run(spark, root, "1", run_id="run-3")["association_labels"] == {}  # all recorded

    # the uninstall purge: account 1's label rows go, account 2's stay
    import curate_job
    purged = curate_job.main(["--lake_root", root, "--purge_hub_ids", "1"], spark=spark)
    assert purged["rows_deleted"][TABLE] == 5
    assert _labels(root) == [("2", "contacts", "101", "9001", 7, "Billing", S1)]
