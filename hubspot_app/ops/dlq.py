"""The provision dead-letter queue: list, show, redrive and purge messages.

SQS has no "browse": messages are received with a short visibility timeout (so a listing sees
each once), then made visible again at once. Receiving counts as a receive on the DLQ; the
receive count shown is the one the provisioner recorded when it dead-lettered the message (for
messages SQS moved itself after maxReceiveCount: the DLQ's own count).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

HIDE_SECONDS = 30


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    hub_id: int | None
    error: str
    error_kind: str
    receive_count: int
    failed_at: str
    source_queue: str
    raw: dict

    def summary(self) -> dict:
        return {"message_id": self.message_id, "hub_id": self.hub_id, "error": self.error,
                "error_kind": self.error_kind, "receive_count": self.receive_count,
                "failed_at": self.failed_at, "source_queue": self.source_queue}


def _parse(m: dict) -> DeadLetter:
    attrs = {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()}
    try:
        body = json.loads(m["Body"])
        hub_id = int(body["hub_id"])
    except (ValueError, KeyError, TypeError):
        hub_id = int(attrs["hub_id"]) if (attrs.get("hub_id") or "").isdigit() else None
    system = m.get("Attributes") or {}
    return DeadLetter(
        message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"], body=m["Body"],
        hub_id=hub_id,
        error=attrs.get("error") or "(moved by the queue's redrive policy: see the account's "
                                    "history for the last error)",
        error_kind=attrs.get("error_kind") or "redrive_policy",
        receive_count=int(attrs.get("receive_count") or system.get("ApproximateReceiveCount") or 0),
        failed_at=attrs.get("failed_at") or "", source_queue=attrs.get("source_queue") or "",
        raw=m)


def receive_all(sqs, url: str, limit: int = 1000) -> list[DeadLetter]:
    """Every message on the queue (up to `limit`), hidden for HIDE_SECONDS; call `release`."""
    seen: dict[str, DeadLetter] = {}
    empty = 0
    while len(seen) < limit and empty < 2:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=HIDE_SECONDS, AttributeNames=["All"],
                                    MessageAttributeNames=["All"]).get("Messages", [])
        empty = 0 if batch else empty + 1
        for m in batch:
            seen[m["MessageId"]] = _parse(m)
    return list(seen.values())


def release(sqs, url: str, letters: list[DeadLetter]) -> None:
    for start in range(0, len(letters), 10):
        chunk = letters[start:start + 10]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": d.receipt_handle, "VisibilityTimeout": 0}
            for i, d in enumerate(chunk)])


def peek(sqs, url: str) -> list[dict]:
    letters = receive_all(sqs, url)
    release(sqs, url, letters)
    return [d.summary() for d in letters]


def redrive(sqs, dlq_url: str, target_url: str, letter: DeadLetter) -> str:
    """Send the message back to the provision queue, then delete it from the DLQ."""
    try:
        body = json.loads(letter.body)
        body["redrive_count"] = int(body.get("redrive_count", 0)) + 1
        text = json.dumps(body)
    except ValueError:
        text = letter.body
    attrs = {}
    if letter.hub_id is not None:
        attrs["hub_id"] = {"DataType": "Number", "StringValue": str(letter.hub_id)}
    new_id = sqs.send_message(QueueUrl=target_url, MessageBody=text,
                              MessageAttributes=attrs)["MessageId"]
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
    return new_id


def purge(sqs, dlq_url: str, letter: DeadLetter) -> None:
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
