"""Operators' overview (`ops account list`) and all three dead-letter queues (`ops dlq --queue`),
on the local stack's moto SQS/S3/DynamoDB."""
from __future__ import annotations

import json

import boto3

from hubspot_app.config import get_settings
from hubspot_app.glue_trigger import Config, requeue
from hubspot_app.messaging.dead_letter import DeadLetterWriter
from hubspot_app.models import AccountStatus
from hubspot_app.runtime import services
from tests.harness import run_cli


def dead_letter_to_queue(dlq_name: str):
    """What the shared consumer writes for a lifecycle message that kept failing."""
    def put(message: dict, reason: str) -> None:
        DeadLetterWriter(boto3.client("sqs"), services().queue_url(dlq_name)).write(
            body=json.dumps(message), hub_ids=[message["hub_id"]], error=reason,
            kind="retries_exhausted", source_queue=get_settings().lifecycle.queue_name,
            receive_count=5, message_id="m-1")
    return put


def _bodies(queue_url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                              WaitTimeSeconds=0).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def test_account_list_shows_status_dead_letters_and_last_curated_run(harness):
    harness.install(7101)
    harness.install(7102)
    harness.deliver()
    assert harness.account(7101).status == AccountStatus.ACTIVE
    # 7102 has an uninstall that kept failing on the lifecycle DLQ.
    dead_letter_to_queue(get_settings().lifecycle.dlq_name)({"kind": "uninstall", "hub_id": 7102},
                                                         "Airbyte answered 503 three times")
    # A curate run for 7101 succeeded (the local Glue's history; a no-op job: no Spark here),
    # and a purge and a maintenance run, which curate nothing, for 7102.
    glue, job = boto3.client("glue"), harness.env["GLUE_JOB_NAME"]
    real_job, harness.stack.glue.job = harness.stack.glue.job, lambda argv: {}
    try:
        glue.start_job_run(JobName=job, Arguments={"--hub_ids": "7101"})
        glue.start_job_run(JobName=job, Arguments={"--purge_hub_ids": "7102"})
        glue.start_job_run(JobName=job, Arguments={"--mode": "maintenance"})
        harness.stack.glue.wait()
    finally:
        harness.stack.glue.job = real_job

    code, out, err = run_cli("account", "list", "--json")
    assert code == 0, err
    rows = {r["hub_id"]: r for r in json.loads(out)}
    assert {7101, 7102} <= set(rows)
    assert rows[7101]["status"] == "active" and rows[7101]["dead_letters"] == 0
    assert rows[7101]["last_curated_at"] is not None
    assert rows[7102]["dead_letters"] == 1 and rows[7102]["last_curated_at"] is None

    code, out, _ = run_cli("account", "list")
    assert code == 0 and "LAST CURATED" in out and "7101" in out and "account(s):" in out
    code, out, _ = run_cli("account", "list", "--status", "uninstalled", "--json")
    assert code == 0 and all(r["status"] == "uninstalled" for r in json.loads(out))
    assert 7101 not in {r["hub_id"] for r in json.loads(out)}
    assert run_cli("account", "list", "--status", "activ")[0] == 2   # a typo is refused
    code, out, _ = run_cli("dlq", "--queue", "lifecycle", "purge", "--all", "--hub", "7102", "--yes")
    assert code == 0 and "1 purged" in out


def test_lifecycle_dlq_redrive_sends_the_original_message_back(harness):
    health = get_settings().lifecycle
    dead_letter_to_queue(health.dlq_name)({"kind": "uninstall", "hub_id": 7201, "attempt": 3},
                                          "HubSpot answered 500")
    code, out, err = run_cli("dlq", "--queue", "lifecycle", "list", "--json")
    assert code == 0, err
    [letter] = [d for d in json.loads(out) if d["hub_id"] == 7201]
    assert letter["error"] == "HubSpot answered 500"
    # The provision DLQ does not show it: each queue is its own.
    code, out, _ = run_cli("dlq", "list", "--json")
    assert 7201 not in [d["hub_id"] for d in json.loads(out)]

    code, out, _ = run_cli("dlq", "--queue", "lifecycle", "redrive", letter["message_id"])
    assert code == 0 and "1 redriven" in out
    sqs = boto3.client("sqs")
    [body] = [b for b in _bodies(sqs.get_queue_url(QueueName=health.queue_name)["QueueUrl"])
              if b.get("hub_id") == 7201]
    # The original body, unchanged (the redrive count is a message attribute).
    assert body == {"kind": "uninstall", "hub_id": 7201, "attempt": 3}
    code, out, _ = run_cli("dlq", "--queue", "lifecycle", "list", "--json")
    assert 7201 not in [d["hub_id"] for d in json.loads(out)]


def test_glue_dlq_lists_every_account_of_a_run_and_redrives_it_from_attempt_zero(harness):
    cfg = Config.from_services(services())
    sqs = boto3.client("sqs")
    requeue(sqs, cfg, ["7301", "7302"], attempt=cfg.max_attempts, error="ConcurrentRunsExceeded")
    code, out, err = run_cli("dlq", "--queue", "glue", "list", "--json")
    assert code == 0, err
    [letter] = [d for d in json.loads(out) if d["hub_ids"] == [7301, 7302]]
    assert letter["error"] == "ConcurrentRunsExceeded" and letter["hub_id"] is None
    code, out, _ = run_cli("dlq", "--queue", "glue", "list", "--hub", "7302", "--json")
    assert [d["message_id"] for d in json.loads(out)] == [letter["message_id"]]

    code, out, _ = run_cli("dlq", "--queue", "glue", "redrive", "--all")
    assert code == 0 and "1 redriven" in out
    [body] = [b for b in _bodies(cfg.queue_url) if "glue_retry" in b]
    assert body["glue_retry"]["hub_ids"] == ["7301", "7302"]
    assert body["glue_retry"]["attempt"] == 0 and "redrive_count" not in body


def test_dlq_queue_names_are_checked(harness):
    assert run_cli("dlq", "--queue", "glu", "list")[0] == 2
    code, out, _ = run_cli("dlq", "--help")
    assert code == 0 and "lifecycle" in out and "glue" in out


