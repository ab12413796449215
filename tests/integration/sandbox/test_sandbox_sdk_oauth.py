"""HubSpot's official Python SDK (hubspot-api-client) against the sandbox's OAuth endpoints."""
import pytest
from hubspot import HubSpot
from hubspot.oauth import ApiException

from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, accounts, authorize


def test_sdk_token_exchange_refresh_and_metadata(sandbox):
    client = HubSpot(host=sandbox.url)
    hub = accounts(sandbox.url)[0]["hub_id"]
    _, q = authorize(sandbox.url, hub)
    tokens = client.oauth.tokens_api.create(grant_type="authorization_code", code=q["code"],
                                            redirect_uri=REDIRECT_URI, client_id=CLIENT_ID,
                                            client_secret=CLIENT_SECRET)
    assert tokens.expires_in == 1800 and tokens.token_type == "bearer" and tokens.access_token
    info = client.oauth.access_tokens_api.get(tokens.access_token)
    assert info.hub_id == hub and info.token == tokens.access_token and info.app_id
    assert "crm.objects.contacts.read" in info.scopes and info.user
    rinfo = client.oauth.refresh_tokens_api.get(tokens.refresh_token)
    assert rinfo.hub_id == hub and rinfo.client_id == CLIENT_ID
    refreshed = client.oauth.tokens_api.create(grant_type="refresh_token", client_id=CLIENT_ID,
                                               client_secret=CLIENT_SECRET,
                                               refresh_token=tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    client.oauth.refresh_tokens_api.archive(tokens.refresh_token)
    with pytest.raises(ApiException) as exc:
        client.oauth.tokens_api.create(grant_type="refresh_token", client_id=CLIENT_ID,
                                       client_secret=CLIENT_SECRET,
                                       refresh_token=tokens.refresh_token)
    assert exc.value.status == 400 and "BAD_REFRESH_TOKEN" in exc.value.body


def test_sdk_reused_code_is_bad_auth_code(sandbox):
    client = HubSpot(host=sandbox.url)
    _, q = authorize(sandbox.url, accounts(sandbox.url)[1]["hub_id"])
    kwargs = dict(grant_type="authorization_code", code=q["code"], redirect_uri=REDIRECT_URI,
                  client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    client.oauth.tokens_api.create(**kwargs)
    with pytest.raises(ApiException) as exc:
        client.oauth.tokens_api.create(**kwargs)
    assert exc.value.status == 400 and "BAD_AUTH_CODE" in exc.value.body
