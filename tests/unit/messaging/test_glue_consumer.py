"""The Glue trigger on the shared consumer without servers: a run that cannot start returns only
the records naming its accounts, by visibility (no glue_retry copy), and on the last receive
they are dead-lettered once with their hub_ids."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from hubspot_app import glue_trigger as gt


class Glue:
    def __init__(self, busy: set[str]):
        self.busy, self.runs = busy, []

    def start_job_run(self, JobName, Arguments):
        hubs = Arguments["--hub_ids"].split(",")
        if self.busy & set(hubs):
            raise ClientError({"Error": {"Code": "ConcurrentRunsExceededException"}}, "StartJobRun")
        self.runs.append(hubs)
        return {"JobRunId": f"jr_{len(self.runs)}"}


class Sqs:
    def __init__(self):
        self.visibility, self.sent, self.deleted = [], [], []

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        self.visibility.append((ReceiptHandle, VisibilityTimeout))

    def send_message(self, QueueUrl, MessageBody, MessageAttributes=None, DelaySeconds=0):
        self.sent.append((QueueUrl, MessageBody, MessageAttributes))
        return {"MessageId": "d1"}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)


def _s3(hub: int) -> str:
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {
        "key": f"raw/{hub}/contacts/2026_12_06_1_0.parquet", "eTag": "e"}}}]})


def _event(receive_count: int, *bodies):
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": b,
                         "attributes": {"ApproximateReceiveCount": str(receive_count)},
                         "eventSourceARN": "arn:aws:sqs:us-east-1:1:glue-trigger"}
                        for i, b in enumerate(bodies)]}


def test_a_run_that_cannot_start_returns_only_its_records():
    cfg = gt.Config("curate", queue_url="https://q", dlq_url="https://dlq", grouping="account")
    glue, sqs = Glue(busy={"22"}), Sqs()
    out = gt.consume(_event(1, _s3(11), _s3(22), _s3(11)), glue, sqs, cfg)
    assert glue.runs == [["11"]]
    assert out["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    assert [h for h, _ in sqs.visibility] == ["r1"] and 48 <= sqs.visibility[0][1] <= 72
    assert sqs.sent == []                                  # no glue_retry copy
    out = gt.consume(_event(5, _s3(22)), Glue(busy={"22"}), sqs, cfg)   # the last receive
    assert out["batchItemFailures"] == [] and sqs.deleted == ["r0"]
    [(url, body, attrs)] = sqs.sent
    assert url == "https://dlq" and body == _s3(22)
    assert attrs["hub_id"]["StringValue"] == "22"
    assert attrs["error_kind"]["StringValue"] == "retries_exhausted"
    assert "ConcurrentRunsExceededException" in attrs["error"]["StringValue"]
