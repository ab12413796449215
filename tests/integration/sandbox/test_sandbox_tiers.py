"""Account tiers (issue 12 §1, required vs optional scopes): an optional scope the account's
tier lacks is left out of the install, a required one stops it on the consent page."""
import requests

from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, accounts, consent_form, pkce_pair


def _approve(base, hub, scope, optional):
    verifier, challenge = pkce_pair()
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": scope,
              "optional_scope": optional, "state": "t", "code_challenge": challenge,
              "code_challenge_method": "S256"}
    form = consent_form(requests.get(f"{base}/oauth/authorize", params=params, timeout=10).text)
    form.update(hub_id=str(hub), decision="approve")
    return requests.post(f"{base}/oauth/authorize", data=form, allow_redirects=False,
                         timeout=10), verifier


def _granted(base, resp, verifier):
    code = resp.headers["Location"].split("code=")[1].split("&")[0]
    tok = requests.post(f"{base}/oauth/2026-03/token", data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI, "code": code, "code_verifier": verifier}, timeout=10).json()
    info = requests.get(f"{base}/oauth/v1/access-tokens/{tok['access_token']}", timeout=10).json()
    return set(info["scopes"])


def test_optional_scopes_follow_the_tier_and_required_ones_must_be_there(sandbox):
    accts = accounts(sandbox.url)
    assert [a["tier"] for a in accts] == ["enterprise", "enterprise", "starter"]
    starter, enterprise = accts[2], accts[0]
    assert starter["missing_scopes"] == ["automation", "content", "crm.objects.goals.read"]
    optional = "content automation tickets"
    resp, verifier = _approve(sandbox.url, starter["hub_id"], "oauth crm.objects.contacts.read",
                              optional)
    assert resp.status_code == 302
    assert _granted(sandbox.url, resp, verifier) == {"oauth", "crm.objects.contacts.read",
                                                     "tickets"}
    resp, verifier = _approve(sandbox.url, enterprise["hub_id"], "oauth", optional)
    assert _granted(sandbox.url, resp, verifier) == {"oauth", "content", "automation", "tickets"}
    refused, _ = _approve(sandbox.url, starter["hub_id"], "oauth content", "")
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert "does not have access to content, which this app requires" in refused.text
