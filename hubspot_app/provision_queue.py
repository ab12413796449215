"""The provisioner's SQS handler: one batch in, the partial batch response out.

Transient failures return the message with a growing delay (ChangeMessageVisibility); permanent
ones, and transient ones on the last allowed receive, go to the dead-letter queue with the
reason attached as message attributes. The work itself is `provisioner.provision/deprovision`.
"""
from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid

import boto3

from . import logs
from .config import Settings
from .hub_ids import parse_hub_id
from .metrics import emit_metric
from .models import utcnow
from .provisioner import Busy, deprovision, describe_error, is_permanent, provision, record_failure
from .tracing import subsegment, trace_root

log = logging.getLogger(__name__)


def retry_delay(settings: Settings, receive_count: int) -> int:
    base = settings.provision_retry_base_seconds * 2 ** max(0, receive_count - 1)
    delay = min(settings.provision_retry_max_seconds, base)
    return max(1, round(delay * random.uniform(0.8, 1.2))) if delay else 0


def _queue_url_from_arn(arn: str) -> str:
    from .queues import queue_url

    return queue_url(arn.rsplit(":", 1)[-1])


def dead_letter(settings: Settings, record: dict, reason: str, kind: str, receive_count: int,
                hub_id: int | None) -> None:
    """Put the message on the DLQ with why it failed (the caller then lets the original go)."""
    from .queues import queue_url

    if not settings.provision_dlq_name:
        raise RuntimeError("PROVISION_DLQ_NAME is not set")
    attrs = {
        "error": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
        "error_kind": {"DataType": "String", "StringValue": kind},
        "receive_count": {"DataType": "Number", "StringValue": str(receive_count)},
        "failed_at": {"DataType": "String", "StringValue": utcnow().isoformat(timespec="seconds")},
        "source_queue": {"DataType": "String",
                         "StringValue": record.get("eventSourceARN", "").rsplit(":", 1)[-1] or "?"},
        "original_message_id": {"DataType": "String", "StringValue": record["messageId"]},
    }
    if hub_id is not None:
        attrs["hub_id"] = {"DataType": "Number", "StringValue": str(hub_id)}
    boto3.client("sqs").send_message(QueueUrl=queue_url(settings.provision_dlq_name),
                                     MessageBody=record["body"], MessageAttributes=attrs)


def handle_record(settings: Settings, record: dict, deadline: float | None = None) -> bool:
    """Process one SQS record; True when it is done (handled or dead-lettered). `deadline`
    (time.monotonic()): when waits for an ambiguous create to show up must end."""
    message_id = record["messageId"]
    receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    try:
        body = json.loads(record["body"])
        hub_id = parse_hub_id(body["hub_id"])  # ValueError (InvalidHubId) when not a hub_id
    except (ValueError, KeyError, TypeError, RecursionError):
        logs.log_event(log, "malformed provision message", logging.ERROR, message_id=message_id)
        dead_letter(settings, record, "permanent: malformed message (needs hub_id)", "permanent",
                    receive_count, None)
        return True
    owner = f"{message_id}:{uuid.uuid4().hex[:8]}"
    install_trace = trace_root((record.get("attributes") or {}).get("AWSTraceHeader"))
    linked = {"sender_trace_id": install_trace} if install_trace else {}
    with logs.hub_context(hub_id), subsegment("provision_message", hub_id=hub_id, **linked):
        try:
            if body.get("type") == "deprovision":
                outcome = deprovision(settings, hub_id, owner=owner, message_id=message_id,
                                      receive_count=receive_count)
            else:
                outcome = provision(settings, hub_id, owner=owner, verify=bool(body.get("verify")),
                                    message_id=message_id, receive_count=receive_count,
                                    deadline=deadline)
            logs.log_event(log, "provision message handled", result=outcome.result,
                           message_id=message_id, receive_count=receive_count,
                           reason=body.get("reason"), sender_trace_id=install_trace)
            emit_metric("ProvisionResults", 1, "Count", Result=outcome.result, hub_id=hub_id)
            return True
        except Busy as exc:
            # Not an error: another worker is on it. If this message is older than that worker's
            # lease, the worker read the account after the message was sent: nothing is left
            # for this one to do. Otherwise come back when the lease ends.
            sent_ms = (record.get("attributes") or {}).get("SentTimestamp")
            if exc.lease_started_at and sent_ms and \
                    int(sent_ms) / 1000 < exc.lease_started_at.timestamp() - 0.5:
                logs.log_event(log, "duplicate message covered by the running provisioning",
                               message_id=message_id, receive_count=receive_count)
                return True
            if receive_count >= settings.provision_max_receives:
                # Still busy after every try (the holder crashed and its lease has not run out):
                # the holder's own message returns and finishes the work; should this message
                # have carried something newer, reconcile's drift check catches it.
                logs.log_event(log, "duplicate message dropped: account still leased",
                               logging.WARNING, message_id=message_id, receive_count=receive_count)
                return True
            delay = min(exc.retry_after, round(2 ** receive_count * random.uniform(0.8, 1.2)))
            logs.log_event(log, "account busy; message returns later", message_id=message_id,
                           retry_in=delay)
            _delay(record, delay)
            return False
        except Exception as exc:  # noqa: BLE001 - classified below; bugs count as transient
            return _fail(settings, record, hub_id, owner, exc, receive_count, message_id)


def _fail(settings, record, hub_id, owner, exc, receive_count, message_id) -> bool:
    reason = describe_error(exc)
    final = is_permanent(exc) or receive_count >= settings.provision_max_receives
    delay = None if final else retry_delay(settings, receive_count)
    logs.log_event(log, "provisioning failed", logging.ERROR if final else logging.WARNING,
                   error=reason, message_id=message_id, receive_count=receive_count,
                   dead_letter=final, retry_in=delay)
    emit_metric("ProvisionResults", 1, "Count",
                Result="dead_lettered" if final else "retrying", hub_id=hub_id)
    try:
        record_failure(settings, hub_id, owner, exc, final=final, message_id=message_id,
                       receive_count=receive_count, retry_in=delay)
    except Exception as exc2:  # noqa: BLE001 - the message's fate matters more than the note
        logs.log_event(log, "could not record the failure", logging.ERROR,
                       error=type(exc2).__name__)
    if final:
        try:
            dead_letter(settings, record, reason,
                        "permanent" if is_permanent(exc) else "retries_exhausted",
                        receive_count, hub_id)
            return True
        except Exception as exc2:  # noqa: BLE001 - SQS's own redrive policy is the fallback
            logs.log_event(log, "could not dead-letter; leaving it to the redrive policy",
                           logging.ERROR, error=type(exc2).__name__)
            return False
    _delay(record, delay or 0)
    return False


def _delay(record: dict, seconds: int) -> None:
    try:
        boto3.client("sqs").change_message_visibility(
            QueueUrl=_queue_url_from_arn(record["eventSourceARN"]),
            ReceiptHandle=record["receiptHandle"], VisibilityTimeout=max(0, min(int(seconds), 43200)))
    except Exception as exc:  # noqa: BLE001 - then it returns after the queue's visibility timeout
        logs.log_event(log, "could not set the retry delay", logging.WARNING, error=type(exc).__name__)


def handle_batch(settings: Settings, event: dict, context=None) -> dict:
    """Lambda's SQS batch: returns the partial batch response (ReportBatchItemFailures)."""
    failures = []
    # In Lambda, leave records untouched when the time left could not cover one more account
    # (off Lambda, e.g. chalice.test's 3-second context, there is no such limit).
    remaining = getattr(context, "get_remaining_time_in_millis", None) \
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None
    for record in event.get("Records", []):
        if callable(remaining) and remaining() < 3000 * settings.airbyte_timeout_seconds / 2:
            failures.append({"itemIdentifier": record["messageId"]})  # no time left: next batch
            continue
        # Settle windows end early enough to save the outcome before Lambda's timeout.
        deadline = (time.monotonic() + remaining() / 1000 - settings.airbyte_timeout_seconds
                    ) if callable(remaining) else None
        if not handle_record(settings, record, deadline):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
