"""The webhooks-journal poller (issue 10 §2): a crash between handing an uninstall over and saving
the position, then a restart, offboards each account exactly once; two concurrent runs do not
both read; the app's token is fetched once per container and never logged; the sandbox journal
refuses what HubSpot's refuses."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hubspot_app.hubspot_oauth import HubSpotOAuthClient
from hubspot_app.lifecycle import journal
from hubspot_app.lifecycle.journal import JournalClient, JournalPosition, PositionStore, Uninstall, poll
from hubspot_app.models import AccountStatus, UninstallAudit
from hubspot_app.runtime import services
from hubspot_app.secrets_store import AppCredentials
from local_stack.stack import LOCAL_CLIENT_ID


class Crash(Exception):
    pass


def _oauth(hs) -> HubSpotOAuthClient:
    return HubSpotOAuthClient(hs.stack.hubspot_url, AppCredentials(LOCAL_CLIENT_ID, hs.stack.client_secret),
                              "2026-03", False, 5)


def _queue_uninstall(hs):
    from hubspot_app.lifecycle.token_health import send_messages, uninstall_message

    def hand_over(item: Uninstall) -> None:
        send_messages(services(), hs.env["LIFECYCLE_QUEUE_NAME"], [(uninstall_message(
            item.hub_id, "journal", item.event_id, item.occurred_at_ms), 0)])
    return hand_over


def test_a_crash_between_hand_over_and_save_offboards_each_account_once(hs, monkeypatch):
    first, second = hs.hub_ids()[0], hs.hub_ids()[1]
    hs.uninstall_in_hubspot(first)
    hs.uninstall_in_hubspot(second)
    client, handed = JournalClient(_oauth(hs), {}), []

    def hand_over(item):
        handed.append(item.hub_id)
        _queue_uninstall(hs)(item)

    def crash(offset):
        raise Crash(offset)

    # The process dies after handing the first entry over: no position saved, no lease released.
    monkeypatch.setattr(PositionStore, "release", lambda self: None)
    with pytest.raises(Crash):
        poll(client, PositionStore(), hand_over, lambda h: True, "", after_hand_over=crash)
    monkeypatch.undo()
    assert handed == [first] and JournalPosition.get(journal.POSITION_NAME).offset is None
    # A restart inside the dead run's lease waits; after it, it re-reads from the saved position.
    assert poll(client, PositionStore(), hand_over, lambda h: True, "").skipped == \
        "another_poller_holds_the_lease"
    later = PositionStore(now=lambda: datetime.now(UTC) + timedelta(minutes=10))
    report = poll(client, later, hand_over, lambda h: True, "")
    assert (report.entries, report.skipped) == (2, "")
    assert handed == [first, first, second]            # the first one was handed over twice
    hs.health_route.run_until_idle(timeout=60)
    for hub_id in (first, second):
        assert hs.account(hub_id).status == AccountStatus.UNINSTALLED
        audits = list(UninstallAudit.query(hub_id))
        assert [a.source for a in audits] == ["journal"], hub_id     # offboarded exactly once
    offboarded = [a["hub_id"] for a in hs.alerts() if a["event"] == "uninstalled"]
    assert sorted(offboarded) == sorted([first, second])
    # Nothing after the saved position: the scheduled function finds no entries.
    later_run = PositionStore(now=lambda: datetime.now(UTC) + timedelta(minutes=20))
    assert poll(client, later_run, hand_over, lambda h: True, "").entries == 0


def test_two_concurrent_pollers_do_not_both_read(hs):
    one, two = PositionStore(), PositionStore()
    assert one.acquire() is not False
    assert two.acquire() is False
    position = JournalPosition.get(journal.POSITION_NAME).offset
    # The position moved under a run (its lease taken over): its save is refused.
    assert not two.advance(position, "00000000-0000-0000-0000-000000000000", 1)
    assert not one.advance("some-other-offset", "00000000-0000-0000-0000-000000000000", 1)
    one.release()
    assert JournalPosition.get(journal.POSITION_NAME).offset == position
    assert two.acquire() == position
    two.release()


def test_the_scheduled_poller_hands_over_known_accounts_only(hs, captured_logs):
    hub_id = hs.hub_ids()[2]
    hs.uninstall_in_hubspot(hub_id)
    services().app_tokens.clear()
    summary = hs.poll_journal()
    assert (summary["entries"], summary["handed_over"], summary["unknown_accounts"]) == (1, 1, 0)
    assert hs.account(hub_id).status == AccountStatus.UNINSTALLED
    # The app token: fetched once for the run, and in no log line.
    tokens = list(hs.stack.sandbox.state.app_tokens)
    assert tokens and not any(t in "\n".join(captured_logs.lines) for t in tokens)
    hs.alerts()


def test_the_sandbox_journal_refuses_what_hubspot_refuses(hs):
    url = hs.stack.hubspot_url
    # An account's OAuth token is not an app token.
    account_token = next(iter(hs.stack.sandbox.state.access_tokens))
    assert requests.get(f"{url}/webhooks-journal/journal/2026-03/batch/earliest/10", timeout=10,
                        headers={"Authorization": f"Bearer {account_token}"}).status_code == 401
    form = {"grant_type": "client_credentials", "client_id": LOCAL_CLIENT_ID,
            "client_secret": hs.stack.client_secret}
    assert requests.post(f"{url}/oauth/2026-03/token", data={**form, "scope": "oauth"},
                         timeout=10).status_code == 400
    assert requests.post(f"{url}/oauth/2026-03/token", timeout=10, data={
        **form, "client_secret": "wrong", "scope": "developer.webhooks_journal.read"}).status_code == 400
    token = requests.post(f"{url}/oauth/2026-03/token", timeout=10, data={
        **form, "scope": "developer.webhooks_journal.read"}).json()
    assert token["token_use"] == "client_credentials" and "refresh_token" not in token
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    batch = requests.get(f"{url}/webhooks-journal/journal/2026-03/batch/earliest/10", headers=auth,
                         timeout=10).json()
    assert batch["status"] == "COMPLETE" and batch["results"]
    entry = batch["results"][0]
    assert set(entry) == {"currentOffset", "expiresAt", "url"}
    # The file URL is pre-signed: an Authorization header with it is refused (as S3 does).
    assert requests.get(entry["url"], headers=auth, timeout=10).status_code == 400
    events = requests.get(entry["url"], timeout=10).json()
    assert events[0]["subscriptionType"] == "APP_LIFECYCLE_EVENT" and events[0]["action"] == "APP_UNINSTALL"
    assert requests.get(f"{url}/webhooks-journal/journal/2026-03/batch/nope/next/10", headers=auth,
                        timeout=10).status_code == 404
    # The read scope does not manage subscriptions.
    assert requests.get(f"{url}/webhooks-journal/subscriptions/2026-03", headers=auth,
                        timeout=10).status_code == 403
    assert json.loads(json.dumps(batch))["results"][-1]["currentOffset"]


def test_the_app_token_cannot_uninstall_an_account(hs):
    """DELETE /appinstalls/2026-03/external-install takes the account's OAuth token (scope
    `oauth`, appUninstalls.json 2026-03), not the app's client-credentials token."""
    url = hs.stack.hubspot_url
    token = requests.post(f"{url}/oauth/2026-03/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": LOCAL_CLIENT_ID,
        "client_secret": hs.stack.client_secret, "scope": "developer.webhooks_journal.read"}).json()
    answer = requests.delete(f"{url}/appinstalls/2026-03/external-install", timeout=10,
                             headers={"Authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 401


def test_a_revoked_cached_app_token_is_replaced_once(hs):
    services().app_tokens[LOCAL_CLIENT_ID] = ("revoked-or-another-sandboxes-token", 1e12)
    summary = hs.poll_journal()
    assert summary["skipped"] == "" and services().app_tokens[LOCAL_CLIENT_ID][0] in \
        hs.stack.sandbox.state.app_tokens
