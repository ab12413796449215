"""Messages between the functions: the provision queue's message shape and sending it."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def provision_message(hub_id: int, idempotency_key: str, reason: str) -> dict:
    """The provisioner re-reads the account, so the message carries only what names the work."""
    return {
        "type": "provision",
        "hub_id": int(hub_id),
        "idempotency_key": idempotency_key,
        "reason": reason,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def send_provision_message(sqs: Any, queue_url: str, hub_id: int, idempotency_key: str,
                           reason: str) -> str:
    """`sqs` and `queue_url` from the caller's Services (sqs, queue_url(name))."""
    from hubspot_app.tracing import current_trace_header

    body = provision_message(hub_id, idempotency_key, reason)
    extra = {}
    trace = current_trace_header()
    if trace:  # the provisioner's spans link back to the install that queued the work
        extra["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String",
                                                               "StringValue": trace}}
    response = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body),
        MessageAttributes={"hub_id": {"DataType": "Number", "StringValue": str(int(hub_id))}},
        **extra,
    )
    return response["MessageId"]
