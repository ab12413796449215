"""Local event delivery: what Lambda's event source mappings and EventBridge do on AWS.

An `SqsRoute` polls a queue on moto and invokes a Chalice function with the SQS event Lambda
would send (real message ids and receipt handles), through `chalice.test.Client`. It deletes the
messages the function handled and leaves the ones it reported in `batchItemFailures` (or all of
them, if it raised): those come back after their visibility timeout, and moto moves them to the
dead-letter queue after the queue's maxReceiveCount, as SQS does.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import boto3

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Delivery) -> None:
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.errors += other.errors


def lambda_sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """The event Lambda builds from a received batch."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": {
            k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                "stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
            for k, v in m.get("MessageAttributes", {}).items()},
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


class SqsRoute:
    def __init__(self, client, queue_name: str, function_name: str, batch_size: int = 10):
        self.client, self.function_name, self.batch_size = client, function_name, batch_size
        self.sqs = boto3.client("sqs")
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.region = self.sqs.meta.region_name
        self.sqs.meta.events.register("needs-retry.sqs.ReceiveMessage", self._note_failed_receive)

    def _note_failed_receive(self, attempts: int, response=None, caught_exception=None,
                             **_) -> None:
        """Says so when a ReceiveMessage try failed (botocore then tries again, up to its limit):
        if that try had taken messages, they are in flight until their visibility timeout (SQS
        does the same), and a drain that waits on them is explained by this line. Returns None:
        botocore's retry handler decides."""
        status = response[0].status_code if response else None
        if caught_exception is not None or (status is not None and status >= 500):
            log.warning("%s: ReceiveMessage attempt %d failed (%s); what it took stays in flight "
                        "until its visibility timeout", self.function_name, attempts,
                        type(caught_exception).__name__ if caught_exception else f"HTTP {status}")

    def _receive_batch(self, wait_seconds: int) -> list[dict]:
        """Up to batch_size messages, ten per ReceiveMessage, as Lambda's poller gathers them."""
        messages: list[dict] = []
        while len(messages) < self.batch_size:
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=wait_seconds if not messages else 0, AttributeNames=["All"],
                MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            messages += got
        return messages

    def poll_once(self, wait_seconds: int = 0) -> Delivery:
        messages = self._receive_batch(wait_seconds)
        report = Delivery(received=len(messages))
        if not messages:
            return report
        event = lambda_sqs_event(messages, self.queue_arn, self.region)
        try:
            response = self.client.lambda_.invoke(self.function_name, event).payload
            failed_ids = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except Exception as exc:  # noqa: BLE001 - Lambda retries the whole batch on a crash
            failed_ids = {m["MessageId"] for m in messages}
            report.errors.append(f"{type(exc).__name__}: {exc}")
            log.warning("%s raised on a batch of %d (%s); its messages return after their "
                        "visibility timeout", self.function_name, len(messages), type(exc).__name__)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start:start + 10])])
        report.succeeded, report.failed = len(done), len(messages) - len(done)
        return report

    def pending(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attrs.values())

    def run_until_idle(self, timeout: float = 120.0, settle: float = 0.3) -> Delivery:
        """Deliver until the queue holds nothing, in flight and delayed included (or `timeout`
        passes). SQS's counts are approximate (moto's too, under load: a message whose
        visibility is being changed or a delayed copy being sent can be missed once), so the
        queue counts as idle only after it read empty twice, `settle` seconds apart."""
        total = Delivery()
        deadline = time.monotonic() + timeout
        empty_since: float | None = None
        while time.monotonic() < deadline:
            report = self.poll_once()
            total.add(report)
            if report.received:
                empty_since = None
                continue
            if self.pending():
                empty_since = None
            elif empty_since is None:
                empty_since = time.monotonic()
            elif time.monotonic() - empty_since >= settle:
                return total
            time.sleep(0.1)
        log.warning("%s: still busy after %.0f s", self.function_name, timeout)
        return total


class Scheduler:
    """Invokes a scheduled Chalice function with the EventBridge event it would get."""

    def __init__(self, client, function_name: str):
        self.client, self.function_name = client, function_name

    def fire(self, detail: dict | None = None):
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail=detail or {},
            resources=[f"arn:aws:events:local:000000000000:rule/{self.function_name}"])
        return self.client.lambda_.invoke(self.function_name, event).payload


class BackgroundDispatcher:
    """Runs several routes in one thread until stopped (the `up` command and the main job)."""

    def __init__(self, routes: list[SqsRoute], interval: float = 0.2):
        self.routes, self.interval = routes, interval
        self.totals = {r.function_name: Delivery() for r in routes}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            for route in self.routes:
                try:
                    report = route.poll_once()
                except Exception as exc:  # noqa: BLE001 - keep delivering the other routes
                    log.warning("dispatch to %s failed: %s", route.function_name, exc)
                    continue
                self.totals[route.function_name].add(report)
                busy = busy or report.received > 0
            if not busy:
                self._stop.wait(self.interval)

    def start(self) -> BackgroundDispatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def describe(report: Delivery) -> str:
    return json.dumps({"received": report.received, "succeeded": report.succeeded,
                       "failed": report.failed, "errors": report.errors[:3]})
