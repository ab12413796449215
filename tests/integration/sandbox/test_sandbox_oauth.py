"""OAuth of the sandbox, as the install flow and the connector use it."""
import pathlib

import requests

from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, accounts, authorize, install, pkce_pair


def test_consent_page_lists_accounts_scopes_and_buttons(sandbox):
    r = requests.get(f"{sandbox.url}/oauth/authorize", params={
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "oauth crm.objects.deals.read",
        "optional_scope": "tickets", "state": "abc"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    for a in accounts(sandbox.url):
        assert f"value='{a['hub_id']}'" in r.text and a["name"] in r.text and a["hub_domain"] in r.text
    assert r.text.count("name='hub_id'") == 3
    assert "crm.objects.deals.read" in r.text and "tickets" in r.text
    assert "name='decision' value='approve'" in r.text and "name='decision' value='deny'" in r.text
    assert "action='/oauth/authorize'" in r.text and "name='state' value='abc'" in r.text


def test_unknown_client_or_redirect_is_400_never_redirect(sandbox):
    for params in ({"client_id": "nope", "redirect_uri": REDIRECT_URI},
                   {"client_id": CLIENT_ID, "redirect_uri": "http://evil.example/cb"}):
        r = requests.get(f"{sandbox.url}/oauth/authorize", params=params, allow_redirects=False)
        assert r.status_code == 400 and "Location" not in r.headers
        r = requests.post(f"{sandbox.url}/oauth/authorize", data={**params, "decision": "approve",
                          "hub_id": accounts(sandbox.url)[0]["hub_id"]}, allow_redirects=False)
        assert r.status_code == 400 and "Location" not in r.headers


def test_deny_redirects_with_access_denied(sandbox):
    hub = accounts(sandbox.url)[0]["hub_id"]
    loc, q = authorize(sandbox.url, hub, decision="deny", state="s-deny")
    assert loc.startswith(REDIRECT_URI + "?")
    assert q["error"] == "access_denied" and q["state"] == "s-deny" and q["error_description"]
    assert "code" not in q


def test_install_records_scopes_and_tokens_work(sandbox):
    hub = accounts(sandbox.url)[1]["hub_id"]
    tok = install(sandbox.url, hub, scope="oauth crm.objects.contacts.read")
    assert tok["expires_in"] == 1800 and tok["token_type"] == "bearer" and tok["hub_id"] == hub
    assert set(tok["scopes"]) == {"oauth", "crm.objects.contacts.read"}
    acct = next(a for a in accounts(sandbox.url) if a["hub_id"] == hub)
    inst = acct["installed_apps"][0]
    assert inst["client_id"] == CLIENT_ID and "crm.objects.contacts.read" in inst["scopes"]
    intro = requests.post(f"{sandbox.url}/oauth/2026-03/token/introspect", data={
        "token": tok["access_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "token_type_hint": "access_token"}).json()
    assert intro["active"] is True and intro["hub_id"] == hub and intro["token_type"] == "access"
    assert intro["hub_domain"] == acct["hub_domain"] and intro["user"] == acct["user"]
    assert intro["client_id"] == CLIENT_ID and 0 < intro["expires_in"] <= 1800
    assert isinstance(intro["user_id"], int) and isinstance(intro["app_id"], int)
    intro = requests.post(f"{sandbox.url}/oauth/2026-03/token/introspect", data={
        "token": tok["refresh_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).json()
    assert intro["active"] is True and intro["token_type"] == "refresh" and intro["hub_id"] == hub


def test_code_single_use_and_bound(sandbox):
    hub = accounts(sandbox.url)[0]["hub_id"]
    _, q = authorize(sandbox.url, hub)
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT_URI, "code": q["code"]}
    bad_uri = requests.post(f"{sandbox.url}/oauth/v1/token", data={**form, "redirect_uri": "http://x/"})
    assert bad_uri.status_code == 400 and bad_uri.json()["status"] == "BAD_REDIRECT_URI"
    bad_secret = requests.post(f"{sandbox.url}/oauth/v1/token", data={**form, "client_secret": "x"})
    assert bad_secret.json()["status"] == "BAD_CLIENT_SECRET"
    bad_client = requests.post(f"{sandbox.url}/oauth/2026-03/token", data={**form, "client_id": "x"})
    assert bad_client.json()["status"] == "BAD_CLIENT_ID" and bad_client.json()["error"] == "invalid_client"
    assert requests.post(f"{sandbox.url}/oauth/v1/token", data=form).status_code == 200
    again = requests.post(f"{sandbox.url}/oauth/2026-03/token", data=form)
    body = again.json()
    assert again.status_code == 400 and body["status"] == "BAD_AUTH_CODE"
    assert body["error"] == "invalid_grant" and body["message"] and body["correlationId"]


def test_code_expires(sandbox):
    hub = accounts(sandbox.url)[0]["hub_id"]
    _, q = authorize(sandbox.url, hub)
    requests.post(f"{sandbox.url}/_sandbox/clock/advance", json={"seconds": 600})
    r = requests.post(f"{sandbox.url}/oauth/v1/token", data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI, "code": q["code"]})
    assert r.status_code == 400 and r.json()["status"] in ("EXPIRED_AUTH_CODE", "BAD_AUTH_CODE")


def test_pkce_verified(sandbox):
    hub = accounts(sandbox.url)[0]["hub_id"]
    verifier, challenge = pkce_pair()
    _, q = authorize(sandbox.url, hub, challenge=challenge)
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT_URI, "code": q["code"]}
    for wrong in ({}, {"code_verifier": verifier + "x"}):
        r = requests.post(f"{sandbox.url}/oauth/2026-03/token", data={**form, **wrong})
        assert r.status_code == 400 and r.json()["status"] == "BAD_AUTH_CODE"
    r = requests.post(f"{sandbox.url}/oauth/2026-03/token", data={**form, "code_verifier": verifier})
    assert r.status_code == 200


def test_access_token_expires_after_30_minutes_and_refresh(sandbox):
    hub = accounts(sandbox.url)[2]["hub_id"]
    tok = install(sandbox.url, hub, endpoint="/oauth/v1/token")
    info = requests.get(f"{sandbox.url}/oauth/v1/access-tokens/{tok['access_token']}")
    assert info.status_code == 200 and info.json()["hub_id"] == hub
    requests.post(f"{sandbox.url}/_sandbox/clock/advance", json={"seconds": 1799})
    assert requests.get(f"{sandbox.url}/oauth/v1/access-tokens/{tok['access_token']}").status_code == 200
    requests.post(f"{sandbox.url}/_sandbox/clock/advance", json={"seconds": 2})
    assert requests.get(f"{sandbox.url}/oauth/v1/access-tokens/{tok['access_token']}").status_code == 401
    intro = requests.post(f"{sandbox.url}/oauth/2026-03/token/introspect", data={
        "token": tok["access_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert intro.json() == {"active": False}
    r = requests.post(f"{sandbox.url}/oauth/2026-03/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": tok["refresh_token"]})
    assert r.status_code == 200 and r.json()["access_token"] != tok["access_token"]
    assert r.json()["refresh_token"] == tok["refresh_token"] and r.json()["hub_id"] == hub


def test_uninstall_revokes_refresh_token(sandbox):
    hub = accounts(sandbox.url)[2]["hub_id"]
    tok = install(sandbox.url, hub)
    r = requests.post(f"{sandbox.url}/_sandbox/accounts/{hub}/uninstall")
    assert r.status_code == 200 and CLIENT_ID in r.json()["uninstalled"]
    acct = next(a for a in accounts(sandbox.url) if a["hub_id"] == hub)
    assert acct["installed_apps"] == []
    for ep in ("/oauth/v1/token", "/oauth/2026-03/token"):
        r = requests.post(f"{sandbox.url}{ep}", data={
            "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": tok["refresh_token"]})
        assert r.status_code == 400 and r.json()["status"] == "BAD_REFRESH_TOKEN"
    intro = requests.post(f"{sandbox.url}/oauth/2026-03/token/introspect", data={
        "token": tok["access_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert intro.json() == {"active": False}


def test_revoke_and_v1_refresh_token_metadata(sandbox):
    hub = accounts(sandbox.url)[0]["hub_id"]
    tok = install(sandbox.url, hub)
    meta = requests.get(f"{sandbox.url}/oauth/v1/refresh-tokens/{tok['refresh_token']}")
    assert meta.status_code == 200 and meta.json()["client_id"] == CLIENT_ID
    assert meta.json()["hub_id"] == hub and meta.json()["token"] == tok["refresh_token"]
    r = requests.post(f"{sandbox.url}/oauth/2026-03/token/revoke", data={
        "token": tok["refresh_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 200
    assert requests.get(f"{sandbox.url}/oauth/v1/refresh-tokens/{tok['refresh_token']}").status_code == 404
    tok2 = install(sandbox.url, hub)
    assert requests.delete(f"{sandbox.url}/oauth/v1/refresh-tokens/{tok2['refresh_token']}").status_code == 204
    r = requests.post(f"{sandbox.url}/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": tok2["refresh_token"]})
    assert r.json()["status"] == "BAD_REFRESH_TOKEN"


def test_apps_registered_at_runtime(sandbox):
    r = requests.post(f"{sandbox.url}/_sandbox/apps", json={
        "client_id": "late", "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]})
    assert r.status_code == 201
    page = requests.get(f"{sandbox.url}/oauth/authorize", params={
        "client_id": "late", "redirect_uri": "http://127.0.0.1:1/cb", "scope": "oauth"})
    assert page.status_code == 200


def test_cli_help():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "local_stack.hubspot_sandbox", "--help"],
                         capture_output=True, text=True, cwd=str(pathlib.Path(__file__).resolve().parents[3]))
    assert out.returncode == 0 and "--app" in out.stdout and "--seed" in out.stdout
