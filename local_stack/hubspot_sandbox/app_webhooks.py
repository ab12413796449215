"""What HubSpot sends an app when an account uninstalls it: a v3-signed webhook request.

The app's webhook URL is part of its registration (as in HubSpot's app settings). The
signature is computed here independently of the app's verifier, so the pair is a real check:
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

UNINSTALL_EVENT = "app.uninstalled"


def sign_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    message = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def uninstall_event(hub_id: int, app_id: int, occurred_at_ms: int) -> dict:
    return {"eventId": uuid.uuid4().int % 10**12, "subscriptionId": 0, "portalId": hub_id,
            "appId": app_id, "occurredAt": occurred_at_ms, "subscriptionType": UNINSTALL_EVENT,
            "attemptNumber": 0}


def send_uninstall(app, hub_id: int) -> dict:
    """POST the uninstall event to the app's webhook URL; returns what happened (never raises)."""
    now_ms = int(time.time() * 1000)
    body = json.dumps([uninstall_event(hub_id, app.app_id, now_ms)]).encode()
    headers = {"Content-Type": "application/json",
               "X-HubSpot-Request-Timestamp": str(now_ms),
               "X-HubSpot-Signature-v3": sign_v3(app.client_secret, "POST", app.webhook_url,
                                                 body, now_ms)}
    try:
        answer = requests.post(app.webhook_url, data=body, headers=headers, timeout=10)
        return {"url": app.webhook_url, "status": answer.status_code}
    except requests.RequestException as exc:
        return {"url": app.webhook_url, "status": None, "error": type(exc).__name__}
