"""HubSpot's webhooks journal (2026-03), as far as the app-lifecycle channel needs it.

From HubSpot/HubSpot-public-api-spec-collection @ 99893791383254f52aa07662baeb98aad65cc710,
PublicApiSpecs/Webhooks Journal/Webhooks Journal/Rollouts/284944/2026-03/webhooksJournal.json:
- every call carries an app token from the client-credentials grant (`grant_type=
  client_credentials` at /oauth/v1/token or /oauth/2026-03/token, ClientCredentialsTokenResponse
  `token_use: client_credentials`); an account's OAuth token is refused;
- POST/GET /webhooks-journal/subscriptions/2026-03: AppLifecycleEventSubscriptionUpsertRequest
  (`subscriptionType: APP_LIFECYCLE_EVENT`, `eventTypeId`, `properties` required); the answer is
  a SubscriptionResponse (`actions` include APP_INSTALL / APP_UNINSTALL);
- GET .../journal/2026-03/batch/earliest/{count} and .../batch/{offset}/next/{count}: a
  BatchResponseJournalFetchResponse whose results are JournalFetchResponse entries
  (`currentOffset` uuid, `url` of the entry's file, `expiresAt`), in journal order; an empty
  `results` when nothing follows the offset. The journal keeps 3 days (the guide).

The entry file's content is not declared by the spec. Modelled here (and parsed by
hubspot_app.lifecycle.journal) as a JSON list of events: `subscriptionType`, `action`, `portalId`, `appId`,
`occurredAt` (epoch ms), `eventId`. Only apps with an APP_LIFECYCLE_EVENT subscription get
lifecycle entries: the sandbox writes one per uninstall.
"""
from __future__ import annotations

import secrets
import time
import uuid

from flask import Response, request

from .errors import error, json_response

JOURNAL = "/webhooks-journal/journal/2026-03"
SUBSCRIPTIONS = "/webhooks-journal/subscriptions/2026-03"
APP_TOKEN_TTL = 1800
FILE_TTL = 300                     # a signed file URL works for 5 minutes
RETENTION_S = 3 * 24 * 3600        # "the past three days"
MAX_BATCH = 100
JOURNAL_SCOPE = "developer.webhooks_journal.read"
SUBSCRIPTION_SCOPES = ("developer.webhooks_journal.subscriptions.read",
                       "developer.webhooks_journal.subscriptions.write")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def client_credentials(st, client, form) -> Response:
    """The token endpoint's client_credentials grant (the caller has checked the client)."""
    scopes = [s for s in (form.get("scope") or "").split() if s]
    allowed = {JOURNAL_SCOPE, *SUBSCRIPTION_SCOPES}
    if not scopes or not set(scopes) <= allowed:
        return error(400, "BAD_SCOPES", f"scope must be some of {sorted(allowed)}",
                     error="invalid_scope", error_description="unknown or missing scope")
    token = "CC" + secrets.token_urlsafe(48)
    with st.lock:
        st.app_tokens[token] = {"client_id": client.client_id, "scopes": scopes,
                                "expires_at": st.clock.now() + APP_TOKEN_TTL}
    return json_response({"access_token": token, "expires_in": APP_TOKEN_TTL,
                          "token_type": "bearer", "token_use": "client_credentials",
                          "scopes": scopes})


def record_uninstall(st, client_id: str, hub_id: int) -> bool:
    """Journal an APP_UNINSTALL for the app when it subscribed to lifecycle events."""
    app = st.apps.get(client_id)
    if app is None or not any(s["subscriptionType"] == "APP_LIFECYCLE_EVENT"
                              for s in st.journal_subscriptions.get(client_id, [])):
        return False
    now = st.clock.now()
    event = {"eventId": str(uuid.uuid4()), "subscriptionType": "APP_LIFECYCLE_EVENT",
             "action": "APP_UNINSTALL", "portalId": hub_id, "appId": app.app_id,
             "occurredAt": int(now * 1000)}
    with st.lock:
        st.journal.setdefault(client_id, []).append(
            {"offset": str(uuid.uuid4()), "at": now, "events": [event]})
    return True


def register(app, st):
    st.app_tokens = {}
    st.journal = {}                 # client_id -> [{"offset", "at", "events"}], journal order
    st.journal_subscriptions = {}   # client_id -> [SubscriptionResponse]
    st.journal_files = {}           # file key -> (expires_at, events)

    def app_token(scope: str):
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        rec = st.app_tokens.get(token)
        if rec is None or rec["expires_at"] <= st.clock.now():
            return None, error(401, "error", "This API needs a client credentials token",
                               category="INVALID_AUTHENTICATION")
        if scope not in rec["scopes"]:
            return None, error(403, "error", f"This token lacks the {scope} scope",
                               category="MISSING_SCOPES", context={"requiredScopes": [scope]})
        return rec["client_id"], None

    @app.post(SUBSCRIPTIONS)
    def subscribe():
        client_id, refused = app_token(SUBSCRIPTION_SCOPES[1])
        if refused:
            return refused
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("subscriptionType") != "APP_LIFECYCLE_EVENT" \
                or not isinstance(body.get("eventTypeId"), str) \
                or not isinstance(body.get("properties"), list):
            return error(400, "error", "Only AppLifecycleEventSubscriptionUpsertRequest "
                         "(subscriptionType, eventTypeId, properties) is modelled here")
        now = _iso(st.clock.now())
        sub = {"id": len(st.journal_subscriptions.get(client_id, [])) + 1,
               "appId": st.apps[client_id].app_id, "subscriptionType": "APP_LIFECYCLE_EVENT",
               "actions": ["APP_INSTALL", "APP_UNINSTALL"], "objectTypeId": body["eventTypeId"],
               "properties": body["properties"], "createdAt": now, "updatedAt": now}
        with st.lock:
            st.journal_subscriptions.setdefault(client_id, []).append(sub)
        return json_response(sub)

    @app.get(SUBSCRIPTIONS)
    def subscriptions():
        client_id, refused = app_token(SUBSCRIPTION_SCOPES[0])
        if refused:
            return refused
        return json_response({"results": st.journal_subscriptions.get(client_id, [])})

    def batch(client_id: str, after: str | None, count: int) -> Response:
        if count < 1:
            return error(400, "error", "count must be at least 1")
        now = st.clock.now()
        with st.lock:
            entries = [e for e in st.journal.get(client_id, []) if e["at"] > now - RETENTION_S]
            start = 0
            if after is not None:
                index = next((i for i, e in enumerate(entries) if e["offset"] == after), None)
                if index is None:
                    return error(404, "error", f"offset {after} is not in the journal",
                                 category="OBJECT_NOT_FOUND")
                start = index + 1
            results = []
            for entry in entries[start:start + min(count, MAX_BATCH)]:
                key = secrets.token_urlsafe(24)
                st.journal_files[key] = (now + FILE_TTL, entry["events"])
                results.append({"currentOffset": entry["offset"], "expiresAt": _iso(now + FILE_TTL),
                                "url": f"{request.host_url.rstrip('/')}/_journal-files/{key}.json"})
        stamp = _iso(now)
        return json_response({"status": "COMPLETE", "results": results, "requestedAt": stamp,
                              "startedAt": stamp, "completedAt": stamp})

    @app.get(f"{JOURNAL}/batch/earliest/<int:count>")
    def batch_earliest(count):
        client_id, refused = app_token(JOURNAL_SCOPE)
        return refused or batch(client_id, None, count)

    @app.get(f"{JOURNAL}/batch/<offset>/next/<int:count>")
    def batch_next(offset, count):
        client_id, refused = app_token(JOURNAL_SCOPE)
        return refused or batch(client_id, offset, count)

    @app.get("/_journal-files/<key>.json")
    def journal_file(key):
        """The entry's file behind its signed URL: no Authorization (a presigned S3 URL)."""
        if request.headers.get("Authorization"):
            return Response("<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                            "allowed</Message></Error>", status=400, mimetype="application/xml")
        found = st.journal_files.get(key)
        if found is None or found[0] <= st.clock.now():
            return Response("<Error><Code>AccessDenied</Code><Message>Request has expired"
                            "</Message></Error>", status=403, mimetype="application/xml")
        return json_response(found[1])

