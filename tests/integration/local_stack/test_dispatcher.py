"""The local dispatcher delivers SQS batches like Lambda: partial failures return, the rest are
deleted, and moto redrives a message that keeps failing to the dead-letter queue."""
from __future__ import annotations

import json

import boto3
import pytest
from chalice import Chalice
from chalice.test import Client

from local_stack.dispatcher import SqsRoute
from tests.harness import moto_server

app = Chalice(app_name="dispatch-test")
seen: list[dict] = []


@app.on_sqs_message(queue="work", batch_size=10)
def worker(event):
    failures = []
    for record in event:
        body = json.loads(record.body)
        seen.append(body)
        if body.get("fail"):
            # Chalice's SQSRecord exposes body and receipt_handle; the id is in the raw record.
            failures.append({"itemIdentifier": record.to_dict()["messageId"]})
    return {"batchItemFailures": failures}


@pytest.fixture(scope="module")
def queues():
    with moto_server({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}):
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        work = sqs.create_queue(QueueName="work", Attributes={
            "VisibilityTimeout": "1",  # failed messages come back after a second: a short test
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
        yield sqs, work, dlq


def test_partial_failures_retry_then_dead_letter(queues):
    sqs, work, dlq = queues
    for i in range(12):
        sqs.send_message(QueueUrl=work, MessageBody=json.dumps({"n": i, "fail": i == 5}))
    route = SqsRoute(Client(app, project_dir="/nonexistent"), "work", "worker")
    total = route.run_until_idle(timeout=30)
    assert not total.errors, total.errors
    handled = sorted(b["n"] for b in seen if not b["fail"])
    assert handled == [i for i in range(12) if i != 5]          # each good message once
    assert sum(1 for b in seen if b["fail"]) == 3               # the bad one: maxReceiveCount tries
    assert total.succeeded == 11 and total.failed == 3 and not total.errors
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["n"] for m in dead] == [5]
    assert route.pending() == 0
