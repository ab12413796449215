"""The association-label queue: the daily fan-out, its messages and the record handler.

- `fan_out` (scheduled daily): one message per active account, each naming a new snapshot
  (`snapshot.snapshot_id`, derived from the schedule event's time and id: a redelivered
  schedule event names the same snapshots, so it writes no second manifest).
- `LabelReader.handle` (the SQS worker; batches of one): refreshes the account's access token
  (the stored refresh token, decrypted with its hub_id context, as the token check does), reads
  chunks while the Lambda has time (`Budget`), then either sends the state on as a
  continuation message or writes the manifest. A redelivered message re-reads from the same
  cursor into the same chunk keys; a step that finds the snapshot's manifest stops.
- Outcomes that retrying cannot change end the message without a dead letter and are recorded
  on the account (`labels_outcome`): a refresh token HubSpot refuses (`token_revoked`: the
  install was revoked or uninstalled; token health marks the account and alerts), one that
  does not decrypt, an uninstalled or unknown account (logged). HubSpot not answering, 429s that
  outlast the in-process retries, and SQS/S3 failures are transient: the shared consumer brings
  the message back with the queue's retry policy, and dead-letters it after its last receive.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hubspot_app import logs
from hubspot_app.associations.crm import HubSpotCrm
from hubspot_app.associations.pairs import pair_name, split_by_scope
from hubspot_app.associations.snapshot import (
    ALREADY_COMPLETE,
    COMPLETE,
    MESSAGE_TYPE,
    Layout,
    SnapshotState,
    iso,
    read_step,
    snapshot_id,
)
from hubspot_app.errors import Transient, malformed
from hubspot_app.messaging.rate_limit import RateLimiter
from hubspot_app.metrics import emit_metric

if TYPE_CHECKING:
    from hubspot_app.config import AssociationSettings

log = logging.getLogger(__name__)

TIME_RESERVE_MS = 30_000   # stop starting chunks when less than this is left (a chunk: ~11 calls)
MAX_BODY_BYTES = 64 * 1024
TOKEN_REVOKED, TOKEN_UNDECRYPTABLE, SKIPPED, NO_ACCOUNT, CONTINUED = (
    "token_revoked", "token_undecryptable", "skipped", "no_account", "continued")


def start_message(hub_id: int, snapshot: str) -> dict:
    """The first message of a snapshot: the worker fills in pairs and started_at."""
    return {"type": MESSAGE_TYPE, "hub_id": int(hub_id), "snapshot_id": snapshot}


def send_bodies(sqs: Any, queue_url: str, bodies: list[dict]) -> int:
    """SendMessageBatch, ten per call; raises if any failed."""
    sent = 0
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(chunk)])
        if answer.get("Failed"):
            raise Transient(f"{len(answer['Failed'])} association_labels messages not sent")
        sent += len(chunk)
    return sent


def fan_out(sqs: Any, queue_url: str, at: datetime, salt: str = "") -> dict:
    """Every active account, one message each (the accounts table scanned for hub_id, status)."""
    from hubspot_app.models import Account, AccountStatus

    started = time.monotonic()
    hub_ids = sorted(int(a.hub_id) for a in Account.scan(attributes_to_get=["hub_id", "status"])
                     if a.status == AccountStatus.ACTIVE)
    sent = send_bodies(sqs, queue_url, [start_message(h, snapshot_id(h, at, salt)) for h in hub_ids])
    summary = {"accounts": len(hub_ids), "messages": sent,
               "seconds": round(time.monotonic() - started, 3)}
    emit_metric("AssociationLabelsFanOutAccounts", len(hub_ids), "Count")
    logs.log_event(log, "association labels fan-out", **summary)
    return summary


class Budget:
    """The Lambda's remaining time; a context that reports none (local tools) is no limit."""

    def __init__(self, remaining_ms: Callable[[], int] | None, reserve_ms: int = TIME_RESERVE_MS):
        self.remaining_ms, self.reserve = remaining_ms, float(reserve_ms)
        if remaining_ms is not None:
            initial = remaining_ms()
            if initial <= 0:
                self.remaining_ms = None
            else:  # a short timeout keeps a quarter of itself in reserve
                self.reserve = min(self.reserve, initial / 4)

    def has_time(self) -> bool:
        return self.remaining_ms is None or self.remaining_ms() >= self.reserve


@dataclass
class Outcome:
    hub_id: int
    outcome: str          # complete, already_complete, continued, token_revoked, ...
    snapshot_id: str = ""
    chunks: int = 0
    records: int = 0


class LabelReader:
    """Wired by hubspot_app.handlers.associations from Services (or by tests with fakes)."""

    def __init__(self, settings: AssociationSettings, layout: Layout, *, oauth: Any, kms: Any,
                 s3: Any, send: Callable[[dict], object], api_url: str,
                 token_limiter: RateLimiter | None = None, http_timeout: float = 10.0,
                 session: Any = None, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic):
        self.settings, self.layout = settings, layout
        self.oauth, self.kms, self.s3, self.send = oauth, kms, s3, send
        self.api_url, self.http_timeout, self.session = api_url, http_timeout, session
        self.token_limiter = token_limiter or RateLimiter(0)
        self.now, self.sleep, self.monotonic = now, sleep, monotonic

    # -- one message ---------------------------------------------------------------------
    def handle(self, message: dict, budget: Budget) -> Outcome:
        from pynamodb.exceptions import DoesNotExist

        from hubspot_app.models import Account, AccountStatus

        hub_id = _hub_id(message)
        with logs.hub_context(hub_id):
            try:
                account = Account.get(hub_id)
            except DoesNotExist:
                logs.log_event(log, "association labels: no such account", logging.WARNING)
                return Outcome(hub_id, NO_ACCOUNT)
            if account.status in (AccountStatus.UNINSTALLED, AccountStatus.NEEDS_REAUTH) or \
                    not account.refresh_token_encrypted:
                logs.log_event(log, "association labels: account skipped", status=account.status)
                return Outcome(hub_id, SKIPPED)
            state = self._state(message, account)
            access_token = self._access_token(account, state)
            if access_token is None:
                return Outcome(hub_id, account.labels_outcome or TOKEN_REVOKED, state.snapshot_id)
            crm = HubSpotCrm(self.api_url, access_token,
                             limiter=RateLimiter(self.settings.requests_per_second,
                                                 clock=self.monotonic, sleep=self.sleep),
                             timeout=self.http_timeout, session=self.session, sleep=self.sleep)
            report = read_step(state, crm, self.s3, self.layout, has_time=budget.has_time,
                               ids_per_chunk=self.settings.ids_per_chunk, now=self.now)
            emit_metric("AssociationLabelRecords", report.records, "Count")
            if report.outcome in (COMPLETE, ALREADY_COMPLETE):
                if report.outcome == COMPLETE:
                    self._record(account, COMPLETE, state.snapshot_id)
                logs.log_event(log, "association labels snapshot " + report.outcome.replace("_", " "),
                               snapshot_id=state.snapshot_id, step=state.step,
                               chunks=report.chunks, records=report.records, calls=report.calls,
                               pairs=len(state.pairs), skipped_pairs=len(state.skipped))
                return Outcome(hub_id, report.outcome, state.snapshot_id, report.chunks,
                               report.records)
            state.step += 1
            try:
                self.send(state.message())
            except Exception as exc:  # the redelivery redoes this step into the same keys
                raise Transient(f"continuation not sent: {type(exc).__name__}") from exc
            logs.log_event(log, "association labels snapshot continues",
                           snapshot_id=state.snapshot_id, step=state.step, chunks=report.chunks,
                           records=report.records, calls=report.calls,
                           pair=pair_name(*state.pairs[state.pair]) if state.pair < len(state.pairs) else None)
            return Outcome(hub_id, CONTINUED, state.snapshot_id, report.chunks, report.records)

    def _state(self, message: dict, account: Any) -> SnapshotState:
        if "pairs" in message:
            return SnapshotState.from_message(message)
        allowed, skipped = split_by_scope(account.scopes or [])
        snap = str(message.get("snapshot_id") or snapshot_id(account.hub_id, self.now()))
        if not _valid_snapshot_id(snap):
            raise malformed("snapshot_id is not <YYYYmmddTHHMMSSZ>-<8 hex>")
        if skipped:
            logs.log_event(log, "association labels: pairs skipped for scopes",
                           pairs=[pair_name(*p) for p in skipped])
        return SnapshotState(int(account.hub_id), snap, iso(self.now()),
                             [list(p) for p in allowed], [list(p) for p in skipped])

    def _access_token(self, account: Any, state: SnapshotState) -> str | None:
        """A fresh access token, or None when the stored refresh token is refused or does not
        decrypt (recorded on the account)."""
        from hubspot_app.hubspot_oauth import HubSpotOAuthError, HubSpotUnavailable, InvalidGrant
        from hubspot_app.token_crypto import TokenDecryptError, decrypt_token

        try:
            refresh_token = decrypt_token(account.refresh_token_encrypted, account.hub_id, kms=self.kms)
        except TokenDecryptError:
            self._record(account, TOKEN_UNDECRYPTABLE, state.snapshot_id)
            return None
        logs.register_secret(refresh_token)
        try:
            self.token_limiter.acquire()
            tokens = self.oauth.refresh(refresh_token)
        except InvalidGrant as exc:
            logs.log_event(log, "association labels: HubSpot refused the refresh token",
                           logging.WARNING, code=exc.code, snapshot_id=state.snapshot_id)
            emit_metric("AssociationLabelsTokenRefused", 1, "Count")
            self._record(account, TOKEN_REVOKED, state.snapshot_id)
            return None
        except HubSpotUnavailable as exc:
            raise Transient(f"HubSpot's token endpoint did not answer ({exc.http_status})") from None
        except HubSpotOAuthError as exc:  # the app's credentials or an unknown answer: later
            raise Transient(f"token refresh failed ({exc.code or exc.http_status})") from None
        logs.register_secret(tokens.access_token)
        return tokens.access_token

    def _record(self, account: Any, outcome: str, snapshot: str) -> None:
        from hubspot_app.models import Account

        account.labels_outcome = outcome
        account.update(actions=[Account.labels_outcome.set(outcome),
                                Account.labels_at.set(self.now()),
                                Account.labels_snapshot_id.set(snapshot)])


def _hub_id(message: object) -> int:
    from hubspot_app.hub_ids import hub_id_or_none

    if not isinstance(message, dict) or message.get("type") != MESSAGE_TYPE:
        raise malformed(f"an association_labels message is a JSON object of type {MESSAGE_TYPE!r}")
    hub_id = hub_id_or_none(message.get("hub_id"))
    if hub_id is None:
        raise malformed("an association_labels message needs a valid hub_id")
    return hub_id


def _valid_snapshot_id(value: str) -> bool:
    import re

    return re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", value) is not None


def queue_spec(dlq_url: str) -> Any:
    from hubspot_app.messaging.consumer import QueueSpec
    from hubspot_app.messaging.retry import queue_policy

    return QueueSpec("association_labels", dlq_url, queue_policy("association_labels"),
                     MAX_BODY_BYTES)


def process_batch(event: dict, reader: LabelReader, consumer: Any, budget: Budget) -> tuple[dict, list[Outcome]]:
    """The worker's batch on the shared consumer: (partial batch response, outcomes)."""
    outcomes: list[Outcome] = []
    consumer.has_time = budget.has_time

    def handle(record: Any) -> None:
        message = record.json()
        record.hub_ids = [_hub_id(message)]
        outcomes.append(reader.handle(message, budget))

    return consumer.run(event, handle), outcomes
