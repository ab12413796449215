"""The association-label reader's functions: the daily fan-out and the queue's worker, wired
from Services (hubspot_app.associations)."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from hubspot_app.associations.queue import Budget, LabelReader, fan_out, process_batch, queue_spec
from hubspot_app.associations.snapshot import Layout
from hubspot_app.messaging.consumer import Consumer
from hubspot_app.runtime import Services, services


def _queue_name(svc: Services) -> str:
    name = svc.settings.associations.queue_name
    if not name:
        raise RuntimeError("ASSOCIATION_LABELS_QUEUE_NAME is not set")
    return name


def reader(svc: Services) -> LabelReader:
    """The reader with this container's OAuth client, KMS, S3 and token-endpoint limiter."""
    s = svc.settings
    if not s.lake.bucket:
        raise RuntimeError("LAKE_BUCKET is not set")
    url = svc.queue_url(_queue_name(svc))
    return LabelReader(
        s.associations, Layout(s.lake.bucket, s.lake.raw_prefix), oauth=svc.hubspot_oauth(),
        kms=svc.kms, s3=svc.s3, api_url=s.hubspot.api_url,
        send=lambda body: svc.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body)),
        token_limiter=svc.limiter(s.lifecycle.refresh_per_second),
        http_timeout=s.hubspot.http_timeout_seconds)


def association_labels_schedule(event: dict, svc: Services | None = None) -> dict:
    """One message per active account, each a new snapshot named from the event's time and id
    (EventBridge's scheduled event: `time`, `id`)."""
    svc = svc or services()
    at = _event_time(event.get("time")) or datetime.now(UTC)
    return fan_out(svc.sqs, svc.queue_url(_queue_name(svc)), at, str(event.get("id") or ""))


def association_labels_worker(event: dict, context=None, svc: Services | None = None) -> dict:
    """A batch of the queue (one message per batch): the partial batch response."""
    svc = svc or services()
    a = svc.settings.associations
    if not a.dlq_name:
        raise RuntimeError("ASSOCIATION_LABELS_DLQ_NAME is not set")
    consumer = Consumer(queue_spec(svc.queue_url(a.dlq_name)), sqs=svc.sqs, source_url=svc.queue_url)
    budget = Budget(getattr(context, "get_remaining_time_in_millis", None))
    response, outcomes = process_batch({"Records": event.get("Records", [])}, reader(svc),
                                       consumer, budget)
    return {"outcomes": [o.outcome for o in outcomes], **consumer.report, **response}


def _event_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
