"""The one dead-letter writer: the original body, unchanged, with why it failed as attributes.

Every DLQ message carries the same attributes, whichever queue it came from (ops dlq reads
them): hub_id (one id, several comma-separated, or "none"), error, error_kind (malformed,
unknown_account, oversized, permanent, not_found, retries_exhausted, ...), failed_at (UTC ISO
time), source_queue (the queue's name), receive_count, and original_message_id. The body is
left as it was, so a redrive after the fix is the same message again. A message SQS moved
itself (its last receive crashed the function) has none of these: ops dlq says so.
"""
from __future__ import annotations

from datetime import UTC, datetime

ATTRIBUTES = ("hub_id", "error", "error_kind", "failed_at", "source_queue", "receive_count")
# SQS: at most 10 attributes per message; name, type and value count toward the message size.
MAX_ATTRIBUTES = 10
MAX_ERROR_CHARS = 1000


def hub_label(hub_ids) -> str:
    ids = sorted({int(h) for h in hub_ids or ()})
    if not ids:
        return "none"
    label = ",".join(map(str, ids[:50]))
    return label + (f",+{len(ids) - 50}" if len(ids) > 50 else "")


def attributes(*, hub_ids, error: str, kind: str, source_queue: str, receive_count: int,
               message_id: str, now: datetime | None = None) -> dict:
    def text(value: str) -> dict:
        return {"DataType": "String", "StringValue": value or "?"}

    return {
        "hub_id": text(hub_label(hub_ids)),
        "error": text(error[:MAX_ERROR_CHARS]),
        "error_kind": text(kind),
        "failed_at": text((now or datetime.now(UTC)).isoformat(timespec="seconds")),
        "source_queue": text(source_queue),
        "receive_count": {"DataType": "Number", "StringValue": str(int(receive_count))},
        "original_message_id": text(message_id),
    }


def carried_attributes(lambda_attrs: dict | None) -> dict:
    """The original message's own attributes (Lambda's lower-case shape -> SendMessage's)."""
    out = {}
    for name, value in (lambda_attrs or {}).items():
        data_type = value.get("dataType") or value.get("DataType") or "String"
        string = value.get("stringValue") or value.get("StringValue")
        if string is not None and not data_type.startswith("Binary"):
            out[name] = {"DataType": data_type, "StringValue": string}
    return out


class DeadLetterWriter:
    def __init__(self, sqs, dlq_url: str):
        if not dlq_url:
            raise RuntimeError("this queue has no dead-letter queue configured")
        self.sqs, self.dlq_url = sqs, dlq_url

    def write(self, *, body: str, hub_ids, error: str, kind: str, source_queue: str,
              receive_count: int, message_id: str, original_attributes: dict | None = None) -> str:
        ours = attributes(hub_ids=hub_ids, error=error, kind=kind, source_queue=source_queue,
                          receive_count=receive_count, message_id=message_id)
        theirs = {k: v for k, v in carried_attributes(original_attributes).items() if k not in ours}
        kept = dict(list(theirs.items())[:MAX_ATTRIBUTES - len(ours)])
        return self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=body,
                                     MessageAttributes={**kept, **ours})["MessageId"]
