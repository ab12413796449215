"""The three dead-letter queues (provision, lifecycle, glue): list, show, redrive and purge.

Every consumer dead-letters through hubspot_app.messaging, so every DLQ message carries the
same attributes (hub_id, error, error_kind, failed_at, source_queue, receive_count) over the
original body. SQS has no "browse": messages are received with a short visibility timeout (so a
listing sees each once), then made visible again at once. Receiving counts as a receive on the
DLQ; the receive count shown is the one the consumer recorded when it dead-lettered the message
(for messages SQS moved itself after maxReceiveCount: the DLQ's own count). Letters written
before the shared writer (lifecycle bodies with "error", Glue "glue_retry" bodies) are still read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

HIDE_SECONDS = 30


@dataclass(frozen=True)
class Route:
    """A dead-letter queue and the queue its messages go back to."""
    label: str
    dlq: str      # queue URL
    source: str   # queue URL


def route(name: str, svc: Services | None = None) -> Route:
    """A dead-letter queue by the name operators use (`ops dlq --queue NAME`); URLs are empty
    when the stage does not configure that queue."""
    from hubspot_app.runtime import services

    svc = svc or services()

    def url(queue_name: str) -> str:
        return svc.queue_url(queue_name) if queue_name else ""

    s = svc.settings
    if name == "provision":
        return Route(name, url(s.provisioning.dlq_name), url(s.provisioning.queue_name))
    if name == "lifecycle":
        return Route(name, url(s.lifecycle.dlq_name), url(s.lifecycle.queue_name))
    if name == "glue":
        from hubspot_app.glue_trigger import Config

        g = Config.from_services(svc)
        return Route(name, g.dlq_url, g.queue_url)
    if name == "association_labels":
        a = s.associations
        return Route(name, url(a.dlq_name), url(a.queue_name))
    raise ValueError(f"unknown dead-letter queue {name!r}: one of {', '.join(QUEUE_NAMES)}")


QUEUE_NAMES = ("provision", "lifecycle", "glue", "association_labels")


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
    hub_ids: list[int] = field(default_factory=list)  # a Glue batch names several accounts
    original_message_id: str = ""

    def summary(self) -> dict:
        return {"message_id": self.message_id, "hub_id": self.hub_id, "hub_ids": self.hub_ids,
                "error": self.error,
                "error_kind": self.error_kind, "receive_count": self.receive_count,
                "failed_at": self.failed_at, "source_queue": self.source_queue,
                "original_message_id": self.original_message_id}


def _hubs_and_error(body) -> tuple[list[int], str]:
    """hub_id(s) and the failure the writer left in the body (lifecycle and Glue DLQ bodies)."""
    if not isinstance(body, dict):
        return [], ""
    retry = body.get("glue_retry")
    if isinstance(retry, dict):
        hubs = [int(h) for h in retry.get("hub_ids") or [] if str(h).isdigit()]
        return hubs, str(retry.get("last_error") or "")
    listed = body.get("hub_ids")
    named: list = listed if isinstance(listed, list) else [body.get("hub_id")]
    hubs = [int(h) for h in named if isinstance(h, int) or (isinstance(h, str) and h.isdigit())]
    return hubs, str(body.get("error") or "")


def _parse(m: dict) -> DeadLetter:
    attrs = {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()}
    try:
        body = json.loads(m["Body"])
    except ValueError:
        body = None
    hub_ids, body_error = _hubs_and_error(body)
    if "error_kind" in attrs:  # the shared writer's attribute says it ("none", or comma-separated)
        hub_ids = [int(h) for h in (attrs.get("hub_id") or "").split(",") if h.isdigit()]
    system = m.get("Attributes") or {}
    return DeadLetter(
        message_id=m["MessageId"], receipt_handle=m["ReceiptHandle"], body=m["Body"],
        hub_id=hub_ids[0] if len(hub_ids) == 1 else None, hub_ids=hub_ids,
        error=attrs.get("error") or body_error or "(moved by the queue's redrive policy: see "
                                                  "the account's history for the last error)",
        error_kind=attrs.get("error_kind") or ("gave_up" if body_error else "redrive_policy"),
        receive_count=int(attrs.get("receive_count") or system.get("ApproximateReceiveCount") or 0),
        failed_at=attrs.get("failed_at") or "", source_queue=attrs.get("source_queue") or "",
        raw=m, original_message_id=attrs.get("original_message_id") or "")


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


def redrive_body(letter: DeadLetter) -> str:
    """The message as its consumer expects it again. The shared writer left the body as it
    was: it goes back unchanged (its receive count restarts with the new message). Older
    letters had notes in the body: removed, retry counters restarted."""
    if "error_kind" in (letter.raw.get("MessageAttributes") or {}):
        return letter.body
    try:
        body = json.loads(letter.body)
    except ValueError:
        return letter.body
    if not isinstance(body, dict):
        return letter.body
    if isinstance(body.get("glue_retry"), dict):
        body["glue_retry"] = {**body["glue_retry"], "attempt": 0}
    else:
        for note in ("error", "redrive"):
            body.pop(note, None)
        if "attempt" in body:
            body["attempt"] = 0
    return json.dumps(body)


def redrive_attributes(letter: DeadLetter) -> dict:
    """The original message's own attributes (the writer's removed), and how often redriven."""
    from hubspot_app.messaging.dead_letter import ATTRIBUTES

    ours = {*ATTRIBUTES, "original_message_id", "redrive_count"}
    attrs = {k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
             for k, v in (letter.raw.get("MessageAttributes") or {}).items()
             if k not in ours and "StringValue" in v}
    if letter.hub_id is not None and "hub_id" not in attrs:
        attrs["hub_id"] = {"DataType": "Number", "StringValue": str(letter.hub_id)}
    previous = (letter.raw.get("MessageAttributes") or {}).get("redrive_count", {})
    count = int(previous.get("StringValue") or 0) + 1
    attrs["redrive_count"] = {"DataType": "Number", "StringValue": str(count)}
    return attrs


def redrive(sqs, dlq_url: str, target_url: str, letter: DeadLetter) -> str:
    """Send the message back to the queue it came from, then delete it from the DLQ."""
    attrs = redrive_attributes(letter)
    new_id = sqs.send_message(QueueUrl=target_url, MessageBody=redrive_body(letter),
                              MessageAttributes=attrs)["MessageId"]
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
    return new_id


def purge(sqs, dlq_url: str, letter: DeadLetter) -> None:
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
