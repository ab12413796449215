"""Shared helpers: drive the consent page the way a browser would, without a browser."""
import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import requests

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


def _app_scopes() -> tuple[str, str]:
    """The scopes the product's app asks for (required, optional), from its stage config."""
    import json
    from pathlib import Path

    env = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json")
                     .read_text())["environment_variables"]
    return env["HUBSPOT_SCOPES"], env.get("HUBSPOT_OPTIONAL_SCOPES", "")


# A token with these reads what the app reads; the sandbox refuses a call whose operation's
# documented scopes the token lacks (403 MISSING_SCOPES), as HubSpot does.
APP_SCOPES, APP_OPTIONAL_SCOPES = _app_scopes()


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def consent_form(html: str) -> dict:
    """Hidden inputs of the consent form, as a browser would submit them."""
    return dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", html))


def authorize(base, hub_id, decision="approve", scope="crm.objects.contacts.read oauth",
              challenge=None, state="st-1", optional_scope=""):
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": scope, "state": state}
    if optional_scope:
        params["optional_scope"] = optional_scope
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = requests.get(f"{base}/oauth/authorize", params=params, timeout=10)
    assert page.status_code == 200, page.text
    form = consent_form(page.text)
    form.update(hub_id=str(hub_id), decision=decision)
    resp = requests.post(f"{base}/oauth/authorize", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    loc = resp.headers["Location"]
    q = {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}
    return loc, q


def install(base, hub_id, endpoint="/oauth/2026-03/token", scope=None):
    """Full install through consent (by default with the app's scopes); returns the token
    response JSON."""
    optional = APP_OPTIONAL_SCOPES if scope is None else ""
    scope = APP_SCOPES if scope is None else scope
    verifier, challenge = pkce_pair()
    _, q = authorize(base, hub_id, scope=scope, challenge=challenge, optional_scope=optional)
    r = requests.post(f"{base}{endpoint}", data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI, "code": q["code"], "code_verifier": verifier}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def accounts(base):
    return requests.get(f"{base}/_sandbox/accounts", timeout=10).json()["accounts"]
