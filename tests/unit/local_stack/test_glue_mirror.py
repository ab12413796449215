"""The local Glue runner's S3 mirror behaves like a job on real Glue: S3 is the truth, and a run
deletes only what the job itself deleted (never objects another writer put meanwhile)."""
import boto3
from moto import mock_aws

from local_stack.glue_runner import LocalGlue


def _lake(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    return s3


def _keys(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake").get("Contents", []))


def test_a_run_deletes_only_what_the_job_deleted(tmp_path, monkeypatch):
    with mock_aws():
        s3 = _lake(tmp_path, monkeypatch)
        root = tmp_path / "lake"

        def first(argv):
            for name in ("old.parquet", "kept.parquet"):
                p = root / "curated/deals/data" / name
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(name.encode())
            return {}

        glue = LocalGlue(tmp_path, "lake", s3=s3, job=first, synchronous=True)
        glue.start_job_run(JobName="curate", Arguments={"--hub_ids": "ALL"})
        assert _keys(s3) == ["curated/deals/data/kept.parquet", "curated/deals/data/old.parquet"]

        def second(argv):
            (root / "curated/deals/data/old.parquet").unlink()
            # another writer (a test, an operator, an uninstall) puts an object meanwhile
            s3.put_object(Bucket="lake", Key="curated/contacts/hub_id=2/part-0.parquet", Body=b"x")
            return {}

        glue.job = second
        [run_id] = [glue.start_job_run(JobName="curate", Arguments={})["JobRunId"]]
        assert glue.runs[run_id]["JobRunState"] == "SUCCEEDED"
        assert _keys(s3) == ["curated/contacts/hub_id=2/part-0.parquet",
                             "curated/deals/data/kept.parquet"]


def test_changes_made_in_s3_reach_the_next_run(tmp_path, monkeypatch):
    with mock_aws():
        s3 = _lake(tmp_path, monkeypatch)
        s3.put_object(Bucket="lake", Key="curated/_state/quarantine/1.json", Body=b'{"files": 1}')
        s3.put_object(Bucket="lake", Key="curated/_state/quarantine/2.json", Body=b'{"files": 2}')
        seen = []

        def job(argv):
            state = tmp_path / "lake/curated/_state/quarantine"
            seen.append(sorted((p.name, p.read_text()) for p in state.glob("*.json")))
            return {}

        glue = LocalGlue(tmp_path, "lake", s3=s3, job=job, synchronous=True)
        glue.start_job_run(JobName="curate", Arguments={"--hub_ids": "1"})
        # an operator edits one record and removes the other, in S3 (ops quarantine retry)
        s3.put_object(Bucket="lake", Key="curated/_state/quarantine/1.json", Body=b'{"files": 0}')
        s3.delete_object(Bucket="lake", Key="curated/_state/quarantine/2.json")
        glue.start_job_run(JobName="curate", Arguments={"--hub_ids": "1"})
        assert seen == [[("1.json", '{"files": 1}'), ("2.json", '{"files": 2}')],
                        [("1.json", '{"files": 0}')]]
        # and the run did not put the removed record back
        assert _keys(s3) == ["curated/_state/quarantine/1.json"]
