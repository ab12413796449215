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

from hubspot_app.config import get_settings
from hubspot_app.models import Account
from hubspot_app.webhooks import sign_v3
from tests.harness import local_stack
from tests.harness.install_flow import begin, callback_params, consent, finish


@pytest.fixture(scope="module")
def stack():
    yield from local_stack(accounts=2, seed=14, path_prefix="/api")


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


