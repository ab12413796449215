"""Association-label snapshots without Spark (glue/hubcurate/labels_snapshot.py): which keys
start a Glue run (the manifest, never a chunk), which are not reported as unrecognised, a
manifest's checks, and which manifests a run curates or skips."""
import json

import pytest

from hubcurate import ingest, job
from hubcurate import labels_snapshot as ls
from hubcurate.store import LocalStore
from hubspot_app import glue_trigger

SNAP, OLDER, NEWER = "20261207T060000Z-0a1b2c3d", "20261206T060000Z-00000000", \
    "20261208T060000Z-ffffffff"
MANIFEST = f"raw/12/association_labels/{SNAP}.manifest.json"
CHUNK = f"raw/12/association_labels/{SNAP}/contacts__companies/00000.jsonl.gz"


def _event(key):
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "b"}, "object": {"key": key, "eTag": "e1"}}}]})


def test_the_manifest_starts_a_run_for_its_hub_and_its_chunks_do_not():
    assert glue_trigger.parse_body(_event(MANIFEST)) == ({"12"}, {(MANIFEST, "e1")}, 0)
    for key in (CHUNK, f"raw/12/association_labels/{SNAP}.manifest.json.tmp",
                f"raw/12/association_labels/{SNAP}/x.manifest.json",
                "raw/12/association_labels/latest.manifest.json",
                f"raw/0x1/association_labels/{SNAP}.manifest.json",
                f"raw/12/deals/{SNAP}.manifest.json"):
        assert glue_trigger.parse_body(_event(key)) == (set(), set(), 0), key
    # the Parquet rule is unchanged
    assert glue_trigger.hubs_from_body(_event("raw/12/deals/a_1_0.parquet")) == ({"12"}, 1, 0)


def test_neither_chunks_nor_manifests_are_unrecognised_everything_else_as_before():
    assert ingest.unrecognised(MANIFEST) is None and ingest.unrecognised(CHUNK) is None
    assert ingest.parse_key(MANIFEST) is None and ingest.parse_key(CHUNK) is None
    assert ingest.unrecognised("raw/12/association_labels/notes.txt") == "not a .parquet file"
    assert ingest.unrecognised(f"raw/12/association_labels/{SNAP}/contacts__companies/a.json") \
        == "not raw/<hub_id>/<stream>/<file>.parquet"
    assert ingest.unrecognised("raw/acme/association_labels/x.parquet") == \
        "folder is not a numeric hub_id"


def test_find_new_reports_no_labels_key_and_finds_an_account_with_only_a_manifest(tmp_path):
    for key in (MANIFEST, CHUNK, "raw/12/association_labels/stray.txt"):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"x")
    report = {"unrecognised": []}
    labels: dict = {}
    new, hubs = job.find_new(LocalStore(str(tmp_path)), "ALL", report, labels=labels)
    assert new == {} and hubs == ["12"]
    assert report["unrecognised"] == [{"key": "raw/12/association_labels/stray.txt",
                                       "reason": "not a .parquet file"}]
    assert sorted(labels["12"]) == sorted([MANIFEST, CHUNK, "raw/12/association_labels/stray.txt"])


def _manifest(**kw):
    return {"format": "association_labels/v1", "hub_id": "12", "snapshot_id": SNAP,
            "started_at": "2026-12-07T06:00:00Z", "completed_at": "2026-12-07T06:01:00Z",
            "pairs": [{"from": "contacts", "to": "companies", "chunks": [CHUNK], "records": 3},
                      {"from": "deals", "to": "contacts", "chunks": [], "records": 0}], **kw}


@pytest.mark.parametrize(("change", "why"), [
    ({"format": "association_labels/v2"}, "format is"),
    ({"hub_id": "13"}, "hub_id '13' is not the folder's 12"),
    ({"snapshot_id": OLDER}, "is not the key's"),
    ({"pairs": {}}, "pairs is not a list"),
    ({"pairs": [{"from": "contacts", "to": "owners", "chunks": [], "records": 0}]},
     "not one the reader reads"),
    ({"pairs": [{"from": "deals", "to": "contacts", "chunks": [], "records": 0}] * 2},
     "listed twice"),
    ({"pairs": [{"from": "contacts", "to": "companies", "chunks": [CHUNK], "records": "3"}]},
     "is not a count"),
    ({"pairs": [{"from": "deals", "to": "contacts", "chunks": [CHUNK], "records": 3}]},
     "is not in deals__contacts/"),
    ({"pairs": [{"from": "contacts", "to": "companies",
                 "chunks": [CHUNK.replace("00000", "00001")], "records": 3}]}, "does not exist"),
    ({"pairs": [{"from": "contacts", "to": "companies", "chunks": [], "records": 3}]},
     "has 3 records and no chunks"),
])
def test_a_manifest_that_cannot_be_curated_says_why(change, why):
    listing = {CHUNK: (10, "c")}
    assert ls.problems(_manifest(), MANIFEST, listing) is None
    assert why in ls.problems(_manifest(**change), MANIFEST, listing)
    assert "not a JSON object" in ls.problems([], MANIFEST, listing)


def test_new_manifests_oldest_first_older_than_the_newest_curated_skipped():
    key = {s: f"raw/12/association_labels/{s}.manifest.json" for s in (OLDER, SNAP, NEWER)}
    listing = {key[OLDER]: (1, "a"), key[SNAP]: (1, "b"), key[NEWER]: (1, "c"), CHUNK: (1, "d")}
    assert ls.choose(listing, set(), {}) == ([key[OLDER], key[SNAP], key[NEWER]], [])
    fresh, skipped = ls.choose(listing, {(key[SNAP], "b")}, {})
    assert fresh == [key[NEWER]] and skipped == [(key[OLDER], SNAP)]
    # rewritten (new ETag): new again; quarantined at this ETag: not looked at
    assert ls.choose(listing, {(key[SNAP], "old")}, {key[NEWER]: {"etag": "c"}}) == \
        ([key[SNAP]], [(key[OLDER], SNAP)])
