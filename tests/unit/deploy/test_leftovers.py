"""`deploy leftovers`: after a rolled-back first create, the retained resources that would make
the next create stop at "already exists", found on moto with the template's own names."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from deploy import infra, leftovers
from deploy.__main__ import main


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.session.Session(region_name="eu-west-1")


def _leave_behind(session, stage: str) -> dict:
    """What CloudFormation keeps of a rolled-back create: each Retain resource as created."""
    account = session.client("sts").get_caller_identity()["Account"]
    res = leftovers.retained(stage, account, "eu-west-1")
    for r in res.values():
        p = r["Properties"]
        if r["Type"] == "AWS::DynamoDB::Table":
            session.client("dynamodb").create_table(
                TableName=p["TableName"], KeySchema=p["KeySchema"],
                AttributeDefinitions=p["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST")
        elif r["Type"] == "AWS::S3::Bucket":
            session.client("s3").create_bucket(
                Bucket=p["BucketName"],
                CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        elif r["Type"] == "AWS::SecretsManager::Secret":
            session.client("secretsmanager").create_secret(Name=p["Name"])
        elif r["Type"] == "AWS::KMS::Key":
            session.client("kms").create_key(Description=p["Description"])
    return res


def test_the_retained_resources_are_the_templates(aws):
    res = leftovers.retained("dev", "111122223333", "eu-west-1")
    env = infra.stage_env("dev")
    kinds = {r["Type"] for r in res.values()}
    assert kinds == {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
                     "AWS::KMS::Key"}
    assert res["LakeBucket"]["Properties"]["BucketName"] == \
        f"{env['LAKE_BUCKET']}-111122223333-eu-west-1"


def test_nothing_left_over_means_a_create_can_run(aws, capsys):
    assert leftovers.find("dev", aws) == []
    assert main(["leftovers", "--stage", "dev"]) == 0
    assert "no retained resources left over" in capsys.readouterr().out


def test_leftovers_are_found_with_the_command_that_removes_each(aws, tmp_path, capsys):
    res = _leave_behind(aws, "dev")
    env = infra.stage_env("dev")
    found = {f.logical: f for f in leftovers.find("dev", aws)}
    assert set(found) == set(res)
    assert all(f.empty for f in found.values())
    assert found["AccountsTable"].remove == \
        f"aws dynamodb delete-table --table-name {env['ACCOUNTS_TABLE']}"
    assert "--force-delete-without-recovery" in found["AppSecret"].remove
    assert not found["RefreshTokenKey"].blocks_retry   # keys have no name to collide with
    # One table holds data: it is to be imported, not removed.
    aws.client("dynamodb").put_item(TableName=env["ACCOUNTS_TABLE"],
                                    Item={"hub_id": {"N": "42"}})
    out = tmp_path / "import.json"
    assert main(["leftovers", "--stage", "dev", str(out)]) == 1
    text = capsys.readouterr().out
    assert "AccountsTable" in text and "HOLDS DATA" in text
    assert json.loads(out.read_text()) == [{
        "ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": "AccountsTable",
        "ResourceIdentifier": {"TableName": env["ACCOUNTS_TABLE"]}}]
