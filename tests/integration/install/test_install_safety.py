"""Install flow: concurrency, token encryption, secrets in logs, HubSpot down, v1 fallback, tracing."""
from __future__ import annotations

import threading
from urllib.parse import urlparse

import pytest
import requests

from hubspot_app import hubspot_oauth
from hubspot_app.models import Account
from hubspot_app.runtime import services
from hubspot_app.token_crypto import TokenDecryptError, decrypt_token
from tests.harness.install_flow import account_count, begin, callback_params, consent, finish


def _install(stack, hub_id):
    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser, hub_id)
    return callback, finish(callback, browser)


def test_concurrent_callbacks_for_one_hub_make_one_account(stack, sandbox_accounts):
    hub_id = sandbox_accounts[2]["hub_id"]
    ready = []
    for _ in range(4):  # four browsers reach the callback at the same moment
        browser = requests.Session()
        ready.append((browser, consent(begin(stack.app_url, browser), browser, hub_id)))
    before = Account.get(hub_id).install_count if Account.count(hub_id) else 0
    results = []
    threads = [threading.Thread(target=lambda b=b, c=c: results.append(finish(c, b)))
               for b, c in ready]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 4, [r.text[:300] for r in results]
    assert Account.count(hub_id) == 1
    assert Account.get(hub_id).install_count == before + 4


def test_refresh_token_is_encrypted_and_bound_to_its_hub(stack, sandbox_accounts):
    first, second = sandbox_accounts[0]["hub_id"], sandbox_accounts[1]["hub_id"]
    for hub in (first, second):
        assert _install(stack, hub)[1].status_code == 200
    a, b = Account.get(first), Account.get(second)
    token = decrypt_token(a.refresh_token_encrypted, first, kms=services().kms)
    assert len(token) > 10 and token not in a.refresh_token_encrypted
    # It is the live refresh token HubSpot issued: the sandbox accepts it for a refresh.
    creds = {"client_id": "local-hubspot-app", "client_secret": stack.client_secret}
    refreshed = requests.post(f"{stack.hubspot_url}/oauth/2026-03/token", data={
        "grant_type": "refresh_token", "refresh_token": token, **creds}, timeout=10)
    assert refreshed.status_code == 200
    # Moved to another account's item, it does not open.
    with pytest.raises(TokenDecryptError):
        decrypt_token(a.refresh_token_encrypted, second, kms=services().kms)
    assert decrypt_token(b.refresh_token_encrypted, second, kms=services().kms) != token


def test_no_secret_or_token_in_logs(stack, captured_logs, sandbox_accounts):
    callback, page = _install(stack, sandbox_accounts[0]["hub_id"])
    assert page.status_code == 200
    account = Account.get(sandbox_accounts[0]["hub_id"])
    secrets = [stack.client_secret, decrypt_token(account.refresh_token_encrypted, account.hub_id, kms=services().kms),
               callback_params(callback)["code"]]
    # A failed exchange logs HubSpot's error text: it must not carry the code either.
    browser = requests.Session()
    state = callback_params(consent(begin(stack.app_url, browser), browser))["state"]
    browser.get(f"{stack.app_url}/oauth/callback", params={"code": "leaky-code-123", "state": state})
    text = captured_logs.text()
    assert '"message": "account stored"' in text and f'"hub_id": "{account.hub_id}"' in text
    for secret in secrets + ["leaky-code-123"]:
        assert secret not in text
    assert stack.client_secret not in page.text


def test_hubspot_unreachable_is_a_clear_4xx_and_stores_nothing(stack, app_client):
    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser)
    before = account_count()
    with socket_closed_port() as dead_url, app_client(HUBSPOT_API_URL=dead_url) as client:
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        response = client.http.get("/oauth/callback?" + urlparse(callback).query,
                                   headers={"cookie": cookie})
    assert response.status_code == 424
    body = response.body.decode()
    assert "HubSpot could not be reached" in body and "Traceback" not in body
    assert account_count() == before


def test_v1_endpoints_used_when_2026_03_is_missing(stack, monkeypatch, sandbox_accounts):
    calls = []
    real_call = hubspot_oauth.HubSpotOAuthClient._call

    def only_v1(self, method, path, data=None):
        calls.append(path.split("/")[2])
        if "/2026-03/" in path:
            raise hubspot_oauth.HubSpotOAuthError("not found", "", 404)
        return real_call(self, method, path, data)

    monkeypatch.setattr(hubspot_oauth.HubSpotOAuthClient, "_call", only_v1)
    _, page = _install(stack, sandbox_accounts[0]["hub_id"])
    assert page.status_code == 200
    assert calls == ["2026-03", "v1", "2026-03", "v1"]  # token, then introspection


def test_install_is_traced_with_xray(stack, sandbox_accounts, app_client):
    from aws_xray_sdk.core import xray_recorder

    browser = requests.Session()
    callback = consent(begin(stack.app_url, browser), browser, sandbox_accounts[0]["hub_id"])
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    # Keep every subsegment on the segment (the SDK streams them out past a threshold).
    xray_recorder.configure(sampling=False, streaming_threshold=1_000_000)
    segment = xray_recorder.begin_segment("install-test")
    try:
        with app_client() as client:
            response = client.http.get("/oauth/callback?" + urlparse(callback).query,
                                       headers={"cookie": cookie})
    finally:
        xray_recorder.end_segment()
    assert response.status_code == 200
    names = {sub.name for sub in segment.subsegments}
    assert {"hubspot.exchange_code", "hubspot.introspect", "store_account"} <= names
    store = next(s for s in segment.subsegments if s.name == "store_account")
    assert store.annotations["hub_id"] == sandbox_accounts[0]["hub_id"]
    # boto3 calls inside are traced too (patched), e.g. KMS and DynamoDB.
    inner = {s.name for s in store.subsegments}
    assert {"kms", "dynamodb"} <= inner, inner

    # The provision message carries the trace on to the provisioner, which links its work to it.
    from local_stack.dispatcher import SqsRoute

    provisioning = xray_recorder.begin_segment("provisioner-test")
    try:
        route = SqsRoute(stack.chalice_client(), stack.env["PROVISION_QUEUE_NAME"], "provisioner")
        route.run_until_idle(timeout=120)
    finally:
        xray_recorder.end_segment()
    linked = [sub for sub in provisioning.subsegments if sub.name == "provision_message"
              and sub.annotations.get("hub_id") == sandbox_accounts[0]["hub_id"]]
    assert linked, [(s.name, s.annotations) for s in provisioning.subsegments]
    assert linked[-1].annotations["sender_trace_id"] == segment.trace_id
    assert Account.get(sandbox_accounts[0]["hub_id"]).status == "active"


class socket_closed_port:
    """A URL on 127.0.0.1 where nothing listens (bound then closed)."""

    def __enter__(self):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc):
        return False
