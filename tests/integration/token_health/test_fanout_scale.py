"""10,000 accounts: the scheduled function fans them out through SQS in messages that each fit
one worker invocation, every account exactly once (moto server; no HubSpot needed)."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import boto3
import pytest

from hubspot_app.config import get_settings, reset_settings
from hubspot_app.lifecycle.token_health import fan_out
from hubspot_app.models import Account, bind_tables
from hubspot_app.runtime import Services, forget_services
from local_stack import resources
from local_stack.stack import stage_environment
from tests.harness import moto_server

ACCOUNTS = 10_000


@pytest.fixture(scope="module")
def moto_env():
    # Tables and queues of its own: moto keeps state per process, and 10,000 accounts must not
    # leak into the other suites' stacks.
    env = {**stage_environment("local"),
           "ACCOUNTS_TABLE": "scale-test-accounts", "STATES_TABLE": "scale-test-states",
           "LIFECYCLE_QUEUE_NAME": "scale-test-lifecycle",
           "LIFECYCLE_DLQ_NAME": "scale-test-lifecycle-dlq",
           "UNINSTALL_AUDIT_TABLE": "scale-test-audit", "WEBHOOK_RECEIPTS_TABLE": "scale-test-receipts",
           "ALERTS_INBOX_QUEUE_NAME": "scale-test-alerts-inbox",
           "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:scale-test-alerts"}
    with moto_server(env) as url:
        env["AWS_ENDPOINT_URL"] = url
        reset_settings()
        forget_services()
        resources.create_tables(env)
        resources.create_health_resources(env)
        bind_tables(env["ACCOUNTS_TABLE"], env["STATES_TABLE"], reconnect=True)
        yield env
        ddb = boto3.client("dynamodb")
        for table in ("ACCOUNTS_TABLE", "STATES_TABLE", "UNINSTALL_AUDIT_TABLE", "WEBHOOK_RECEIPTS_TABLE"):
            ddb.delete_table(TableName=env[table])
        sqs = boto3.client("sqs")
        for queue in ("LIFECYCLE_QUEUE_NAME", "LIFECYCLE_DLQ_NAME", "ALERTS_INBOX_QUEUE_NAME"):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=env[queue])["QueueUrl"])
        boto3.client("sns").delete_topic(TopicArn=env["ALERTS_TOPIC_ARN"])
    forget_services()
    reset_settings()


@pytest.mark.slow
def test_ten_thousand_accounts_fan_out_once_each(moto_env):
    with Account.batch_write() as batch:
        for i in range(ACCOUNTS):
            status = "uninstalled" if i % 100 == 0 else "active"
            batch.save(Account(hub_id=30_000_000 + i, user="", status=status,
                               refresh_token_encrypted="v1:x:y:z"))
    settings = get_settings()
    summary = fan_out(Services(replace(settings, lifecycle=replace(settings.lifecycle,
                                                                   accounts_per_message=25))))
    expected = ACCOUNTS - ACCOUNTS // 100
    assert summary["accounts"] == expected and summary["uninstalled_skipped"] == ACCOUNTS // 100
    assert summary["messages"] == -(-expected // 25)

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=moto_env["LIFECYCLE_QUEUE_NAME"])["QueueUrl"]
    seen: list[int] = []
    largest = 0
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for m in got:
            largest = max(largest, len(m["Body"].encode()))
            body = json.loads(m["Body"])
            assert body["type"] == "check" and len(body["hub_ids"]) <= 25
            seen += body["hub_ids"]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(seen) == len(set(seen)) == expected
    assert largest < 256 * 1024  # SQS / async Lambda payload limit
    # One message is at most 25 accounts x 2 token-endpoint calls at 5/s = 10 s of HubSpot time,
    # a batch of 4 messages 40 s: far inside the worker's 300 s timeout (.chalice/config.json).
    config = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".chalice", "config.json")))
    worker = {**config.get("lambda_functions", {}).get("lifecycle_worker", {}),
              **config["stages"]["prod"]["lambda_functions"]["lifecycle_worker"]}
    per_call = 1 / float(config["environment_variables"]["TOKEN_REFRESH_PER_SECOND"])
    assert 4 * 25 * 2 * per_call < worker["lambda_timeout"] / 2
