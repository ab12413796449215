"""`python -m hubspot_app.ops quarantine list|retry` on moto's S3, against records the job
wrote through its own S3 store."""
import json

import boto3
import pytest
from moto import mock_aws

from hubcurate import job, quarantine
from hubcurate.store import S3Store
from hubspot_app.ops import cli

BUCKET = "hubspot-pipeline-local-lake"
BAD = "raw/1/deals/2023_11_14_1_0.parquet"


@pytest.fixture
def lake(monkeypatch):
    from hubspot_app.config import reset_settings
    from local_stack.stack import stage_environment

    # The local stage's settings, as `ops --stage local` gives them; no endpoint: moto's mock.
    for name, value in stage_environment("local").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("LAKE_BUCKET", BUCKET)
    monkeypatch.setenv("GLUE_JOB_NAME", "hubspot-pipeline-local-curate")
    reset_settings()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=BAD, Body=b"")
        s3.put_object(Bucket=BUCKET, Key="raw/2/contacts/x.parquet", Body=b"PAR")
        store = S3Store(f"s3://{BUCKET}/", client=s3)
        found = {h: {k: {"etag": e, "size": size, "reason": "empty file"}
                     for k, (size, e) in files.items()}
                 for h, files in job.find_new(store, "ALL")[0].items()}
        quarantine.add(store, found, "run-1")  # as the job records them
        yield s3, store
    reset_settings()  # the next test reads its own environment


def test_list_json_and_text(lake, capsys):
    assert cli.main(["quarantine", "list", "--json"]) == cli.OK
    listed = json.loads(capsys.readouterr().out)
    assert [(x["hub_id"], x["key"], x["reason"], x["run_id"]) for x in listed] == [
        (1, BAD, "empty file", "run-1"), (2, "raw/2/contacts/x.parquet", "empty file", "run-1")]
    assert cli.main(["quarantine", "list", "--hub", "2"]) == cli.OK
    out = capsys.readouterr().out
    assert "raw/2/contacts/x.parquet" in out and BAD not in out and "1 quarantined" in out


def test_retry_clears_entries_so_the_next_run_reads_them(lake, capsys):
    s3, store = lake
    assert job.find_new(store, "1")[0] == {}  # quarantined: skipped
    assert cli.main(["quarantine", "retry", "--hub", "3", "--no-run"]) == cli.NOT_FOUND
    assert cli.main(["quarantine", "retry", "--key", BAD, "--no-run"]) == cli.OK
    assert "cleared 1 file(s) of 1 account(s)" in capsys.readouterr().out
    assert list(job.find_new(store, "1")[0]["1"]) == [BAD]
    assert quarantine.load(store, "1") == {"files": {}}  # record removed when empty
    assert set(quarantine.load(store, "2")["files"]) == {"raw/2/contacts/x.parquet"}


def test_retry_starts_a_run_for_the_accounts(lake, capsys):
    glue = boto3.client("glue")
    glue.create_job(Name="hubspot-pipeline-local-curate", Role="r",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://x/s.py"})
    assert cli.main(["quarantine", "retry"]) == cli.OK
    out = capsys.readouterr().out
    assert "cleared 2 file(s) of 2 account(s)" in out and "for hub_id(s) 1,2" in out
    runs = glue.get_job_runs(JobName="hubspot-pipeline-local-curate")["JobRuns"]
    assert [r["Arguments"]["--hub_ids"] for r in runs] == ["1,2"]


def test_usage_errors(lake, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["quarantine", "--help"])
    assert exc.value.code == 0 and "retry" in capsys.readouterr().out
    assert cli.main(["quarantine", "retry", "--key", "curated/x", "--no-run"]) == cli.USAGE
    monkeypatch.delenv("LAKE_BUCKET")
    assert cli.main(["quarantine", "list"]) == cli.USAGE
    assert "LAKE_BUCKET" in capsys.readouterr().err
