"""The install flow behind API Gateway's stage path (issue 11 §3).

A first deploy without a custom domain serves the app at
`https://<id>.execute-api.<region>.amazonaws.com/api/...`: the routes are `/install` and
`/oauth/callback`, the browser sees `/api/install` and `/api/oauth/callback`. Here the app runs
behind a front that does what the stage does (local_stack/stage_front.py), with the redirect URI
`http://127.0.0.1:PORT/api/oauth/callback`; the cookie, the links and the default webhook and
reinstall URLs must all carry the prefix.
"""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from hubspot_app.config import get_settings, reset_settings
from hubspot_app.models import Account, bind_tables
from hubspot_app.webhooks import sign_v3
from local_stack.stack import LocalStack

from .flow_helpers import begin, callback_params, consent, finish


@pytest.fixture(scope="module")
def stack():
    with LocalStack(accounts=2, seed=14, path_prefix="/api") as running:
        settings = get_settings()
        bind_tables(settings.accounts_table, settings.states_table)
        reset_settings()
        yield running
        reset_settings()


def test_install_flow_under_the_api_stage_prefix(stack, sandbox_accounts):
    assert urlparse(stack.app_url).path == "/api"
    assert get_settings().hubspot.redirect_uri == f"{stack.app_url}/oauth/callback"
    target = sandbox_accounts[0]
    browser = requests.Session()
    start = browser.get(f"{stack.app_url}/install", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    # The cookie is scoped to the callback as the browser sees it, stage path included ...
    set_cookie = start.headers["Set-Cookie"]
    assert "; Path=/api/oauth/callback;" in set_cookie and "HttpOnly" in set_cookie
    query = parse_qs(urlparse(start.headers["Location"]).query)
    assert query["redirect_uri"] == [f"{stack.app_url}/oauth/callback"]
    # ... so the browser sends it back there and the callback completes.
    callback = consent(start.headers["Location"], browser, target["hub_id"])
    assert urlparse(callback).path == "/api/oauth/callback"
    page = finish(callback, browser)
    assert page.status_code == 200, page.text
    assert f'data-hub-id="{target["hub_id"]}"' in page.text
    assert Account.get(target["hub_id"]).status in ("installed", "provisioning", "active")
    # The spent cookie is cleared on the same path.
    assert "Max-Age=0; Path=/api/oauth/callback;" in page.headers["Set-Cookie"]


def test_the_front_behaves_like_the_stage(stack):
    """Outside the stage path nothing reaches the app: a link without the prefix is broken."""
    origin = stack.app_url[: -len("/api")]
    answer = requests.get(f"{origin}/install", allow_redirects=False, timeout=10)
    assert answer.status_code == 403 and answer.json() == {"message": "Missing Authentication Token"}


def test_refusal_pages_link_to_the_prefixed_install(stack):
    browser = requests.Session()
    params = callback_params(consent(begin(stack.app_url, browser), browser))
    refused = browser.get(f"{stack.app_url}/oauth/callback", params={"code": params["code"]},
                          allow_redirects=False, timeout=10)
    assert refused.status_code == 400
    assert 'href="/api/install"' in refused.text and 'href="/install"' not in refused.text
    # The link works: it starts a new install.
    again = browser.get(f"{stack.app_url}/install", allow_redirects=False, timeout=10)
    assert again.status_code == 302


def test_default_webhook_and_reinstall_urls_keep_the_prefix(stack):
    assert "HUBSPOT_WEBHOOK_URL" not in stack.env and not stack.env.get("REINSTALL_URL")
    health = get_settings().lifecycle
    assert health.webhook_url == f"{stack.app_url}/webhooks/hubspot"
    assert health.reinstall_url == f"{stack.app_url}/install"
    # HubSpot signs the URL it calls, the prefixed one; the app checks against its default.
    body = json.dumps([{"eventId": 7, "subscriptionType": "contact.creation", "portalId": 1}])
    ts = int(time.time() * 1000)
    url = f"{stack.app_url}/webhooks/hubspot"
    answer = requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(ts),
        "X-HubSpot-Signature-v3": sign_v3(stack.client_secret, "POST", url, body, ts)})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1}   # verified and acknowledged


@pytest.mark.parametrize("redirect, prefix", [
    ("https://abc123.execute-api.eu-west-1.amazonaws.com/api/oauth/callback", "/api"),
    ("https://hubspot.example.com/oauth/callback", ""),                  # a custom domain's root
    ("https://example.com/hubspot/oauth/callback", "/hubspot"),          # a base path mapping
])
def test_paths_follow_the_redirect_uri(monkeypatch, redirect, prefix):
    from hubspot_app import install
    from hubspot_app.config import reset_settings
    from hubspot_app.pages import error_page

    origin = "{0.scheme}://{0.netloc}".format(urlparse(redirect))
    monkeypatch.setenv("HUBSPOT_REDIRECT_URI", redirect)
    monkeypatch.delenv("HUBSPOT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("REINSTALL_URL", raising=False)
    monkeypatch.setenv("COOKIE_SECURE", "true")   # as on every deployed stage
    for name in ("APP_SECRET_NAME", "ACCOUNTS_TABLE", "STATES_TABLE", "KMS_KEY_ID",
                 "PROVISION_QUEUE_NAME", "LIFECYCLE_QUEUE_NAME", "UNINSTALL_AUDIT_TABLE",
                 "WEBHOOK_RECEIPTS_TABLE"):
        monkeypatch.setenv(name, "x")
    reset_settings()
    reset_settings()
    try:
        settings = get_settings()
        assert install.cookie_path(settings) == f"{prefix}/oauth/callback"
        header = install._cookie_header("v", settings, 600)
        assert f"; Path={prefix}/oauth/callback;" in header and "; Secure" in header
        health = get_settings().lifecycle
        assert health.webhook_url == f"{origin}{prefix}/webhooks/hubspot"
        assert health.reinstall_url == f"{origin}{prefix}/install"
        assert f'href="{prefix}/install"' in error_page(400, "t", "d").body
        assert f'href="{prefix}/data"' in error_page(400, "t", "d").body   # the data page
    finally:
        reset_settings()
        reset_settings()
