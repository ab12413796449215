"""The webhooks-journal reader on stubs (the scheduled poller on the local stack:
tests/integration/token_health/test_journal_poller.py)."""
from __future__ import annotations

import pytest

from hubspot_app.lifecycle import journal
from hubspot_app.lifecycle.journal import Uninstall, uninstalls
from hubspot_app.secrets_store import AppCredentials


def test_the_app_token_is_cached_per_container():
    calls = []

    class OAuth:
        credentials = AppCredentials("cid", "secret")

        def client_credentials_token(self, scopes):
            calls.append(scopes)
            return f"token-{len(calls)}", 1800

    now, tokens = [0.0], {}
    assert journal.app_token(OAuth(), tokens, clock=lambda: now[0]) == "token-1"
    now[0] = 1700.0
    assert journal.app_token(OAuth(), tokens, clock=lambda: now[0]) == "token-1"
    now[0] = 1750.0                    # within a minute of expiry: a new one
    assert journal.app_token(OAuth(), tokens, clock=lambda: now[0]) == "token-2"
    assert calls == [("developer.webhooks_journal.read",)] * 2


def test_only_our_apps_uninstalls_with_a_valid_portal_are_read():
    events = [{"subscriptionType": "APP_LIFECYCLE_EVENT", "action": "APP_UNINSTALL", "portalId": 7,
               "appId": 42, "occurredAt": 5, "eventId": "a"},
              {"subscriptionType": "APP_LIFECYCLE_EVENT", "action": "APP_UNINSTALL", "portalId": 8,
               "appId": 43, "occurredAt": 5},
              {"subscriptionType": "APP_LIFECYCLE_EVENT", "action": "APP_INSTALL", "portalId": 9,
               "appId": 42},
              {"subscriptionType": "APP_LIFECYCLE_EVENT", "action": "APP_UNINSTALL",
               "portalId": "../1", "appId": 42},
              {"subscriptionType": "app.uninstalled", "portalId": 10, "appId": 42}, "junk"]
    found, other = uninstalls(events, "42")
    assert found == [Uninstall(7, 5, "a")] and other == 5


@pytest.mark.parametrize("stage,app_id,ok", [("local", "", True), ("dev", "", False),
                                             ("prod", "12a", False), ("prod", "4242424", True),
                                             ("local", "0", False)])
def test_hubspot_app_id_is_required_on_deployed_stages(monkeypatch, stage, app_id, ok):
    from deploy.infra import stage_env
    from hubspot_app.config import get_settings, reset_settings

    required = stage_env(stage)["HUBSPOT_APP_ID_REQUIRED"]
    assert required == ("false" if stage == "local" else "true")
    for name, value in stage_env("local").items():  # one Settings needs them all
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUBSPOT_APP_ID_REQUIRED", required)
    monkeypatch.setenv("HUBSPOT_APP_ID", app_id)
    for name in ("LIFECYCLE_QUEUE_NAME", "UNINSTALL_AUDIT_TABLE", "WEBHOOK_RECEIPTS_TABLE"):
        monkeypatch.setenv(name, "x")
    reset_settings()
    try:
        if ok:
            assert get_settings().lifecycle.hubspot_app_id == app_id
        else:
            with pytest.raises(RuntimeError, match="HUBSPOT_APP_ID"):
                _ = get_settings().lifecycle.hubspot_app_id
    finally:
        reset_settings()
