"""The install routes over real HTTP through the local stack (moto + sandbox + Chalice app)."""
from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from hubspot_app import install
from hubspot_app.config import get_settings
from hubspot_app.install_state import code_verifier, read_state, signing_key
from hubspot_app.models import Account, OAuthState
from tests.harness.install_flow import account_count, begin, callback_params, consent, finish


def _assert_clean_error(response, status=400):
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and "Exception" not in response.text
    assert 'id="result"' in response.text and "Start the install again" in response.text
    assert response.headers["Content-Type"].startswith("text/html")


def test_install_redirects_to_hubspot_with_state_pkce_and_cookie(stack):
    browser = requests.Session()
    location = begin(stack.app_url, browser)
    url = urlparse(location)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{stack.hubspot_url}/oauth/authorize"
    assert params["client_id"] == "local-hubspot-app"
    assert params["redirect_uri"] == f"{stack.app_url}/oauth/callback"
    assert "crm.objects.contacts.read" in params["scope"].split()
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32
    # The cookie carries the state, signed, with its expiry; the verifier derived for it is the
    # one whose S256 hash was sent; nothing is stored yet (not used; the mark comes at the callback).
    cookie = next(c for c in browser.cookies if c.name == "hs_install")
    key = signing_key(stack.client_secret)
    item = read_state(cookie.value, params["state"], key, time.time())
    digest = hashlib.sha256(code_verifier(key, item.state).encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    assert OAuthState.count(params["state"]) == 0 and item.expires_at > time.time()
    assert code_verifier(key, item.state) not in cookie.value + location  # it never leaves the server
    assert cookie.path == "/oauth/callback"
    assert cookie.has_nonstandard_attr("HttpOnly")
    # Two installs get two different states.
    assert parse_qs(urlparse(begin(stack.app_url, requests.Session())).query)["state"][0] != params["state"]


def test_cookie_on_a_domain_root_reaches_the_callback(stack, sandbox_accounts):
    """The redirect URI at a domain's root (a custom domain): the cookie's path is the callback's."""
    assert urlparse(stack.app_url).path == ""
    browser = requests.Session()
    start = browser.get(f"{stack.app_url}/install", allow_redirects=False, timeout=10)
    assert "; Path=/oauth/callback;" in start.headers["Set-Cookie"]
    page = finish(consent(start.headers["Location"], browser, sandbox_accounts[0]["hub_id"]), browser)
    assert page.status_code == 200, page.text
    assert "Max-Age=0; Path=/oauth/callback;" in page.headers["Set-Cookie"]


def test_full_install_stores_account_from_introspection_and_queues_provisioning(stack, sandbox_accounts):
    target = sandbox_accounts[1]
    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser, target["hub_id"])
    page = finish(callback, browser)
    assert page.status_code == 200, page.text
    assert f'data-hub-id="{target["hub_id"]}"' in page.text
    account = Account.get(target["hub_id"])
    assert account.hub_domain == target["hub_domain"]
    assert account.user == target.get("user", target.get("user_email", account.user))
    assert account.status == "installed" and account.install_count >= 1
    assert "crm.objects.contacts.read" in account.scopes
    assert account.airbyte_connection_id is None


@pytest.mark.parametrize("case", ["missing", "forged", "expired", "reused", "other_browser"])
def test_bad_state_is_refused_and_stores_nothing(stack, case, monkeypatch):
    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser)
    params = callback_params(callback)
    before = account_count()
    if case == "missing":
        response = browser.get(f"{stack.app_url}/oauth/callback", params={"code": params["code"]},
                               allow_redirects=False)
    elif case == "forged":
        params["state"] = "forged-" + params["state"][7:]
        response = browser.get(f"{stack.app_url}/oauth/callback", params=params)
    elif case == "expired":
        ttl = get_settings().hubspot.state_ttl_seconds
        monkeypatch.setattr(install, "_now", lambda: time.time() + ttl + 1)
        response = finish(callback, browser)
    elif case == "reused":
        assert finish(callback, browser).status_code == 200
        before = account_count()
        response = finish(callback, browser)
    else:
        response = requests.get(callback, allow_redirects=False)  # no cookie
        assert response.status_code == 400
        other = requests.Session()
        begin(stack.app_url, other)  # a cookie, but another browser's
        response = finish(callback, other)
    _assert_clean_error(response)
    assert account_count() == before


def test_access_denied_answers_a_clear_page_and_stores_nothing(stack):
    browser = requests.Session()
    before = account_count()
    callback = consent(begin(stack.app_url, browser), browser, decision="deny")
    assert callback_params(callback)["error"] == "access_denied"
    response = finish(callback, browser)
    _assert_clean_error(response)
    assert "cancelled" in response.text
    assert account_count() == before


def test_reused_code_is_refused(stack):
    first = requests.Session()
    callback = consent(begin(stack.app_url, first), first)
    assert finish(callback, first).status_code == 200
    before = account_count()
    # A fresh, valid state from a new browser, with the code HubSpot already redeemed.
    second = requests.Session()
    fresh_state = callback_params(consent(begin(stack.app_url, second), second))["state"]
    used_code = callback_params(callback)["code"]
    response = second.get(f"{stack.app_url}/oauth/callback",
                          params={"code": used_code, "state": fresh_state}, allow_redirects=False)
    _assert_clean_error(response)
    assert "already used" in response.text
    assert account_count() == before


def test_bad_code_is_refused(stack):
    browser = requests.Session()
    state = callback_params(consent(begin(stack.app_url, browser), browser))["state"]
    before = account_count()
    response = browser.get(f"{stack.app_url}/oauth/callback",
                           params={"code": "not-a-code", "state": state}, allow_redirects=False)
    _assert_clean_error(response)
    assert account_count() == before


def test_security_headers_on_install_pages(stack):
    browser = requests.Session()
    response = finish(consent(begin(stack.app_url, browser), browser), browser)
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                   "X-Frame-Options", "Cache-Control"):
        assert header in response.headers, header
    assert response.headers["Referrer-Policy"] == "no-referrer"
