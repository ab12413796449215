"""The install link cannot be flooded (issue 14): `/install` stores nothing, the callback writes
one mark per valid state at most, and every way a state can be wrong is a clear 400 page."""
from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from hubspot_app import install
from hubspot_app.config import get_settings
from hubspot_app.models import OAuthState
from tests.harness.install_flow import account_count, begin, consent, finish


def state_items() -> int:
    return sum(1 for _ in OAuthState.scan(consistent_read=True))


def _clean_refusal(response, title: str):
    assert response.status_code == 400, response.text
    assert title in response.text, response.text
    assert "Traceback" not in response.text and 'id="result"' in response.text
    assert "Start the install again" in response.text


def _started(stack):
    """A browser that has been through consent: (browser, callback URL, its cookie value)."""
    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser)
    return browser, callback, browser.cookies.get("hs_install")


def test_200_install_requests_store_nothing(stack):
    before = state_items()
    states = set()
    for _ in range(200):
        answer = requests.get(f"{stack.app_url}/install", allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        states.add(parse_qs(urlparse(answer.headers["Location"]).query)["state"][0])
    assert len(states) == 200           # every request still gets its own state
    assert state_items() == before      # and none of them is stored


def test_forged_callbacks_store_nothing(stack):
    before, accounts = state_items(), account_count()
    _, callback, cookie = _started(stack)
    forged = [cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), "v1.x.1.y", "garbage", cookie + "x"]
    for value in forged * 10:
        answer = requests.get(callback, cookies={"hs_install": value}, allow_redirects=False, timeout=10)
        assert answer.status_code == 400
    assert state_items() == before and account_count() == accounts


def test_a_completed_install_leaves_one_mark_that_expires_with_its_state(stack):
    before = state_items()
    browser, callback, cookie = _started(stack)
    page = finish(callback, browser)
    assert page.status_code == 200, page.text
    assert state_items() == before + 1
    state = parse_qs(urlparse(callback).query)["state"][0]
    mark = OAuthState.get(state)
    expiry = int(cookie.split(".")[2])
    assert int(mark.expires_at.timestamp()) == expiry      # DynamoDB's TTL removes it after
    assert "hs_install" not in browser.cookies            # the spent cookie is cleared


def test_replayed_callback_is_refused(stack):
    browser, callback, cookie = _started(stack)
    assert finish(callback, browser).status_code == 200
    accounts, marks = account_count(), state_items()
    # The same URL with the same (captured) cookie, e.g. from history on a shared computer.
    replay = requests.get(callback, cookies={"hs_install": cookie}, allow_redirects=False, timeout=10)
    _clean_refusal(replay, "This install link was already used")
    assert account_count() == accounts and state_items() == marks


def test_concurrent_replays_let_one_through(stack):
    browser, callback, cookie = _started(stack)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(requests.get(
        callback, cookies={"hs_install": cookie}, allow_redirects=False, timeout=30).status_code))
        for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 400, 400]


@pytest.mark.parametrize("tamper", ["signature", "extended_expiry", "other_state"])
def test_tampered_cookie_is_refused(stack, tamper):
    browser, callback, cookie = _started(stack)
    version, state, expiry, mac = cookie.split(".")
    if tamper == "signature":
        value = ".".join([version, state, expiry, ("A" if mac[0] != "A" else "B") + mac[1:]])
    elif tamper == "extended_expiry":
        value = ".".join([version, state, str(int(expiry) + 86400), mac])
    else:  # the URL's state put in, keeping another cookie's signature
        _, _, other = _started(stack)
        value = ".".join([version, state, *other.split(".")[2:]])
    accounts, marks = account_count(), state_items()
    answer = requests.get(callback, cookies={"hs_install": value}, allow_redirects=False, timeout=10)
    _clean_refusal(answer, "This install link is not valid")
    assert account_count() == accounts and state_items() == marks


def test_cookie_from_another_browser_is_refused(stack):
    _, callback, _ = _started(stack)
    other = requests.Session()
    begin(stack.app_url, other)                 # a valid cookie, for another install
    accounts, marks = account_count(), state_items()
    answer = finish(callback, other)
    _clean_refusal(answer, "Install started in another browser")
    assert account_count() == accounts and state_items() == marks


def test_expired_state_is_refused(stack, monkeypatch):
    browser, callback, _ = _started(stack)
    ttl = get_settings().hubspot.state_ttl_seconds
    monkeypatch.setattr(install, "_now", lambda: time.time() + ttl + 1)
    accounts, marks = account_count(), state_items()
    answer = finish(callback, browser)
    _clean_refusal(answer, "This install link has expired")
    assert f"valid for {ttl // 60} minutes" in answer.text
    assert account_count() == accounts and state_items() == marks


