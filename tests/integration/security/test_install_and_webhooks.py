"""Security tests against the local stack (real HTTP to the Chalice app, the sandbox, moto)."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode, urlparse

import boto3
import pytest
import requests

from hubspot_app import install, metrics
from hubspot_app.config import get_settings, reset_settings
from hubspot_app.models import Account
from hubspot_app.webhooks import sign_v3
from tests.harness import install_flow as flow

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
NEXT_PARAMS = ("next", "return_to", "returnTo", "redirect", "redirect_to", "redirect_uri",
               "continue", "url", "destination", "goto", "back")
EVIL = "https://evil.example/steal"


def count_accounts() -> int:
    return sum(1 for _ in Account.scan())


def assert_refusal(response, status=400):
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and "Exception" not in response.text
    assert "Location" not in response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value


# -- state ----------------------------------------------------------------------------------
def _callback_with(hs, mutate):
    browser = requests.Session()
    callback = flow.consent(flow.begin(hs.stack.app_url, browser), browser)
    params = flow.callback_params(callback)
    url, cookies = mutate(params, browser)
    return browser.get(url, cookies=cookies, allow_redirects=False, timeout=30), params


@pytest.mark.parametrize("case", ["forged", "missing", "expired", "reused", "other_browser"])
def test_bad_state_is_refused_and_stores_nothing(hs, case, monkeypatch):
    base = f"{hs.stack.app_url}/oauth/callback"
    before = count_accounts()

    def mutate(params, browser):
        if case == "forged":
            params["state"] = "forged-" + params["state"][:20]
        elif case == "missing":
            params.pop("state")
        elif case == "expired":  # the state's signed expiry has passed
            ttl = get_settings().hubspot.state_ttl_seconds
            monkeypatch.setattr(install, "_now", lambda: time.time() + ttl + 1)
        elif case == "reused":
            assert browser.get(f"{base}?{urlencode(params)}", timeout=30).status_code == 200
        elif case == "other_browser":
            return f"{base}?{urlencode(params)}", {"hs_install": "someone-else"}
        return f"{base}?{urlencode(params)}", None

    response, _ = _callback_with(hs, mutate)
    assert_refusal(response)
    assert count_accounts() == before


def test_replayed_code_is_refused(hs):
    browser = requests.Session()
    callback = flow.consent(flow.begin(hs.stack.app_url, browser), browser)
    assert flow.finish(callback, browser).status_code == 200
    code = flow.callback_params(callback)["code"]
    installs = {a.hub_id: a.install_count for a in Account.scan()}
    # An attacker with the used code starts their own install (fresh state) and replays it.
    attacker = requests.Session()
    fresh = flow.callback_params(flow.consent(flow.begin(hs.stack.app_url, attacker), attacker))
    replay = f"{hs.stack.app_url}/oauth/callback?{urlencode({'code': code, 'state': fresh['state']})}"
    assert_refusal(attacker.get(replay, allow_redirects=False, timeout=30))
    assert {a.hub_id: a.install_count for a in Account.scan()} == installs


def test_tampered_redirect_uri_never_reaches_a_foreign_host(hs):
    browser = requests.Session()
    authorize = flow.begin(hs.stack.app_url, browser)
    query = parse_qs(urlparse(authorize).query)
    assert query["redirect_uri"] == [get_settings().hubspot.redirect_uri]
    # HubSpot (the sandbox) refuses an authorize request whose redirect_uri was swapped ...
    tampered = authorize.replace(urlencode({"redirect_uri": query["redirect_uri"][0]}),
                                 urlencode({"redirect_uri": EVIL}))
    answer = browser.get(tampered, allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "Location" not in answer.headers
    # ... and our /install ignores any redirect_uri a link tries to pass in.
    location = requests.get(f"{hs.stack.app_url}/install?redirect_uri={EVIL}",
                            allow_redirects=False, timeout=10).headers["Location"]
    assert parse_qs(urlparse(location).query)["redirect_uri"] == [get_settings().hubspot.redirect_uri]


def test_no_open_redirect_through_next_style_parameters(hs):
    evil = {name: EVIL for name in NEXT_PARAMS}
    install = requests.get(f"{hs.stack.app_url}/install?{urlencode(evil)}", allow_redirects=False,
                           timeout=10)
    assert install.status_code == 302
    target = urlparse(install.headers["Location"])
    authorize = urlparse(get_settings().hubspot.authorize_url)
    assert (target.scheme, target.netloc, target.path) == (authorize.scheme, authorize.netloc, authorize.path)
    assert "evil.example" not in install.headers["Location"]
    # The callback answers pages, never redirects, and its links stay on this site.
    browser = requests.Session()
    callback = flow.consent(flow.begin(hs.stack.app_url, browser), browser)
    done = browser.get(f"{callback}&{urlencode(evil)}", allow_redirects=False, timeout=30)
    assert done.status_code == 200 and "Location" not in done.headers
    assert "evil.example" not in done.text
    refused = requests.get(f"{hs.stack.app_url}/oauth/callback?{urlencode(evil)}",
                           allow_redirects=False, timeout=10)
    assert_refusal(refused)
    assert "evil.example" not in refused.text and 'href="/install"' in refused.text


# -- headers and cookies --------------------------------------------------------------------
def test_security_headers_and_cookie_flags(hs, monkeypatch):
    install = requests.get(f"{hs.stack.app_url}/install", allow_redirects=False, timeout=10)
    for name, value in SECURITY_HEADERS.items():
        assert install.headers.get(name) == value
    assert "default-src 'none'" in install.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in install.headers["Content-Security-Policy"]
    assert install.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = install.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/oauth/callback" in cookie
    assert "Secure" not in cookie  # the local stage is plain HTTP: the only stage without it
    # Everywhere else the cookie is Secure: by default, and in every deployed stage.
    monkeypatch.delenv("COOKIE_SECURE", raising=False)
    reset_settings()
    assert get_settings().hubspot.cookie_secure is True
    reset_settings()
    with_secure = hs.stack.chalice_client(**{**hs.env, "COOKIE_SECURE": "true"})
    reset_settings()
    answer = with_secure.http.get("/install")
    reset_settings()
    cookie_header = {k.lower(): v for k, v in answer.headers.items()}["set-cookie"]
    assert "; Secure" in cookie_header and "HttpOnly" in cookie_header
    config = json.load(open("/work/main/.chalice/config.json"))
    assert config["environment_variables"]["COOKIE_SECURE"] == "true"
    for stage, spec in config["stages"].items():
        value = spec.get("environment_variables", {}).get("COOKIE_SECURE", "true")
        assert value == ("false" if stage == "local" else "true"), stage


# -- webhooks -------------------------------------------------------------------------------
def _webhook(hs, body: str, ts: int | None = None, secret: str | None = None, uri: str | None = None,
             headers: dict | None = None, signature: str | None = None):
    url = f"{hs.stack.app_url}/webhooks/hubspot"
    ts = int(time.time() * 1000) if ts is None else ts
    sig = signature if signature is not None else sign_v3(secret or hs.stack.client_secret, "POST",
                                                          uri or url, body, ts)
    sent = {"Content-Type": "application/json", "X-HubSpot-Signature-v3": sig,
            "X-HubSpot-Request-Timestamp": str(ts), **(headers or {})}
    return requests.post(url, data=body, headers={k: v for k, v in sent.items() if v is not None},
                         timeout=10)


def _event(portal_id) -> str:
    return json.dumps([{"eventId": 1, "subscriptionType": "contact.deletion", "portalId": portal_id,
                        "appId": 1, "occurredAt": int(time.time() * 1000), "objectId": 1}])


def _statuses():
    return {a.hub_id: a.status for a in Account.scan()}


@pytest.mark.parametrize("case", ["bad_signature", "wrong_secret", "missing_signature",
                                  "missing_timestamp", "stale", "future", "tampered_body",
                                  "other_host"])
def test_webhook_signature_is_required(hs, case):
    hub_id = hs.hub_ids()[2]
    body = _event(hub_id)
    before = _statuses()
    now = int(time.time() * 1000)
    kwargs = {
        "bad_signature": {"signature": "AAAA" + sign_v3("x", "POST", "u", body, now)[4:]},
        "wrong_secret": {"secret": "not-the-client-secret"},
        "missing_signature": {"headers": {"X-HubSpot-Signature-v3": None}},
        "missing_timestamp": {"headers": {"X-HubSpot-Request-Timestamp": None}},
        "stale": {"ts": now - 6 * 60 * 1000},
        "future": {"ts": now + 10 * 60 * 1000},
        "other_host": {"uri": "https://attacker.example/webhooks/hubspot",
                       "headers": {"Host": "attacker.example"}},
    }.get(case, {})
    if case == "tampered_body":
        good = sign_v3(hs.stack.client_secret, "POST", f"{hs.stack.app_url}/webhooks/hubspot", body, now)
        answer = _webhook(hs, _event(hs.hub_ids()[3]), ts=now, signature=good)
    else:
        answer = _webhook(hs, body, **kwargs)
    assert answer.status_code == 401, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert set(answer.json()) == {"error"}
    hs.health_route.run_until_idle(timeout=10)
    assert _statuses() == before


def test_replayed_webhook_is_refused(hs):
    body = json.dumps([{"eventId": 9, "subscriptionType": "contact.creation", "portalId": 1}])
    ts = int(time.time() * 1000)
    first = _webhook(hs, body, ts=ts)
    assert first.status_code == 200 and first.json() == {"accepted": 1}
    again = _webhook(hs, body, ts=ts)
    assert again.status_code == 409 and again.json() == {"error": "replayed_signature"}


@pytest.mark.parametrize("portal_id", ["../{hub}", "{hub}/../1", "{hub}%2F..", -1, 0, True,
                                       10 ** 30, "{hub}.0", " {hub}", "٣٤", None, {"id": 1}])
def test_webhook_hub_id_cannot_traverse_or_smuggle(hs, portal_id):
    hub = hs.hub_ids()[2]
    value = portal_id.format(hub=hub) if isinstance(portal_id, str) else portal_id
    before = _statuses()
    answer = _webhook(hs, _event(value))
    assert answer.status_code == 200 and answer.json() == {"accepted": 1}   # acknowledged only
    hs.health_route.run_until_idle(timeout=10)
    assert _statuses() == before


# -- secrets nowhere --------------------------------------------------------------------------
def test_secrets_and_tokens_absent_from_every_log_line_response_alert_and_metric(hs, captured_logs):
    capture = captured_logs
    metric_lines: list[str] = []
    metrics.set_sink(metric_lines.append)
    responses: list[str] = []
    try:
        hub_id = hs.hub_ids()[3]
        browser = requests.Session()
        authorize = flow.begin(hs.stack.app_url, browser)
        callback = flow.consent(authorize, browser, hub_id=hub_id)
        done = flow.finish(callback, browser)
        responses += [done.text, json.dumps(dict(done.headers))]
        replay = browser.get(callback, allow_redirects=False, timeout=30)
        responses += [replay.text, json.dumps(dict(replay.headers))]
        hs.provision()
        hs.proxy.add("/oauth/2026-03/token", status=503, count=1)
        hs.run_health()
        hs.uninstall_in_hubspot(hub_id)        # an APP_UNINSTALL journal entry
        hs.run_health()
        answer = _webhook(hs, _event(hub_id))
        responses += [answer.text, json.dumps(dict(answer.headers))]
        responses.append(_webhook(hs, _event(hub_id), secret="wrong").text)
        responses.append(json.dumps(hs.poll_journal()))   # the app's client-credentials token
        alerts = hs.alerts()
    finally:
        metrics.set_sink(hs.metric_lines.append)
    st = hs.stack.sandbox.state
    secrets = {"client secret": hs.stack.client_secret,
               "airbyte client secret": hs.stack.airbyte.client_secret}
    secrets.update({f"refresh token {t[:4]}": t for t in st.refresh_tokens})
    secrets.update({f"access token {t[:6]}": t for t in st.access_tokens})
    secrets.update({f"code {c[:4]}": c for c in st.codes})
    secrets.update({f"app token {t[:4]}": t for t in st.app_tokens})
    assert st.app_tokens                   # the poller did fetch one
    stored = [a.refresh_token_encrypted for a in Account.scan() if a.refresh_token_encrypted]
    secrets.update({f"ciphertext {i}": s for i, s in enumerate(stored)})
    haystacks = {"logs": "\n".join(capture.lines), "responses": "\n".join(responses),
                 "alerts": json.dumps(alerts), "metrics": "\n".join(metric_lines)}
    assert capture.lines and alerts and metric_lines
    leaks = [(what, where) for what, secret in secrets.items() for where, text in haystacks.items()
             if secret and secret in text]
    assert leaks == []
    assert Account.get(hub_id).status == "uninstalled"
    boto3.client("sqs")  # (the stack stays usable for later tests)
