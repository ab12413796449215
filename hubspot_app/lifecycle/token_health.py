"""The scheduled token-health check: refresh every account's token, classify, act, alert.

Shape of the work (10,000 accounts or more):
- `fan_out` (the EventBridge-scheduled function) scans the accounts table for hub_ids only and
  sends them to the lifecycle queue, `accounts_per_message` hub_ids per message, ten messages
  per SendMessageBatch call. 10,000 accounts = 400 messages = 40 calls: seconds, not minutes.
- `process_batch` (the SQS worker, on hubspot_app.messaging's consumer) checks the hub_ids of a
  batch. A process-wide limiter keeps calls to HubSpot's token endpoint under
  `refresh_per_second` (and stops for a while after a 429); the event source's maximum
  concurrency bounds the workers, so the global rate is concurrency x refresh_per_second. The
  worker watches the Lambda's remaining time and sends what it could not finish on as a new
  message. A record with transiently failed accounts returns with the lifecycle retry policy's
  delay (partial batch response; its accounts checked meanwhile are skipped as checked
  recently); on its last receive it is let go, and the next scheduled run checks them again.
  Malformed messages and uninstalls of unknown accounts are dead-lettered once; an uninstall
  that keeps failing is dead-lettered on its last receive.

Classifying an account's check:
- ok: the refresh worked (and, with `check_scopes`, introspection says the token belongs to this
  hub_id and has every required scope).
- transient: timeout, connection error, 429, 5xx: recorded, retried later, never alerted.
- broken: BAD_REFRESH_TOKEN / invalid_grant / inactive token / missing scope / a token that no
  longer decrypts, *confirmed by a second try* after `confirm_delay_seconds`. The account becomes
  `needs_reauth`, its Airbyte connection is paused, and operators get one alert (hub_id, what
  happened, what to do). Optionally, after `uninstall_after_days` broken, it is offboarded.
- config: HubSpot refuses the app's own client id or secret: one app-level alert, accounts are
  left alone (it is not their fault).
A broken account that works again (the customer re-installed, or HubSpot recovered) gets its
connection resumed (only if this check paused it), its status back, and a "recovered" alert.
The same pass reads the connection's last successful Airbyte sync and alerts when it is older
than `sync_freshness_hours` (and again, "recovered", when syncs resume).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from hubspot_app import logs
from hubspot_app.messaging.rate_limit import RateLimiter
from hubspot_app.metrics import emit_metric

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

log = logging.getLogger(__name__)

OK, TRANSIENT, BROKEN, CONFIG, SKIPPED, GONE = "ok", "transient", "broken", "config", "skipped", "gone"
TOKEN_ALERT, SYNC_ALERT = "token", "sync"
MAX_SQS_DELAY = 900
TIME_RESERVE_MS = 20_000  # stop starting new accounts when less than this is left
RATE_LIMIT_COOLDOWN_SECONDS = 10.0  # after a 429: HubSpot's limits roll over 10 s


# -- Airbyte: the few actions this module needs -----------------------------------------------
class AirbyteActions(Protocol):
    def pause_connection(self, connection_id: str) -> None: ...
    def resume_connection(self, connection_id: str) -> None: ...
    def delete_connection(self, connection_id: str) -> None: ...
    def delete_source(self, source_id: str) -> None: ...
    def last_successful_sync(self, connection_id: str) -> datetime | None: ...


class AirbyteGone(Exception):
    """The resource does not exist (any more)."""


class ClientAirbyteActions:
    """AirbyteActions over the provisioner's client (hubspot_app.airbyte.client)."""

    def __init__(self, client):
        self.client = client

    def _ignoring_missing(self, call, *args):
        from hubspot_app.airbyte.client import AirbyteNotFound

        try:
            return call(*args)
        except AirbyteNotFound:
            raise AirbyteGone(str(args[0])) from None

    def pause_connection(self, connection_id: str) -> None:
        self._ignoring_missing(self.client.update_connection, connection_id, {"status": "inactive"})

    def resume_connection(self, connection_id: str) -> None:
        self._ignoring_missing(self.client.update_connection, connection_id, {"status": "active"})

    def delete_connection(self, connection_id: str) -> None:
        self._ignoring_missing(self.client.delete_connection, connection_id)

    def delete_source(self, source_id: str) -> None:
        self._ignoring_missing(self.client.delete_source, source_id)

    def last_successful_sync(self, connection_id: str) -> datetime | None:
        page = self.client.request("GET", "/jobs", params={
            "connectionId": connection_id, "status": "succeeded", "jobType": "sync",
            "orderBy": "updatedAt|DESC", "limit": 1}) or {}
        for job in page.get("data") or []:
            stamp = job.get("lastUpdatedAt") or job.get("startTime")
            if stamp:
                return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        return None


# -- one account ----------------------------------------------------------------------------
@dataclass
class Verdict:
    outcome: str            # ok, transient, broken, config
    code: str = ""          # HubSpot's code or our reason (never a token)
    detail: str = ""


@dataclass
class CheckResult:
    hub_id: int
    outcome: str
    code: str = ""
    events: list[str] = field(default_factory=list)   # alerts sent: token_broken, ...


class TokenHealthChecker:
    def __init__(self, settings, health, oauth, airbyte: AirbyteActions | None = None,
                 limiter: RateLimiter | None = None, kms=None,
                 now: Callable[[], datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
                 alert: Callable[..., object] | None = None, uninstall: Callable[..., object] | None = None,
                 send: Callable[[list[tuple[dict, int]]], int] | None = None):
        """Wired by hubspot_app.handlers.lifecycle (LifecycleParts.checker): the container's
        limiter, KMS client, alerts and lifecycle queue. Left out: a limiter of its own, alerts
        only logged, no uninstall."""
        from hubspot_app.alerts import send_alert

        self.settings, self.health, self.oauth, self.airbyte = settings, health, oauth, airbyte
        self.limiter = limiter or RateLimiter(health.refresh_per_second)
        self.kms = kms
        self.now = now or (lambda: datetime.now(UTC))
        self.sleep = sleep
        self._alert = alert or send_alert
        self._uninstall = uninstall
        self._send = send  # (uninstall message, delay) pairs to the lifecycle queue
        self.required_scopes = set(settings.hubspot.scopes)
        self.config_alerted = False

    # -- talking to HubSpot ------------------------------------------------------------
    def probe(self, hub_id: int, encrypted: str) -> Verdict:
        """One try: decrypt, refresh, (introspect). Classifies every failure."""
        from hubspot_app.hubspot_oauth import ClientConfigError, HubSpotOAuthError, HubSpotUnavailable, InvalidGrant
        from hubspot_app.token_crypto import TokenDecryptError, decrypt_token

        try:
            refresh_token = decrypt_token(encrypted, hub_id, kms=self.kms)
        except TokenDecryptError:
            return Verdict(BROKEN, "undecryptable", "the stored refresh token does not decrypt")
        logs.register_secret(refresh_token)
        try:
            self.limiter.acquire()
            tokens = self.oauth.refresh(refresh_token)
            logs.register_secret(tokens.access_token)
            if not self.health.check_scopes:
                return Verdict(OK)
            self.limiter.acquire()
            info = self.oauth.introspect(tokens.access_token)
        except InvalidGrant as exc:
            return Verdict(BROKEN, exc.code or "invalid_grant", "HubSpot refused the refresh token")
        except HubSpotUnavailable as exc:
            if exc.http_status == 429:
                self.limiter.cool_down(RATE_LIMIT_COOLDOWN_SECONDS)
            return Verdict(TRANSIENT, str(exc.http_status or "unreachable"), "HubSpot did not answer")
        except ClientConfigError as exc:
            return Verdict(CONFIG, exc.code or "client_config", "HubSpot refused the app's credentials")
        except HubSpotOAuthError as exc:
            # An unknown 4xx: not proof that the token is dead. Retry later, do not alarm.
            return Verdict(TRANSIENT, exc.code or str(exc.http_status), "unexpected HubSpot answer")
        if int(info.hub_id) != int(hub_id):
            return Verdict(BROKEN, "hub_mismatch", "the token belongs to another HubSpot account")
        missing = sorted(self.required_scopes - set(info.scopes))
        if missing:
            return Verdict(BROKEN, "missing_scope", "missing scope(s): " + " ".join(missing))
        return Verdict(OK)

    # -- the check -----------------------------------------------------------------------
    def check(self, hub_id: int, force: bool = False) -> CheckResult:
        from pynamodb.exceptions import DoesNotExist

        from hubspot_app.models import Account, AccountStatus

        with logs.hub_context(hub_id):
            try:
                account = Account.get(hub_id)
            except DoesNotExist:
                return CheckResult(hub_id, GONE, "no_account")
            if account.status == AccountStatus.UNINSTALLED or not account.refresh_token_encrypted:
                # Refused: nothing is done for an uninstalled account until it installs again.
                return CheckResult(hub_id, SKIPPED, "uninstalled")
            now = self.now()
            open_alerts = set(account.open_alerts or [])
            recent = (account.token_checked_at is not None and
                      (now - account.token_checked_at).total_seconds() < self.health.min_check_interval_seconds)
            if recent and not force and not open_alerts and account.token_health == OK:
                return CheckResult(hub_id, SKIPPED, "checked_recently")
            encrypted = account.refresh_token_encrypted
            verdict = self.probe(hub_id, encrypted)
            if verdict.outcome == BROKEN:
                # One refusal can be a blip on HubSpot's side: confirm before acting on it.
                self.sleep(self.health.confirm_delay_seconds)
                verdict = self.probe(hub_id, encrypted)
            result = CheckResult(hub_id, verdict.outcome, verdict.code)
            if verdict.outcome == OK:
                self._record_ok(account, encrypted, open_alerts, result)
                self._check_sync(account, result)
            elif verdict.outcome == BROKEN:
                self._record_broken(account, encrypted, verdict, open_alerts, result)
            elif verdict.outcome == TRANSIENT:
                self._record_transient(account, encrypted, verdict)
            else:
                self._config_problem(verdict)
            emit_metric("TokenHealthChecks", 1, "Count", Result=verdict.outcome)
            logs.log_event(log, "token checked", result=verdict.outcome, code=verdict.code)
            return result

    def _update(self, account, encrypted: str, actions: list) -> bool:
        """Write, unless a re-install replaced the token since we read it (then skip quietly)."""
        from pynamodb.exceptions import UpdateError

        from hubspot_app.models import Account, condition_failed

        try:
            account.update(actions=actions, condition=Account.refresh_token_encrypted == encrypted)
            return True
        except UpdateError as exc:
            if condition_failed(exc):
                logs.log_event(log, "account changed during the check; result not recorded")
                return False
            raise

    def _record_ok(self, account, encrypted, open_alerts: set, result: CheckResult) -> None:
        from hubspot_app.models import Account, AccountStatus

        now = self.now()
        actions = [Account.token_health.set(OK), Account.token_checked_at.set(now),
                   Account.token_ok_at.set(now), Account.token_failures.set(0),
                   Account.token_error.remove(), Account.updated_at.set(now)]
        recovered = TOKEN_ALERT in open_alerts or account.status == AccountStatus.NEEDS_REAUTH
        if recovered:
            if account.paused_by_health and account.airbyte_connection_id and self.airbyte:
                try:
                    self.airbyte.resume_connection(account.airbyte_connection_id)
                except AirbyteGone:
                    pass
                actions.append(Account.paused_by_health.remove())
            if account.status == AccountStatus.NEEDS_REAUTH:
                back = AccountStatus.ACTIVE if account.airbyte_connection_id else AccountStatus.INSTALLED
                actions.append(Account.status.set(back))
                account_status = back
            else:
                account_status = account.status
            open_alerts.discard(TOKEN_ALERT)
            actions.append(Account.open_alerts.set(sorted(open_alerts)))
            actions.append(Account.token_broken_at.remove())
        if not self._update(account, encrypted, actions):
            return
        if recovered:
            self._alert("token_recovered", account.hub_id, "info",
                        "The account's HubSpot token works again",
                        "Nothing to do: its Airbyte connection was resumed if this check had paused it.",
                        status=account_status)
            emit_metric("TokenRecovered", 1, "Count")
            result.events.append("token_recovered")

    def _record_transient(self, account, encrypted, verdict: Verdict) -> None:
        from hubspot_app.models import Account

        now = self.now()
        self._update(account, encrypted, [
            Account.token_checked_at.set(now), Account.token_failures.add(1),
            Account.token_error.set(f"transient:{verdict.code}"[:64]), Account.updated_at.set(now)])

    def _record_broken(self, account, encrypted, verdict: Verdict, open_alerts: set,
                       result: CheckResult) -> None:
        from hubspot_app.models import Account, AccountStatus

        now = self.now()
        first = TOKEN_ALERT not in open_alerts
        actions = [Account.status.set(AccountStatus.NEEDS_REAUTH), Account.token_health.set(BROKEN),
                   Account.token_checked_at.set(now), Account.token_failures.add(1),
                   Account.token_error.set(verdict.code[:64]), Account.updated_at.set(now)]
        paused = False
        if first:
            if account.airbyte_connection_id and self.airbyte and not account.paused_by_health:
                try:
                    self.airbyte.pause_connection(account.airbyte_connection_id)
                    paused = True
                except AirbyteGone:
                    pass
            if paused:
                actions.append(Account.paused_by_health.set(True))
            open_alerts.add(TOKEN_ALERT)
            actions += [Account.open_alerts.set(sorted(open_alerts)), Account.token_broken_at.set(now)]
        if not self._update(account, encrypted, actions):
            if paused and self.airbyte:  # a re-install won the race: undo our pause
                self.airbyte.resume_connection(account.airbyte_connection_id)
            return
        if first:
            where = f" at {self.health.reinstall_url}" if self.health.reinstall_url else ""
            self._alert(
                "token_broken", account.hub_id, "error",
                f"HubSpot refused the account's refresh token ({verdict.code}; confirmed twice)",
                f"Ask the account's admin to re-install the app{where}; a re-install recovers it "
                f"automatically. If they uninstalled the app, offboard it: "
                f"python -m hubspot_app.ops health uninstall {account.hub_id}",
                reason=verdict.code, detail=verdict.detail,
                connection="paused" if paused else ("none" if not account.airbyte_connection_id else "unchanged"))
            emit_metric("TokenBroken", 1, "Count", Reason=verdict.code)
            result.events.append("token_broken")
        broken_since = account.token_broken_at or now
        days = getattr(self.health, "uninstall_after_days", 0) or 0
        if days and self._uninstall and (now - broken_since) >= timedelta(days=days):
            reason = f"token refused for {days} days ({verdict.code})"
            try:
                self._uninstall(account.hub_id, source="health_check", reason=reason)
                result.events.append("uninstalled")
            except Exception as exc:
                # The account is marked uninstalled by now, so no later check comes back to it:
                # the lifecycle queue retries the uninstall instead (e.g. while a provisioning
                # run holds the account's lease).
                logs.log_event(log, "uninstall queued to finish later", logging.WARNING,
                               error=type(exc).__name__)
                delay = getattr(exc, "delay", None) or 0
                if self._send is None:
                    raise RuntimeError("no lifecycle queue to finish the uninstall") from exc
                self._send([(uninstall_message(account.hub_id, "health_check", reason), delay)])
                result.events.append("uninstall_queued")

    def _config_problem(self, verdict: Verdict) -> None:
        if self.config_alerted:
            return
        self.config_alerted = True
        self._alert("app_credentials_rejected", None, "critical",
                    f"HubSpot refused the app's client credentials ({verdict.code})",
                    "Check the app secret in Secrets Manager (APP_SECRET_NAME) against the HubSpot "
                    "developer account; no account was marked.", reason=verdict.code)

    # -- sync freshness ------------------------------------------------------------------
    def _check_sync(self, account, result: CheckResult) -> None:
        from hubspot_app.models import Account, AccountStatus

        if (not self.airbyte or not account.airbyte_connection_id or account.paused_by_health
                or account.status != AccountStatus.ACTIVE):
            return
        try:
            last = self.airbyte.last_successful_sync(account.airbyte_connection_id)
        except AirbyteGone:
            return
        except Exception as exc:  # noqa: BLE001 - freshness is advisory; the token result stands
            logs.log_event(log, "last sync not read", logging.WARNING, error=type(exc).__name__)
            return
        now = self.now()
        reference = last or getattr(account, "provisioned_at", None) or account.installed_at
        age_hours = (now - reference).total_seconds() / 3600 if reference else 0.0
        stale = age_hours > self.health.sync_freshness_hours
        open_alerts = set(account.open_alerts or [])
        actions = []
        if last is not None and last != account.last_sync_at:
            actions.append(Account.last_sync_at.set(last))
        if last is not None:
            emit_metric("SyncAgeHours", round(age_hours, 2), "None", hub_id=account.hub_id)
        event = None
        if stale and SYNC_ALERT not in open_alerts:
            open_alerts.add(SYNC_ALERT)
            event = "sync_stale"
        elif not stale and SYNC_ALERT in open_alerts:
            open_alerts.discard(SYNC_ALERT)
            event = "sync_recovered"
        if event:
            actions.append(Account.open_alerts.set(sorted(open_alerts)))
        if actions:
            account.update(actions=actions)
        if event == "sync_stale":
            since = last.isoformat(timespec="minutes") if last else "never"
            self._alert("sync_stale", account.hub_id, "warning",
                        f"No successful Airbyte sync for {age_hours:.0f} h (last: {since}; "
                        f"target {self.health.sync_freshness_hours:g} h)",
                        "Open the connection's job history in Airbyte and fix the failing sync "
                        "before Airbyte disables the connection (after 30 failures / 7 days).",
                        connection_id=account.airbyte_connection_id, last_sync=since)
            emit_metric("SyncStale", 1, "Count")
            result.events.append(event)
        elif event == "sync_recovered":
            self._alert("sync_recovered", account.hub_id, "info",
                        "Airbyte syncs succeed again", "Nothing to do.",
                        connection_id=account.airbyte_connection_id)
            result.events.append(event)


# -- messages ---------------------------------------------------------------------------------
def check_message(hub_ids: Iterable[int], attempt: int = 0, force: bool = False) -> dict:
    return {"type": "check", "hub_ids": [int(h) for h in hub_ids], "attempt": attempt,
            "force": force}


def uninstall_message(hub_id: int, source: str, reason: str = "",
                      occurred_at_ms: int | None = None, attempt: int = 0) -> dict:
    return {"type": "uninstall", "hub_id": int(hub_id), "source": source, "reason": reason[:200],
            "occurred_at_ms": occurred_at_ms, "attempt": attempt}


def send_messages(svc: Services, queue_name: str, bodies: list[tuple[dict, int]]) -> int:
    """Send (body, delay seconds) pairs, ten per call. Returns the number sent; raises if any failed."""
    url = svc.queue_url(queue_name)
    sent = 0
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        answer = svc.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps(body),
             "DelaySeconds": max(0, min(MAX_SQS_DELAY, int(delay)))}
            for i, (body, delay) in enumerate(chunk)])
        if answer.get("Failed"):
            raise RuntimeError(f"{len(answer['Failed'])} lifecycle messages not sent")
        sent += len(chunk)
    return sent


def fan_out(svc: Services, force: bool = False) -> dict:
    """The scheduled run: every account that is not uninstalled, in messages of N hub_ids."""
    from hubspot_app.models import Account, AccountStatus

    health = svc.settings.lifecycle
    started = time.monotonic()
    hub_ids: list[int] = []
    skipped = 0
    for item in Account.scan(attributes_to_get=["hub_id", "status"]):
        if item.status == AccountStatus.UNINSTALLED:
            skipped += 1
            continue
        hub_ids.append(int(item.hub_id))
    size = max(1, health.accounts_per_message)
    bodies = [(check_message(hub_ids[i:i + size], force=force), 0)
              for i in range(0, len(hub_ids), size)]
    sent = send_messages(svc, health.queue_name, bodies)
    summary = {"accounts": len(hub_ids), "messages": sent, "uninstalled_skipped": skipped,
               "seconds": round(time.monotonic() - started, 3)}
    emit_metric("TokenHealthFanOutAccounts", len(hub_ids), "Count")
    logs.log_event(log, "token health fan-out", **summary)
    return summary


@dataclass
class BatchReport:
    checked: dict = field(default_factory=dict)     # outcome -> count
    requeued: int = 0                               # remainders sent on (out of time)
    uninstalled: int = 0
    events: list = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.checked[outcome] = self.checked.get(outcome, 0) + 1


MAX_BODY_BYTES = 64 * 1024  # a check message of 25 hub_ids is ~400 bytes


def queue_spec(health, dlq_url: str):
    """The lifecycle queue on the shared consumer (hubspot_app.messaging)."""
    from hubspot_app.messaging.consumer import QueueSpec
    from hubspot_app.messaging.retry import queue_policy

    return QueueSpec("lifecycle", dlq_url, queue_policy("lifecycle"), MAX_BODY_BYTES)


def parse_message(record) -> dict:
    """A check (hub_ids) or an uninstall (hub_id); anything else is a malformed message."""
    from hubspot_app.errors import malformed
    from hubspot_app.hub_ids import hub_id_or_none

    message = record.json()
    if not isinstance(message, dict):
        raise malformed("a lifecycle message is a JSON object")
    kind = message.get("type")
    if kind == "uninstall":
        hub_id = hub_id_or_none(message.get("hub_id"))
        if hub_id is None:
            raise malformed("an uninstall message needs a valid hub_id")
        record.hub_ids = [hub_id]
        from hubspot_app.lifecycle.uninstall import SOURCES

        if "source" in message and message["source"] not in SOURCES:
            raise malformed(f"source {str(message['source'])[:40]!r} is not one of {SOURCES}")
    elif kind == "check":
        listed = message.get("hub_ids")
        hub_ids = [hub_id_or_none(h) for h in listed] if isinstance(listed, list) else []
        if not hub_ids or None in hub_ids:
            raise malformed("a check message needs a list of valid hub_ids")
        record.hub_ids = [h for h in hub_ids if h is not None]
    else:
        raise malformed(f"type {str(kind)[:40]!r} is not check or uninstall")
    return message


class _Budget:
    """The Lambda's time: stop starting accounts when less than the reserve is left. A context
    that reports no time at all (local tools) means "no limit"; and every invocation checks at
    least one account, so a remainder sent on always shrinks."""

    def __init__(self, remaining_ms: Callable[[], int] | None):
        self.remaining_ms, self.reserve = remaining_ms, float(TIME_RESERVE_MS)
        if remaining_ms is not None:
            initial = remaining_ms()
            if initial <= 0:
                self.remaining_ms = None
            else:  # a short timeout keeps a quarter of itself in reserve, not 20 s
                self.reserve = min(TIME_RESERVE_MS, initial / 4)
        self.done_any = self.out = False

    def short(self) -> bool:
        if not self.out and self.done_any and self.remaining_ms and self.remaining_ms() < self.reserve:
            self.out = True
        return self.out


def process_batch(event: dict, checker: TokenHealthChecker, health, *, consumer,
                  uninstaller: Callable[[dict], object] | None = None,
                  remaining_ms: Callable[[], int] | None = None,
                  send: Callable[[list[tuple[dict, int]]], int]) -> tuple[dict, BatchReport]:
    """The SQS worker's work for one batch: (partial batch response, report). Retries are the
    consumer's (ChangeMessageVisibility with the lifecycle retry policy), not copies; `send`
    puts (body, delay) pairs on the lifecycle queue (a remainder out of time)."""
    from hubspot_app.errors import UNKNOWN_ACCOUNT, Permanent, Transient, unknown_account

    report, budget = BatchReport(), _Budget(remaining_ms)
    consumer.has_time = lambda: not budget.out

    def handle(record) -> None:
        message = parse_message(record)
        if message["type"] == "uninstall":
            if uninstaller is None:
                raise RuntimeError("no uninstaller configured")
            result = uninstaller(message)
            budget.done_any = True
            if "no_account" in (getattr(result, "steps", None) or []):
                raise unknown_account(record.hub_ids[0])
            report.uninstalled += 1
            return
        transient, gone = _check_accounts(record, message, checker, budget, report, send)
        if gone and len(gone) == len(record.hub_ids):
            # Names no account at all: poison (a check of some unknown accounts among known
            # ones is fine: the fan-out read them from the table, tombstones stay).
            raise Permanent(f"no account with hub_id {', '.join(map(str, gone[:20]))}",
                            kind=UNKNOWN_ACCOUNT)
        if transient:
            record.hub_ids = transient
            # TOKEN_HEALTH_MAX_TRANSIENT_RETRIES bounds the retries of a check (a check is cheap
            # to drop: the schedule repeats it); the queue's policy bounds everything else.
            if consumer.queue.policy.last(record.receive_count) or \
                    record.receive_count > getattr(health, "max_transient_retries", 3):
                # Transient only (HubSpot did not answer): recorded on the accounts, never a
                # dead letter; the next scheduled run checks them again.
                logs.log_event(log, "accounts left for the next scheduled check", logging.WARNING,
                               hub_ids=transient[:50], receive_count=record.receive_count)
                return
            raise Transient(f"{len(transient)} account(s) not checked: HubSpot did not answer")

    return consumer.run(event, handle), report


def _check_accounts(record, message: dict, checker, budget: _Budget, report: BatchReport,
                    send) -> tuple[list[int], list[int]]:
    """Checks the record's accounts; returns the ones that failed transiently, and the ones
    that do not exist."""
    from hubspot_app.errors import Transient

    force = bool(message.get("force"))
    transient: list[int] = []
    gone: list[int] = []
    pending = record.hub_ids
    for index, hub_id in enumerate(pending):
        if budget.short():
            rest = transient + pending[index:]
            try:  # the rest goes on as a new message; this record is done
                report.requeued += send([(check_message(rest, force=force), 0)])
            except Exception as exc:
                raise Transient(f"remainder not queued: {type(exc).__name__}") from exc
            return [], []
        try:
            result = checker.check(hub_id, force=force)
        except Exception as exc:  # noqa: BLE001 - one account must not stop the others
            logs.log_event(log, "token check crashed", logging.ERROR, hub_id=hub_id,
                           error=type(exc).__name__)
            result = CheckResult(hub_id, TRANSIENT, type(exc).__name__)
        budget.done_any = True
        report.count(result.outcome)
        report.events += [(hub_id, e) for e in result.events]
        if result.outcome == TRANSIENT:
            transient.append(hub_id)
        elif result.outcome == GONE:
            gone.append(hub_id)
    return transient, gone
