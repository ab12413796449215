"""App uninstalls from HubSpot's webhooks journal: a scheduled poller with a durable position.

HubSpot sends no uninstall webhook. It writes app lifecycle events (subscription type
`APP_LIFECYCLE_EVENT`, action `APP_UNINSTALL`) to the app's webhooks journal, read with the
app's own client-credentials token. Sources (HubSpot/HubSpot-public-api-spec-collection @
99893791383254f52aa07662baeb98aad65cc710):
- PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json: POST /oauth/2026-03/token,
  `grant_type=client_credentials` + client id/secret + `scope`, answered by a
  ClientCredentialsTokenResponse (`token_use: client_credentials`, `expires_in`);
- PublicApiSpecs/Webhooks Journal/Webhooks Journal/Rollouts/284944/2026-03/webhooksJournal.json:
  GET /webhooks-journal/journal/2026-03/batch/earliest/{count} and
  .../batch/{offset}/next/{count} answer a BatchResponseJournalFetchResponse: entries in journal
  order, each a JournalFetchResponse (`currentOffset` uuid, `url` of the entry's data file,
  `expiresAt`); scope developer.webhooks_journal.read (the journal guide, developers.hubspot.com
  /docs/api-reference/latest/webhooks-journal/journal-entries/guide: kept for 3 days).
The entry file's content is not declared there; we read it as JSON events carrying
`subscriptionType`, `action`, `portalId`, `appId`, `occurredAt` (see /work/shared/design.md).

Position model: the last entry whose events were handed over is kept in DynamoDB
(JournalPosition, one item per journal). A run first takes a lease on the item by conditional
update (two concurrent runs: one proceeds, the other stops), reads the entries after the
position, hands each uninstall for a known account to the offboarding path (an `uninstall`
message on the lifecycle queue, as before), and moves the position by a conditional update
(`offset` still what this run read, lease still its own). A crash between handing over and
saving re-reads those entries on the next run: the offboarding is idempotent (an uninstalled
account with its audit record is "already done"; an event older than the latest install is
ignored), so each account is offboarded once.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from hubspot_app import logs
from hubspot_app.models import condition_failed, lease_is_free

log = logging.getLogger(__name__)

JOURNAL_PATH = "/webhooks-journal/journal/2026-03"
JOURNAL_SCOPES = ("developer.webhooks_journal.read",)
LIFECYCLE = "APP_LIFECYCLE_EVENT"
UNINSTALL_ACTION = "APP_UNINSTALL"
POSITION_NAME = "app-lifecycle"
MAX_FILE_BYTES = 5_000_000
_TOKEN_MARGIN_S = 60


class JournalError(Exception):
    """The journal answered something we cannot act on; the run stops, the position stays."""


class JournalPosition(Model):
    """One item per journal: where the last completed run stopped, and who holds the lease."""

    class Meta:
        table_name = "journal-position"  # replaced by bind_journal_table()

    name = UnicodeAttribute(hash_key=True)
    offset = UnicodeAttribute(null=True)          # currentOffset of the last entry handed over
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    entries_read = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)


def bind_journal_table(name: str, reconnect: bool = False) -> None:
    if name and (reconnect or JournalPosition.Meta.table_name != name):
        JournalPosition.Meta.table_name = name
        JournalPosition._connection = None


AppTokens = dict[str, tuple[str, float]]  # client id -> (token, when it expires)


def app_token(oauth, tokens: AppTokens, clock: Callable[[], float] = time.monotonic) -> str:
    """The app's client-credentials token, fetched once per container until near its expiry
    (`tokens`: the container's, Services.app_tokens). Registered as a secret, so no log line
    can carry it."""
    client_id = oauth.credentials.client_id
    cached = tokens.get(client_id)
    if cached and cached[1] - _TOKEN_MARGIN_S > clock():
        return cached[0]
    token, expires_in = oauth.client_credentials_token(JOURNAL_SCOPES)
    logs.register_secret(token)
    tokens[client_id] = (token, clock() + expires_in)
    return token


@dataclass(frozen=True)
class Uninstall:
    hub_id: int
    occurred_at_ms: int | None
    event_id: str


@dataclass
class PollReport:
    entries: int = 0
    uninstalls: int = 0
    handed_over: int = 0
    unknown_accounts: int = 0
    other_events: int = 0
    skipped: str = ""
    offset: str | None = None
    hubs: list[int] = field(default_factory=list)


class JournalClient:
    """The journal's batch reads (HubSpotOAuthClient's transport, the app's token)."""

    def __init__(self, oauth, tokens: AppTokens):
        self.oauth, self.tokens = oauth, tokens

    def _get(self, path: str) -> dict:
        from hubspot_app.hubspot_oauth import HubSpotOAuthError

        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {app_token(self.oauth, self.tokens)}"}
            try:
                return self.oauth._call("GET", path, headers=headers)
            except HubSpotOAuthError as exc:
                if exc.http_status != 401 or attempt == 2:
                    raise
                # The cached token was revoked or the app secret rotated: one fresh token.
                self.tokens.pop(self.oauth.credentials.client_id, None)
        raise AssertionError("unreachable")

    def entries(self, after: str | None, count: int) -> list[dict]:
        path = f"{JOURNAL_PATH}/batch/earliest/{count}" if after is None else \
            f"{JOURNAL_PATH}/batch/{after}/next/{count}"
        body = self._get(path)
        results = body.get("results")
        if not isinstance(results, list) or not all(
                isinstance(r, dict) and isinstance(r.get("currentOffset"), str) and r["currentOffset"]
                and isinstance(r.get("url"), str) for r in results):
            raise JournalError("the journal's answer is not a BatchResponseJournalFetchResponse")
        return results

    def events(self, entry: dict) -> list:
        """The entry's file. Its URL is pre-signed: no Authorization header goes with it (the
        app token must not leave for another host)."""
        import requests

        try:
            answer = self.oauth.http.get(entry["url"], timeout=self.oauth.timeout)
        except requests.RequestException:
            raise JournalError("journal file unreachable") from None
        if answer.status_code != 200 or len(answer.content) > MAX_FILE_BYTES:
            raise JournalError(f"journal file answered {answer.status_code}")
        try:
            body = json.loads(answer.content)
        except (ValueError, RecursionError):
            raise JournalError("journal file is not JSON") from None
        return body if isinstance(body, list) else [body]


def uninstalls(events: list, app_id: str) -> tuple[list[Uninstall], int]:
    """(uninstall events of our app, count of other events) from one journal entry's file."""
    from hubspot_app.hub_ids import hub_id_or_none

    found, other = [], 0
    for event in events:
        if not isinstance(event, dict) or event.get("subscriptionType") != LIFECYCLE or \
                event.get("action") != UNINSTALL_ACTION or \
                (app_id and str(event.get("appId", "")) != str(app_id)):
            other += 1
            continue
        hub_id = hub_id_or_none(event.get("portalId"))
        if hub_id is None:
            other += 1
            logs.log_event(log, "journal event with an invalid portalId ignored", logging.WARNING)
            continue
        occurred = event.get("occurredAt")
        occurred_ms = occurred if isinstance(occurred, int) and not isinstance(occurred, bool) else None
        found.append(Uninstall(hub_id, occurred_ms, str(event.get("eventId", ""))[:64]))
    return found, other


class PositionStore:
    """The durable position, guarded by a lease taken and kept with conditional updates."""

    def __init__(self, name: str = POSITION_NAME, lease_seconds: int = 300,
                 now: Callable[[], datetime] | None = None):
        self.name, self.lease_seconds = name, lease_seconds
        self.owner = uuid.uuid4().hex
        self.now = now or (lambda: datetime.now(UTC))

    def acquire(self) -> str | None | bool:
        """The stored offset (None: start at the earliest entry), or False when another run
        holds the lease."""
        from pynamodb.exceptions import UpdateError

        now = self.now()
        item = JournalPosition(self.name)
        try:
            item.update(actions=[JournalPosition.lease_owner.set(self.owner),
                                 JournalPosition.lease_until.set(now + timedelta(seconds=self.lease_seconds))],
                        condition=lease_is_free(JournalPosition.lease_owner, JournalPosition.lease_until,
                                                self.owner, now))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return item.offset

    def advance(self, read_from: str | None, to: str, entries: int) -> bool:
        """Move the position from `read_from` to `to`; False when the lease was lost."""
        from pynamodb.exceptions import UpdateError

        now = self.now()
        expected = JournalPosition.offset.does_not_exist() if read_from is None else \
            JournalPosition.offset == read_from
        try:
            JournalPosition(self.name).update(
                actions=[JournalPosition.offset.set(to), JournalPosition.updated_at.set(now),
                         JournalPosition.entries_read.add(entries),
                         JournalPosition.lease_until.set(now + timedelta(seconds=self.lease_seconds))],
                condition=expected & (JournalPosition.lease_owner == self.owner))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def release(self) -> None:
        from pynamodb.exceptions import UpdateError

        try:
            JournalPosition(self.name).update(actions=[JournalPosition.lease_until.remove(),
                                                       JournalPosition.lease_owner.remove()],
                                              condition=JournalPosition.lease_owner == self.owner)
        except UpdateError:
            pass  # another run took over after our lease ran out: nothing of ours to release


def poll(client: JournalClient, store: PositionStore, hand_over: Callable[[Uninstall], None],
         known: Callable[[int], bool], app_id: str, batch_size: int = 50,
         max_entries: int = 1000, after_hand_over: Callable[[str], None] | None = None) -> PollReport:
    """One run: read after the stored position, hand over uninstalls, save the position after
    each entry. `after_hand_over(offset)` runs between handing over and saving (tests inject a
    crash there)."""
    from hubspot_app.hubspot_oauth import HubSpotOAuthError
    from hubspot_app.metrics import emit_metric

    report = PollReport()
    offset = store.acquire()
    if offset is False:
        report.skipped = "another_poller_holds_the_lease"
        logs.log_event(log, "journal poll skipped: another run holds the lease")
        return report
    position: str | None = offset if isinstance(offset, str) else None
    cursor = position      # where to read after; `position` is what the table holds
    try:
        while report.entries < max_entries:
            try:
                entries = client.entries(cursor, min(batch_size, max_entries - report.entries))
            except HubSpotOAuthError as exc:
                if exc.http_status != 404 or cursor is None:
                    raise
                # The saved offset left the journal (kept 3 days): read it all again from the
                # earliest entry; handing an uninstall over twice is harmless (see above).
                logs.log_event(log, "saved journal offset no longer in the journal; reading "
                               "from the earliest entry", logging.WARNING)
                emit_metric("JournalOffsetExpired", 1, "Count")
                cursor = None
                continue
            if not entries:
                break
            for entry in entries:
                found, other = uninstalls(client.events(entry), app_id)
                report.other_events += other
                for item in found:
                    report.uninstalls += 1
                    if not known(item.hub_id):
                        report.unknown_accounts += 1
                        continue
                    with logs.hub_context(item.hub_id):
                        hand_over(item)
                        logs.log_event(log, "uninstall read from HubSpot's journal",
                                       event_id=item.event_id)
                    report.handed_over += 1
                    report.hubs.append(item.hub_id)
                if after_hand_over is not None:
                    after_hand_over(entry["currentOffset"])
                if not store.advance(position, entry["currentOffset"], 1):
                    report.skipped = "lease_lost"
                    logs.log_event(log, "journal poll stopped: the position moved under us",
                                   logging.WARNING)
                    return report
                position = cursor = entry["currentOffset"]
                report.entries += 1
    finally:
        if report.skipped != "lease_lost":
            store.release()
    report.offset = position
    return report
