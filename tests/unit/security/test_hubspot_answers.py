"""HubSpot's answers parsed as its OpenAPI documents declare them (issue 10 §4), and the
webhook verifier's exact-URI, replay-key and parser-exhaustion rules (issues 10 §2, 14)."""
from __future__ import annotations

import base64
import json
import time

import pytest

from hubspot_app.hub_ids import MAX_HUB_ID, InvalidHubId, parse_hub_id
from hubspot_app.hubspot_oauth import (
    ClientConfigError,
    HubSpotBadAnswer,
    HubSpotOAuthError,
    HubSpotUnavailable,
    InvalidGrant,
    classify_error,
    parse_token_info,
)
from hubspot_app.webhooks import (
    MemoryReplayStore,
    WebhookRejected,
    handle_webhook,
    public_uri,
    sign_v3,
    verify_v3,
)


# -- one hub_id parser --------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [(1, 1), (MAX_HUB_ID, MAX_HUB_ID), ("20000001", 20000001)])
def test_hub_id_accepts_json_integers_and_plain_digit_strings(value, expected):
    assert parse_hub_id(value) == expected


@pytest.mark.parametrize("value", [0, -1, MAX_HUB_ID + 1, True, 1.0, "1.0", " 1", "+1", "01", "1e3",
                                   "٣٤", "12/../3", "", None, [1], {"id": 1}, "9" * 11])
def test_hub_id_refuses_everything_else(value):
    with pytest.raises(InvalidHubId):
        parse_hub_id(value)


# -- introspection -----------------------------------------------------------------------------
def introspection(**changes):
    body = {"active": True, "app_id": 1234, "client_id": "cid", "expires_in": 1700,
            "hub_id": 20000001, "is_private_distribution": False, "scopes": ["oauth"],
            "signed_access_token": {}, "token": "t", "token_type": "access",
            "token_use": "access_token", "user_id": 7, "user": "a@example.com",
            "hub_domain": "a.example.com"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_introspection_user_and_domain_are_optional():
    info = parse_token_info(introspection(user=..., hub_domain=...), client_id="cid")
    assert info.hub_id == 20000001 and info.user is None and info.hub_domain is None
    assert parse_token_info(introspection(hub_id="20000001")).hub_id == 20000001


@pytest.mark.parametrize("changes", [{"hub_id": ...}, {"scopes": ...}, {"user_id": ...},
                                     {"app_id": ...}, {"token_use": ...}, {"hub_id": "2e7"},
                                     {"hub_id": 2 ** 40}, {"hub_id": True}, {"scopes": "oauth"},
                                     {"scopes": [1]}, {"user": 5}, {"user_id": "7"},
                                     {"active": "true"}, {"hub_domain": ["x"]},
                                     {"signed_access_token": "x"}, {"token_use": "refresh_token"}])
def test_introspection_refuses_what_the_spec_does_not_declare(changes):
    with pytest.raises(HubSpotBadAnswer):
        parse_token_info(introspection(**changes))


def test_introspection_inactive_or_other_app_is_a_refusal():
    with pytest.raises(InvalidGrant):
        parse_token_info({"active": False})
    with pytest.raises(InvalidGrant):
        parse_token_info(introspection(client_id="someone-else"), client_id="cid")
    with pytest.raises(HubSpotBadAnswer):
        parse_token_info(["not", "an", "object"])


def test_v1_introspection_has_its_own_required_fields():
    body = introspection(active=..., client_id=..., is_private_distribution=...,
                         signed_access_token=..., token_use=...)
    assert parse_token_info(body, "v1").hub_id == 20000001
    with pytest.raises(HubSpotBadAnswer):
        parse_token_info(body, "2026-03")


# -- OAuth errors: refusal vs transient ----------------------------------------------------------
ERROR_SHAPE = {"correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf", "message": "m"}


@pytest.mark.parametrize("status,body,kind", [
    (400, {"status": "BAD_REFRESH_TOKEN", "message": "m"}, InvalidGrant),
    (400, {"status": "BAD_REFRESH_TOKEN", "message": "m", "error": "invalid_grant",
           "error_description": "m"}, InvalidGrant),
    (400, {"error": "invalid_grant"}, InvalidGrant),
    (400, {**ERROR_SHAPE, "category": "VALIDATION_ERROR", "subCategory": "INVALID_TOKEN"}, InvalidGrant),
    (400, {**ERROR_SHAPE, "category": "VALIDATION_ERROR",
           "errors": [{"message": "m", "code": "EXPIRED_REFRESH_TOKEN"}]}, InvalidGrant),
    (400, {"status": "BAD_CLIENT_SECRET", "error": "invalid_client"}, ClientConfigError),
    (401, {**ERROR_SHAPE, "category": "INVALID_AUTHENTICATION"}, ClientConfigError),
    (429, {**ERROR_SHAPE, "category": "RATE_LIMITS"}, HubSpotUnavailable),
    (400, {**ERROR_SHAPE, "category": "RATE_LIMITS"}, HubSpotUnavailable),
    (503, {"status": "BAD_REFRESH_TOKEN"}, HubSpotUnavailable),
    (502, {}, HubSpotUnavailable),
    (400, {**ERROR_SHAPE, "category": "VALIDATION_ERROR"}, HubSpotOAuthError),
])
def test_oauth_errors_are_classified(status, body, kind):
    error = classify_error(status, body)
    assert type(error) is kind, (status, body, error)


# -- webhooks ------------------------------------------------------------------------------------
SECRET = "s3cret-of-the-app"


def signed(body: str, uri: str, ts: int | None = None) -> dict:
    ts = ts or int(time.time() * 1000)
    return {"X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", uri, body, ts),
            "X-HubSpot-Request-Timestamp": str(ts)}


def test_replay_key_ignores_padding_and_spacing_of_the_same_signature():
    uri, body = "https://h.example/webhooks/hubspot", "[]"
    headers, store = signed(body, uri), MemoryReplayStore()
    verify_v3(SECRET, "POST", uri, body.encode(), headers, store)
    sig = headers["X-HubSpot-Signature-v3"]
    for variant in (sig.rstrip("="), f"  {sig} ", sig.replace("+", "-").replace("/", "_")):
        with pytest.raises(WebhookRejected) as refused:
            verify_v3(SECRET, "POST", uri, body.encode(), {**headers, "X-HubSpot-Signature-v3": variant},
                      store)
        assert refused.value.reason == "replayed_signature"


def test_the_raw_query_string_is_signed_as_received():
    url = "https://h.example/webhooks/hubspot"
    raw = "a=b%20c&tag=x%2By"          # re-encoding the decoded values would give a=b+c or tag=x%2By
    assert public_uri(url, {"a": "b c", "tag": "x+y"}, raw) == f"{url}?{raw}"
    assert public_uri(f"{url}?k=v%20w", {"k": "v w"}) == f"{url}?k=v%20w"
    with pytest.raises(WebhookRejected):
        public_uri(url, {"k": "v"})     # a query HubSpot was not configured with: cannot be verified
    body = "[]"
    status, _ = handle_webhook("POST", signed(body, f"{url}?{raw}"), body.encode(), {"a": "b c"},
                               SECRET, url, "", MemoryReplayStore(), raw_query=raw)
    assert status == 200


@pytest.mark.parametrize("depth", [100_000, 400_000])
def test_nesting_that_exhausts_the_parser_is_a_400(depth):
    url = "https://h.example/webhooks/hubspot"
    body = "[" * depth + "]" * depth
    status, answer = handle_webhook("POST", signed(body, url), body.encode(), None, SECRET, url, "",
                                    MemoryReplayStore())
    assert (status, answer) == (400, {"error": "body_not_json"})


def test_events_for_another_app_are_refused():
    url = "https://h.example/webhooks/hubspot"
    body = json.dumps([{"subscriptionType": "contact.creation", "appId": 42, "portalId": 7},
                       {"subscriptionType": "contact.creation", "appId": 43, "portalId": 7}])
    status, answer = handle_webhook("POST", signed(body, url), body.encode(), None, SECRET, url,
                                    "42", MemoryReplayStore())
    assert (status, answer) == (403, {"error": "event_for_another_app"})
    ours = json.dumps([{"subscriptionType": "contact.creation", "appId": 42, "portalId": 7}])
    assert handle_webhook("POST", signed(ours, url), ours.encode(), None, SECRET, url, "42",
                          MemoryReplayStore()) == (200, {"accepted": 1})


def test_signature_must_be_32_bytes_of_base64():
    url, body = "https://h.example/webhooks/hubspot", "[]"
    headers = signed(body, url)
    bad = base64.b64encode(b"x" * 31).decode()
    with pytest.raises(WebhookRejected):
        verify_v3(SECRET, "POST", url, body.encode(), {**headers, "X-HubSpot-Signature-v3": bad},
                  MemoryReplayStore())
    assert json.loads(body) == []
