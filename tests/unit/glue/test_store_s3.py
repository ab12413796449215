"""The job's S3 store (the path real Glue takes) against moto's S3; its calls are judged against
GlueJobRole by the IAM check (calls from glue/ count as the Glue job)."""
import json
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from hubcurate import job, quarantine
from hubcurate.store import S3Store, StoreError

BUCKET = "hubspot-pipeline-local-lake"  # the local stage's lake; judged as dev's and prod's
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _deny(client, operation: str, code="AccessDenied", status=403):
    """Answer ``operation`` as S3 does to a caller the policy refuses."""
    def before_call(**_):
        return (AWSResponse("https://s3.amazonaws.com/", status, {}, None),
                {"Error": {"Code": code, "Message": "Access Denied"},
                 "ResponseMetadata": {"HTTPStatusCode": status}})
    client.meta.events.register(f"before-call.s3.{operation}", before_call)


def test_missing_keys_are_defaults_and_json_round_trips(s3):
    store = S3Store(f"s3://{BUCKET}/", client=s3)
    assert store.get_json("curated/_state/ledger/1.json", {"files": {}}) == {"files": {}}
    store.put_json("curated/_state/ledger/1.json", {"files": {"raw/1/a/x.parquet": "e1"}})
    assert store.get_json("curated/_state/ledger/1.json")["files"] == {"raw/1/a/x.parquet": "e1"}


def test_listing_past_1000_keys_and_deleting_them(s3):
    for i in range(1005):
        s3.put_object(Bucket=BUCKET, Key=f"curated/t/hub_id=1/run=r/{i:05}.parquet", Body=b"x")
    store = S3Store(f"s3://{BUCKET}/", client=s3)
    listing = store.listing("curated/t/")
    assert len(listing) == 1005 and listing["curated/t/hub_id=1/run=r/00000.parquet"][0] == 1
    assert all(len(etag) == 32 for _, etag in listing.values())  # ETags without quotes
    store.delete_prefix("curated/t/hub_id=1/")  # two DeleteObjects calls (1,000 keys each max)
    assert store.list("curated/t/") == {}


def test_a_403_is_never_taken_for_a_missing_key(s3):
    # S3 answers a missing key with 403 to a caller without s3:ListBucket (GetObject,
    # "Permissions"); read as "missing" a ledger would make the run redo every file and a
    # manifest would lose every other account's partitions. So: an error naming the grant.
    store = S3Store(f"s3://{BUCKET}/", client=s3)
    _deny(s3, "GetObject")
    with pytest.raises(StoreError, match="AccessDenied.*s3:ListBucket"):
        store.get_json("curated/_state/ledger/1.json", {})
    with pytest.raises(StoreError, match="AccessDenied"):
        job.find_new(store, "1")


def test_the_job_role_lists_the_bucket_unconditioned_so_missing_keys_are_404():
    for stage in ("dev", "prod"):
        tpl = json.loads((ROOT / f".chalice/merge-template-{stage}.json").read_text())
        statements = tpl["Resources"]["GlueJobRole"]["Properties"]["Policies"][0][
            "PolicyDocument"]["Statement"]
        lists = [s for s in statements if "s3:ListBucket" in s["Action"]]
        assert lists and all("Condition" not in s for s in lists)


def test_refused_deletes_in_a_200_answer_fail_the_call(s3):
    s3.put_object(Bucket=BUCKET, Key="curated/t/hub_id=1/run=r/a.parquet", Body=b"x")
    store = S3Store(f"s3://{BUCKET}/", client=s3)

    def partial(**_):
        return (AWSResponse("https://s3.amazonaws.com/", 200, {}, None),
                {"Deleted": [], "Errors": [{"Key": "curated/t/hub_id=1/run=r/a.parquet",
                                            "Code": "AccessDenied"}]})
    s3.meta.events.register("before-call.s3.DeleteObjects", partial)
    with pytest.raises(StoreError, match="1 key\\(s\\) refused: AccessDenied"):
        store.delete_prefix("curated/t/hub_id=1/")


def test_find_new_and_structural_checks_on_s3(s3):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    buf = io.BytesIO()
    pq.write_table(pa.table({"_airbyte_raw_id": ["a"]}), buf)
    good = buf.getvalue()
    for key, body in {"raw/1/deals/good.parquet": good, "raw/1/deals/empty.parquet": b"",
                      "raw/1/deals/cut.parquet": good[:-5], "raw/x1/deals/a.parquet": good}.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    store = S3Store(f"s3://{BUCKET}/", client=s3)
    report = {"unrecognised": []}
    new, _ = job.find_new(store, "ALL", report)
    assert sorted(new["1"]) == ["raw/1/deals/cut.parquet", "raw/1/deals/empty.parquet",
                                "raw/1/deals/good.parquet"]
    assert report["unrecognised"] == [{"key": "raw/x1/deals/a.parquet",
                                       "reason": "folder is not a numeric hub_id"}]
    why = {k: quarantine.structural_problem(store, k, size) for k, (size, _) in new["1"].items()}
    assert why == {"raw/1/deals/good.parquet": None, "raw/1/deals/empty.parquet": "empty file",
                   "raw/1/deals/cut.parquet": "truncated (no PAR1 footer magic)"}
    # an object overwritten under the same key has a new ETag: it is new again
    done = {"1": {(k, e) for k, (_, e) in new["1"].items()}}  # as processed_files holds them
    assert job.find_new(store, "1", processed=lambda hubs: done)[0] == {}
    s3.put_object(Bucket=BUCKET, Key="raw/1/deals/good.parquet", Body=good + b"")
    assert job.find_new(store, "1", processed=lambda hubs: done)[0] == {}  # same bytes, ETag
    buf2 = io.BytesIO()
    pq.write_table(pa.table({"_airbyte_raw_id": ["b"]}), buf2)
    s3.put_object(Bucket=BUCKET, Key="raw/1/deals/good.parquet", Body=buf2.getvalue())
    assert list(job.find_new(store, "1", processed=lambda hubs: done)[0]["1"]) == [
        "raw/1/deals/good.parquet"]
