"""Issue 15.5 on the Glue trigger queue: a malformed or oversized record is in its DLQ exactly
once with the reason as attributes, and no longer fails the whole batch (today's trigger raised,
so every record of the batch returned until SQS moved them all, without a reason)."""
from __future__ import annotations

import json

POISON = {
    "not json": "malformed",
    "123": "malformed",
    json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}): "malformed",   # no s3 key
    json.dumps({"glue_retry": {}}): "malformed",
    json.dumps({"Records": [], "pad": "x" * 70_000}): "oversized",
}
HARMLESS = [json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}),          # S3's test
            json.dumps({"Records": [{"eventName": "ObjectCreated:Put",
                                     "s3": {"object": {"key": "glue-assets/x.py"}}}]})]


def test_poison_records_end_in_the_glue_dlq_once_and_the_rest_of_the_batch_is_done(queues):
    queues.deliver("glue")   # S3's own test event, sent when the notification was configured
    sent = {queues.send("glue", body): kind for body, kind in POISON.items()}
    for body in HARMLESS:
        queues.send("glue", body)
    report = queues.deliver("glue")
    assert report.received == len(POISON) + len(HARMLESS) and not report.errors
    assert report.succeeded == report.received          # no record returned, none redelivered
    letters = queues.letters("glue")
    assert queues.dlq_depth("glue") == len(POISON)
    assert {d["original_message_id"]: d["error_kind"] for d in letters} == sent
    assert all(d["source_queue"] == queues.env["GLUE_TRIGGER_QUEUE_NAME"] and
               d["receive_count"] == 1 for d in letters)

    from tests.harness import run_cli

    code, out, _ = run_cli("dlq", "--queue", "glue", "redrive", "--all")
    assert code == 0 and f"{len(POISON)} redriven" in out
    queues.deliver("glue")
    assert queues.dlq_depth("glue") == len(POISON)      # once each again, nothing else
