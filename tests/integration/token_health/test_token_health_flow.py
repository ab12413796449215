"""The scheduled token-health check end to end on the local stack: schedule -> SQS fan-out ->
worker, against the sandbox (through a fault proxy) and the Airbyte emulator."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import boto3
import pytest

from hubspot_app.lifecycle import token_health
from hubspot_app.lifecycle.token_health import check_message
from hubspot_app.models import AccountStatus, utcnow
from hubspot_app.ops.dlq import peek

BAD_REFRESH = {"status": "BAD_REFRESH_TOKEN", "error": "invalid_grant",
               "message": "missing or invalid refresh token"}


@pytest.fixture(autouse=True)
def _no_faults_left(hs):
    """A failed test's faults must not leak into the next test (they share the module's stack)."""
    yield
    hs.proxy.clear()


def send_check(hs, *hub_ids: int) -> None:
    """One worker message for just these accounts (what the fan-out sends)."""
    boto3.client("sqs").send_message(
        QueueUrl=hs.health_route.queue_url,
        MessageBody=json.dumps(check_message(hub_ids, force=True)))


def check_only(hs, *hub_ids: int):
    """`send_check`, then delivered until the queue is idle."""
    send_check(hs, *hub_ids)
    return hs.health_route.run_until_idle(timeout=60)


def deliver_until(hs, done, timeout: float = 60):
    """Deliver the lifecycle queue until `done()` holds (or `timeout`): a retry returns after its
    visibility delay, and the drain's "idle" reading of moto's approximate counts must not be
    what decides whether the test saw it. The Delivery, for the assertion's message."""
    deadline = time.monotonic() + timeout
    report = hs.health_route.run_until_idle(timeout=timeout)
    while not done() and time.monotonic() < deadline:
        report.add(hs.health_route.poll_once())
        time.sleep(0.1)
    return report


def secrets_of(hs) -> list[str]:
    st = hs.stack.sandbox.state
    return [hs.stack.client_secret, *st.refresh_tokens, *st.access_tokens]


def test_healthy_accounts_are_recorded_ok(hs):
    before = utcnow()
    report = hs.run_health()
    assert report.failed == 0 and report.received >= 1
    for hub_id in hs.hub_ids():
        account = hs.account(hub_id)
        assert account.token_health == "ok" and account.status == AccountStatus.ACTIVE
        assert account.token_ok_at >= before and account.token_checked_at >= before
    assert hs.alerts() == []
    results = [m["Result"] for m in hs.metric_values("TokenHealthChecks")]
    assert results.count("ok") >= len(hs.hub_ids())
    fan_out = hs.metric_values("TokenHealthFanOutAccounts")[-1]
    assert fan_out["TokenHealthFanOutAccounts"] == len(hs.hub_ids())
    assert "_aws" in fan_out and fan_out["_aws"]["CloudWatchMetrics"][0]["Namespace"]


@pytest.mark.parametrize("fault", [
    {"status": 503, "count": None},
    {"status": 500, "count": None},
    {"status": 429, "count": None, "body": {"status": "error", "errorType": "RATE_LIMIT"}},
    {"delay": 3.0, "count": None},   # slower than HTTP_TIMEOUT_SECONDS=2
])
def test_transient_failures_are_retried_not_alarming(hs, fault, monkeypatch):
    monkeypatch.setattr(token_health, "RATE_LIMIT_COOLDOWN_SECONDS", 0.2)
    hub_id = hs.hub_ids()[0]
    hs.proxy.add("/oauth/2026-03/token", **fault)
    seen_before = len(hs.proxy.seen)
    checks_before = len(hs.metric_values("TokenHealthChecks"))

    def token_calls() -> list[str]:
        return [p for p in hs.proxy.seen[seen_before:] if p == "/oauth/2026-03/token"]

    def checks() -> list[str]:  # the worker's TokenHealthChecks metric, one per check made
        return [m["Result"] for m in hs.metric_values("TokenHealthChecks")[checks_before:]]

    send_check(hs, hub_id)
    # Tried, then re-queued once (TOKEN_HEALTH_MAX_TRANSIENT_RETRIES=1) and tried again.
    delivered = deliver_until(hs, lambda: len(checks()) >= 2 and len(token_calls()) >= 2)
    why = (delivered, hs.health_route.pending(), peek(hs.sqs, hs.queue("LIFECYCLE_DLQ_NAME")))
    assert checks() == ["transient", "transient"], why
    assert len(token_calls()) == 2, why
    assert hs.health_route.run_until_idle(timeout=10).received == 0   # and not a third time
    account = hs.account(hub_id)
    assert account.status == AccountStatus.ACTIVE
    assert account.token_error.startswith("transient:")
    assert hs.connection(hub_id)["status"] == "active"
    assert hs.alerts() == []
    hs.proxy.clear()
    check_only(hs, hub_id)
    assert hs.account(hub_id).token_error is None and hs.account(hub_id).token_failures == 0


def test_one_refusal_is_confirmed_before_acting(hs):
    hub_id = hs.hub_ids()[0]
    hs.proxy.add("/oauth/2026-03/token", status=400, count=1, body=BAD_REFRESH)
    check_only(hs, hub_id)
    account = hs.account(hub_id)
    assert account.status == AccountStatus.ACTIVE and account.token_health == "ok"
    assert hs.connection(hub_id)["status"] == "active"
    assert hs.alerts() == []


def test_broken_then_healthy_again_pauses_then_resumes(hs):
    """Two refusals in a row: needs_reauth, connection paused, one alert; then the token works
    again (HubSpot recovered): connection resumed, status back, a "recovered" alert."""
    hub_id = hs.hub_ids()[0]
    hs.proxy.add("/oauth/2026-03/token", status=400, count=2, body=BAD_REFRESH)
    check_only(hs, hub_id)
    account = hs.account(hub_id)
    assert account.status == AccountStatus.NEEDS_REAUTH and account.token_error == "BAD_REFRESH_TOKEN"
    assert hs.connection(hub_id)["status"] == "inactive"
    alerts = hs.alerts()
    assert [a["event"] for a in alerts] == ["token_broken"]
    check_only(hs, hub_id)
    account = hs.account(hub_id)
    assert account.status == AccountStatus.ACTIVE and account.token_health == "ok"
    assert hs.connection(hub_id)["status"] == "active"
    assert [a["event"] for a in hs.alerts()] == ["token_recovered"]


def test_uninstalled_at_hubspot_marks_pauses_alerts_and_reinstall_recovers(hs):
    hub_id = hs.hub_ids()[1]
    hs.uninstall_at_hubspot(hub_id)
    hs.run_health()
    account = hs.account(hub_id)
    assert account.status == AccountStatus.NEEDS_REAUTH
    assert account.token_health == "broken" and account.token_error == "BAD_REFRESH_TOKEN"
    assert account.paused_by_health is True
    assert hs.connection(hub_id)["status"] == "inactive"
    alerts = hs.alerts()
    assert [(a["event"], a["hub_id"]) for a in alerts] == [("token_broken", hub_id)]
    alert = alerts[0]
    assert "re-install" in alert["action"] and f"ops health uninstall {hub_id}" in alert["action"]
    assert alert["details"]["connection"] == "paused"
    text = json.dumps(alerts)
    assert not any(s in text for s in secrets_of(hs))
    assert any(m.get("Reason") == "BAD_REFRESH_TOKEN" for m in hs.metric_values("TokenBroken"))
    # The provisioner refuses the account while it needs re-auth; the other accounts stay ok.
    for other in hs.hub_ids():
        if other != hub_id:
            assert hs.account(other).status == AccountStatus.ACTIVE

    hs.run_health()  # still broken: no second alert, nothing changes
    assert hs.alerts() == []
    assert hs.account(hub_id).status == AccountStatus.NEEDS_REAUTH

    hs.install(hub_id)  # the customer re-installs
    hs.provision()
    hs.run_health()
    account = hs.account(hub_id)
    assert account.status == AccountStatus.ACTIVE and account.token_health == "ok"
    assert not account.open_alerts and not account.paused_by_health
    assert hs.connection(hub_id)["status"] == "active"
    assert [a["event"] for a in hs.alerts()] == ["token_recovered"]


def test_missing_scope_is_broken(hs):
    from hubspot_app.handlers.lifecycle import lifecycle_parts

    hub_id = hs.hub_ids()[3]
    rt = lifecycle_parts()
    hubspot = replace(rt.settings.hubspot, scopes=rt.settings.hubspot.scopes + ("crm.objects.quotes.write",))
    settings = replace(rt.settings, hubspot=hubspot)
    sent = []
    checker = rt.checker(settings=settings, sleep=lambda s: None,
                         alert=lambda *a, **k: sent.append((a, k)))
    result = checker.check(hub_id, force=True)
    assert result.outcome == "broken" and result.code == "missing_scope"
    assert "crm.objects.quotes.write" in sent[0][1]["detail"]
    # put it back as it was
    assert rt.checker(alert=lambda *a, **k: None).check(hub_id, force=True).outcome == "ok"
    assert hs.account(hub_id).status == AccountStatus.ACTIVE


def test_sync_freshness_alerts_then_recovers(hs):
    from hubspot_app.handlers.lifecycle import lifecycle_parts

    hub_id = hs.hub_ids()[3]
    rt = lifecycle_parts()
    health = replace(rt.health, sync_freshness_hours=2)
    later = lambda: utcnow() + timedelta(hours=3)  # noqa: E731 - a clock for the checker
    checker = rt.checker(health=health, now=later)
    result = checker.check(hub_id, force=True)
    assert result.outcome == "ok" and result.events == ["sync_stale"]
    stale = [a for a in hs.alerts() if a["event"] == "sync_stale"]
    assert stale and stale[0]["hub_id"] == hub_id and "Airbyte" in stale[0]["action"]
    assert "sync" in hs.account(hub_id).open_alerts
    # A second pass does not alert again.
    assert checker.check(hub_id, force=True).events == []
    # A sync succeeds: fresh again.
    cid = hs.account(hub_id).airbyte_connection_id
    job = rt.services.airbyte().start_job(cid)
    deadline = time.monotonic() + 30
    while rt.services.airbyte().get_job(job["jobId"])["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    fresh = rt.checker(health=health)
    assert fresh.check(hub_id, force=True).events == ["sync_recovered"]
    account = hs.account(hub_id)
    assert account.last_sync_at is not None and not account.open_alerts
    assert [a["event"] for a in hs.alerts()] == ["sync_recovered"]
