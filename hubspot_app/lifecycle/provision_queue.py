"""The provisioner's SQS handler: each record's work is `provisioner.provision/deprovision`;
retries, dead letters and the partial batch response are hubspot_app.messaging's (one consumer
for every queue).

A record is malformed (not JSON, not an object, no valid hub_id, an unknown type) or names no
account: dead-lettered at once with that reason. A failure is written on the account
(history, status) before the consumer retries or dead-letters the message.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from typing import TYPE_CHECKING

from hubspot_app import logs
from hubspot_app.config import Settings
from hubspot_app.errors import Permanent, PipelineError, Transient, malformed
from hubspot_app.hub_ids import parse_hub_id
from hubspot_app.lifecycle.provisioner import Busy, deprovision, describe_error, is_permanent, provision, record_failure
from hubspot_app.messaging.consumer import Consumer, QueueSpec, Record
from hubspot_app.messaging.retry import RetryPolicy
from hubspot_app.metrics import emit_metric
from hubspot_app.tracing import subsegment, trace_root

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

log = logging.getLogger(__name__)

TYPES = ("provision", "deprovision")
MAX_BODY_BYTES = 8 * 1024  # a provision message is ~200 bytes: anything near this is not ours


def policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.provisioning.retry_base_seconds, settings.provisioning.retry_max_seconds,
                       max(1, settings.provisioning.max_receives))


def queue_spec(svc: Services) -> QueueSpec:
    settings = svc.settings
    if not settings.provisioning.dlq_name:
        raise RuntimeError("PROVISION_DLQ_NAME is not set")
    return QueueSpec("provision", svc.queue_url(settings.provisioning.dlq_name), policy(settings),
                     MAX_BODY_BYTES)


def parse(record: Record) -> tuple[dict, int]:
    body = record.json()
    if not isinstance(body, dict) or "hub_id" not in body:
        raise malformed("a provision message is a JSON object with hub_id")
    try:
        hub_id = parse_hub_id(body["hub_id"])
    except (ValueError, TypeError):
        raise malformed(f"hub_id {str(body['hub_id'])[:40]!r} is not a HubSpot account id") from None
    record.hub_ids = [hub_id]
    if body.get("type", "provision") not in TYPES:
        raise malformed(f"type {str(body.get('type'))[:40]!r} is not one of {', '.join(TYPES)}")
    return body, hub_id


def handle_record(svc: Services, record: Record, deadline: float | None = None) -> None:
    """One record; returns when done, raises Transient/Permanent otherwise. `deadline`
    (time.monotonic()): when waits for an ambiguous create to show up must end."""
    settings = svc.settings
    body, hub_id = parse(record)
    message_id, receive_count = record.message_id, record.receive_count
    owner = f"{message_id}:{uuid.uuid4().hex[:8]}"
    install_trace = trace_root(record.attributes.get("AWSTraceHeader"))
    linked = {"sender_trace_id": install_trace} if install_trace else {}
    with logs.hub_context(hub_id), subsegment("provision_message", hub_id=hub_id, **linked):
        try:
            if body.get("type") == "deprovision":
                outcome = deprovision(svc, hub_id, owner=owner, message_id=message_id,
                                      receive_count=receive_count)
            else:
                outcome = provision(svc, hub_id, owner=owner, verify=bool(body.get("verify")),
                                    message_id=message_id, receive_count=receive_count,
                                    deadline=deadline)
        except Busy as exc:
            _busy(settings, record, exc)
            return
        except Exception as exc:
            raise _failed(settings, record, hub_id, owner, exc) from exc
        logs.log_event(log, "provision message handled", result=outcome.result,
                       message_id=message_id, receive_count=receive_count,
                       reason=body.get("reason"), sender_trace_id=install_trace)
        emit_metric("ProvisionResults", 1, "Count", Result=outcome.result, hub_id=hub_id)


def _busy(settings: Settings, record: Record, exc: Busy) -> None:
    """Not an error: another worker is on it. If this message is older than that worker's
    lease, the worker read the account after the message was sent: nothing is left for this
    one to do. Otherwise come back when the lease ends."""
    sent_ms = record.attributes.get("SentTimestamp")
    if exc.lease_started_at and sent_ms and \
            int(sent_ms) / 1000 < exc.lease_started_at.timestamp() - 0.5:
        logs.log_event(log, "duplicate message covered by the running provisioning",
                       message_id=record.message_id, receive_count=record.receive_count)
        return
    other_message = bool(exc.holder) and not str(exc.holder).startswith(f"{record.message_id}:")
    if policy(settings).last(record.receive_count) and other_message:
        # The account is still leased by another message's run after every try (it crashed and
        # its lease has not run out): that message returns and finishes the work; should this
        # one have carried something newer, reconcile's drift check catches it. A wait on a
        # shared resource, or on an earlier run of this very message, is never dropped here:
        # nothing else would finish it (the consumer dead-letters it, retries exhausted).
        logs.log_event(log, "duplicate message dropped: account still leased", logging.WARNING,
                       message_id=record.message_id, receive_count=record.receive_count)
        return
    # An account lease: back after the backoff or when the lease ends, whichever is first (the
    # holder usually finishes early). A shared resource's lease: when it ends, and never sooner
    # than the backoff. Each wait spends a receive as a failure does; a wait as short as the
    # lease's last second (bench/storm.py: 2 s, then a new holder took the lease) or behind
    # holders that keep failing must not use up a message's receives faster than failures would.
    retry = policy(settings)
    delay = min(exc.retry_after, round(retry.delay(record.receive_count + 1))) \
        if exc.holder else max(exc.retry_after, retry.visibility(record.receive_count))
    raise Transient(str(exc), delay=max(1, delay))


def _failed(settings: Settings, record: Record, hub_id: int, owner: str,
            exc: Exception) -> PipelineError:
    """Write the failure on the account; the error the consumer acts on."""
    reason = describe_error(exc)
    retry = policy(settings)
    final = is_permanent(exc) or retry.last(record.receive_count)
    delay = None if final else retry.visibility(record.receive_count)
    logs.log_event(log, "provisioning failed", logging.ERROR if final else logging.WARNING,
                   error=reason, message_id=record.message_id, receive_count=record.receive_count,
                   dead_letter=final, retry_in=delay)
    emit_metric("ProvisionResults", 1, "Count",
                Result="dead_lettered" if final else "retrying", hub_id=hub_id)
    try:
        record_failure(settings, hub_id, owner, exc, final=final, message_id=record.message_id,
                       receive_count=record.receive_count, retry_in=delay)
    except Exception as exc2:  # noqa: BLE001 - the message's fate matters more than the note
        logs.log_event(log, "could not record the failure", logging.ERROR,
                       error=type(exc2).__name__)
    if isinstance(exc, Permanent):
        return Permanent(reason, kind=exc.kind)
    return Transient(reason, delay=delay)


def handle_batch(svc: Services, event: dict, context=None) -> dict:
    """Lambda's SQS batch: returns the partial batch response (ReportBatchItemFailures)."""
    settings = svc.settings
    # In Lambda, leave records untouched when the time left could not cover one more account
    # (off Lambda, e.g. chalice.test's 3-second context, there is no such limit).
    remaining = getattr(context, "get_remaining_time_in_millis", None) \
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None

    def has_time() -> bool:
        return not callable(remaining) or remaining() >= 3000 * settings.airbyte.timeout_seconds / 2

    def handle(record: Record) -> None:
        # Settle windows end early enough to save the outcome before Lambda's timeout.
        deadline = (time.monotonic() + remaining() / 1000 - settings.airbyte.timeout_seconds
                    ) if callable(remaining) else None
        handle_record(svc, record, deadline)

    return Consumer(queue_spec(svc), svc.sqs, svc.queue_url, has_time=has_time).run(event, handle)
