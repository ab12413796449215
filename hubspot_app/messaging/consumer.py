"""One SQS consumer for every queue: a batch in, Lambda's partial batch response out.

A record handler returns (done), or raises `errors.Transient` (try again later) or
`errors.Permanent` (retrying cannot help); any other exception is a bug and counts as
transient, so a fix deployed meanwhile still gets its chance. Then:
- transient: the record's visibility is set to the retry policy's delay (or the error's own
  `delay`) with ChangeMessageVisibility, and it is named in `batchItemFailures`; on its last
  allowed receive it is dead-lettered instead (error_kind retries_exhausted);
- permanent: dead-lettered at once, with `error_kind` from the error;
- dead-lettered records are deleted from the source queue right after the DLQ copy is written,
  not at the end of the batch: should the function then time out on a later record, Lambda
  retries the batch without them, and the DLQ holds one copy. If the DLQ write fails, the
  record stays failed: SQS's redrive policy moves it after its last receive.
- records over the queue's `max_body_bytes` are dead-lettered as `oversized` unread.

The event source mapping must set ReportBatchItemFailures (deploy/infra.py does, for every
SQS function; `python -m deploy` checks it after `chalice deploy`).
Powertools' BatchProcessor does the same bookkeeping; docs/design notes why this is used
instead (cold start and package size, measured: README, "SQS consumers").
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hubspot_app import logs
from hubspot_app.errors import OVERSIZED, Permanent, PipelineError, Transient
from hubspot_app.messaging.dead_letter import DeadLetterWriter
from hubspot_app.messaging.retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSpec:
    label: str                 # provision | lifecycle | glue (ops dlq --queue uses the same)
    dlq_url: str
    policy: RetryPolicy
    max_body_bytes: int = 64 * 1024


@dataclass
class Record:
    raw: dict
    hub_ids: list[int] = field(default_factory=list)  # handlers note what they learn (DLQ attribute)

    @property
    def message_id(self) -> str:
        return self.raw["messageId"]

    @property
    def body(self) -> str:
        return self.raw.get("body") or ""

    @property
    def attributes(self) -> dict:
        return self.raw.get("attributes") or {}

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", "1"))

    @property
    def queue_name(self) -> str:
        return (self.raw.get("eventSourceARN") or "").rsplit(":", 1)[-1]

    def json(self) -> object:
        """The body parsed; a body that is not JSON is a permanent, malformed message."""
        from hubspot_app.errors import malformed

        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise malformed("the body is not JSON") from None


BatchHandler = Callable[[list[Record]], Iterable[tuple[Record, BaseException | None]]]


class Consumer:
    def __init__(self, queue: QueueSpec, sqs, source_url: Callable[[str], str],
                 has_time: Callable[[], bool] | None = None):
        """`sqs` and `source_url` (a queue's URL from its name: Services.queue_url) from the
        function's Services."""
        self.queue, self.sqs = queue, sqs
        self.source_url: Callable[[str], str] = source_url
        self.has_time = has_time or (lambda: True)
        self.report = {"done": 0, "retrying": 0, "dead_lettered": 0, "not_started": 0}

    def run(self, event: dict, handle: Callable[[Record], object]) -> dict:
        """One handler call per record."""
        def each(records: list[Record]) -> Iterable[tuple[Record, BaseException | None]]:
            for record in records:
                if not self.has_time():
                    yield record, _NotStarted()
                    continue
                try:
                    handle(record)
                    yield record, None
                except Exception as exc:  # noqa: BLE001 - classified in _settle (bugs: transient)
                    yield record, exc
        return self.run_batch(event, each)

    def run_batch(self, event: dict, handle: BatchHandler) -> dict:
        """`handle` sees every (right-sized) record at once and yields each one's outcome: for
        work that spans records, such as one Glue run for a whole batch of file events."""
        failures: list[dict] = []
        fit: list[Record] = []
        for raw in event.get("Records") or []:
            record = Record(raw)
            size = len(record.body.encode())
            if size > self.queue.max_body_bytes:
                big = Permanent(f"oversized message: {size} bytes, at most "
                                f"{self.queue.max_body_bytes} on the {self.queue.label} queue",
                                kind=OVERSIZED)
                if not self._settle(record, big):
                    failures.append({"itemIdentifier": record.message_id})
            else:
                fit.append(record)
        for record, exc in handle(fit):
            if not self._settle(record, exc):
                failures.append({"itemIdentifier": record.message_id})
        return {"batchItemFailures": failures}

    # -- one record's fate: True when it is finished with (done or dead-lettered) ----------
    def _settle(self, record: Record, exc: BaseException | None) -> bool:
        if exc is None:
            self.report["done"] += 1
            return True
        if isinstance(exc, _NotStarted):  # for the next invocation, at once
            self.report["not_started"] += 1
            self._call("ChangeMessageVisibility", lambda: self.sqs.change_message_visibility(
                QueueUrl=self._source_url(record), ReceiptHandle=record.raw["receiptHandle"],
                VisibilityTimeout=0))
            return False
        attempt = record.receive_count
        if isinstance(exc, Permanent):
            return self._dead_letter(record, exc.reason, exc.kind)
        reason = exc.reason if isinstance(exc, PipelineError) else \
            f"{type(exc).__name__}: {exc}"
        reason = logs.redact(reason)[:1000]
        if self.queue.policy.last(attempt):
            return self._dead_letter(record, reason, "retries_exhausted")
        wanted = getattr(exc, "delay", None) if isinstance(exc, Transient) else None
        delay = self.queue.policy.visibility(attempt) if wanted is None else \
            max(0, min(43_200, round(wanted)))
        logs.log_event(log, "message returns later", logging.WARNING, queue=self.queue.label,
                       message_id=record.message_id, receive_count=attempt, retry_in=delay,
                       error=reason, hub_ids=record.hub_ids[:20] or None)
        self._call("ChangeMessageVisibility", lambda: self.sqs.change_message_visibility(
            QueueUrl=self._source_url(record), ReceiptHandle=record.raw["receiptHandle"],
            VisibilityTimeout=delay))
        self.report["retrying"] += 1
        return False

    def _dead_letter(self, record: Record, reason: str, kind: str) -> bool:
        from hubspot_app.metrics import emit_metric

        reason = logs.redact(reason)[:1000]
        try:
            DeadLetterWriter(self.sqs, self.queue.dlq_url).write(
                body=record.body, hub_ids=record.hub_ids, error=reason, kind=kind,
                source_queue=record.queue_name, receive_count=record.receive_count,
                message_id=record.message_id,
                original_attributes=record.raw.get("messageAttributes"))
        except Exception as exc:  # noqa: BLE001 - then SQS's redrive policy moves it instead
            logs.log_event(log, "could not dead-letter; the queue's redrive policy will",
                           logging.ERROR, queue=self.queue.label, message_id=record.message_id,
                           error=type(exc).__name__)
            return False
        logs.log_event(log, "message dead-lettered", logging.ERROR, queue=self.queue.label,
                       message_id=record.message_id, receive_count=record.receive_count,
                       error_kind=kind, error=reason, hub_ids=record.hub_ids[:20] or None)
        emit_metric("MessagesDeadLettered", 1, "Count", Queue=self.queue.label, Kind=kind)
        self.report["dead_lettered"] += 1
        # Acknowledged now (see the module doc); Lambda's own delete after the batch is a no-op.
        self._call("DeleteMessage", lambda: self.sqs.delete_message(
            QueueUrl=self._source_url(record), ReceiptHandle=record.raw["receiptHandle"]))
        return True

    def _source_url(self, record: Record) -> str:
        return self.source_url(record.queue_name)

    def _call(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the batch response still decides the record's fate
            logs.log_event(log, f"{what} failed", logging.WARNING, queue=self.queue.label,
                           error=type(exc).__name__)


class _NotStarted(Exception):
    """Left for the next delivery (no time left in this invocation)."""
