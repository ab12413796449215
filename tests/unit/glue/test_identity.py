"""File identity = key + ETag (issue 15.3), without Spark: new-file selection, the local mirror, the
trigger's event accounting."""
import json
import os

import boto3
from moto import mock_aws

from hubcurate import job
from hubcurate.store import LocalStore
from hubspot_app import glue_trigger
from local_stack.glue_runner import LocalGlue


def _put(store_root, key, data: bytes):
    p = store_root / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_a_rewritten_key_is_new_again(tmp_path):
    store = LocalStore(str(tmp_path))
    a = _put(tmp_path, "raw/1/deals/a.parquet", b"PAR1-old")
    _put(tmp_path, "raw/1/deals/b.parquet", b"PAR1-b")
    new, hubs = job.find_new(store, "1")
    assert hubs == ["1"] and sorted(new["1"]) == ["raw/1/deals/a.parquet", "raw/1/deals/b.parquet"]
    done = {"1": {(k, e) for k, (_, e) in new["1"].items()}}  # what processed_files holds
    asked = []

    def processed(hubs):
        asked.append(hubs)
        return done
    assert job.find_new(store, "1", processed=processed)[0] == {} and asked == [["1"]]
    a.write_bytes(b"PAR1-new-content")  # same key, new content
    os.utime(a, ns=(1, 2_000_000_000_000_000_000))
    assert list(job.find_new(store, "1", processed=processed)[0]["1"]) == ["raw/1/deals/a.parquet"]


def test_quarantined_at_this_etag_is_skipped_rewritten_is_read(tmp_path):
    store = LocalStore(str(tmp_path))
    a = _put(tmp_path, "raw/1/deals/a.parquet", b"")
    (_, etag), = job.find_new(store, "1")[0]["1"].values()
    store.put_json("curated/_state/quarantine/1.json",
                   {"files": {"raw/1/deals/a.parquet": {"etag": etag, "reason": "empty file"}}})
    report = {"unrecognised": []}
    assert job.find_new(store, "1", report)[0] == {} and report["quarantine_skipped"] == 1
    a.write_bytes(b"PAR1 fixed PAR1")
    assert list(job.find_new(store, "1")[0]["1"]) == ["raw/1/deals/a.parquet"]


def test_the_local_mirror_downloads_an_object_rewritten_under_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        s3.put_object(Bucket="lake", Key="raw/1/deals/a.parquet", Body=b"v1")
        glue = LocalGlue(tmp_path, "lake", s3=s3, job=lambda argv: {})
        assert glue.pull("1") == 1 and glue.pull("1") == 0
        s3.put_object(Bucket="lake", Key="raw/1/deals/a.parquet", Body=b"v2")
        assert glue.pull("1") == 1
        assert (tmp_path / "lake/raw/1/deals/a.parquet").read_bytes() == b"v2"


def _event(key, etag, sequencer):
    return {"body": json.dumps({"Records": [{
        "eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": key, "eTag": etag, "sequencer": sequencer}}}]})}


class _Glue:
    def __init__(self):
        self.calls = []

    def start_job_run(self, **kw):
        self.calls.append(kw)
        return {"JobRunId": f"jr_{len(self.calls)}"}


def test_trigger_counts_file_versions_once_and_an_overwrite_as_a_new_one():
    cfg = glue_trigger.Config(job_name="curate")
    same = _event("raw/1/deals/a.parquet", "e1", "0055AED6DCD90281E5")
    event = {"Records": [same, same,  # S3 delivers at least once: a duplicate
                         _event("raw/1/deals/a.parquet", "e2", "0055AED6DCD90281E6")]}
    glue = _Glue()
    summary = glue_trigger.handle_sqs_event(event, glue, sqs=None, cfg=cfg)
    assert summary["files"] == 2 and summary["overwrites"] == 1
    assert [c["Arguments"]["--hub_ids"] for c in glue.calls] == ["1"]
