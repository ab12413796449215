"""Webhooks HubSpot really sends a (legacy public) app: v3-signed POSTs of CRM events such as
`contact.creation` to the app's webhook URL. HubSpot sends no app-uninstall webhook: uninstalls
reach an app through the webhooks journal (journal.py) and refused refresh tokens.

The signature is computed here independently of the app's verifier, so the pair is a real check:
base64(HMAC-SHA256(client_secret, method + uri + body + timestamp)), timestamp in epoch ms.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import requests

# The v3 webhooks' CRM subscription types (webhooks API guide, 2026-03); the sandbox sends these.
CRM_EVENT_TYPES = frozenset({"contact.creation", "contact.deletion", "contact.propertyChange",
                             "company.creation", "company.deletion", "deal.creation",
                             "deal.deletion"})


def sign_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    message = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def crm_event(hub_id: int, app_id: int, subscription_type: str, object_id: int,
              occurred_at_ms: int) -> dict:
    if subscription_type not in CRM_EVENT_TYPES:
        raise ValueError(f"subscriptionType must be one of {sorted(CRM_EVENT_TYPES)}")
    return {"eventId": uuid.uuid4().int % 10**12, "subscriptionId": 1, "portalId": hub_id,
            "appId": app_id, "occurredAt": occurred_at_ms, "subscriptionType": subscription_type,
            "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM"}


def send_events(app, events: list[dict]) -> dict:
    """POST signed events to the app's webhook URL; returns what happened (never raises)."""
    now_ms = int(time.time() * 1000)
    body = json.dumps(events).encode()
    headers = {"Content-Type": "application/json",
               "X-HubSpot-Request-Timestamp": str(now_ms),
               "X-HubSpot-Signature-v3": sign_v3(app.client_secret, "POST", app.webhook_url,
                                                 body, now_ms)}
    try:
        answer = requests.post(app.webhook_url, data=body, headers=headers, timeout=10)
        return {"url": app.webhook_url, "status": answer.status_code}
    except requests.RequestException as exc:
        return {"url": app.webhook_url, "status": None, "error": type(exc).__name__}
