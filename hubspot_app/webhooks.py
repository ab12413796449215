"""HubSpot-signed requests (webhooks): signature v3, a 5-minute window, and no replays.

HubSpot signs with the app's client secret:
    X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client_secret,
                                                method + uri + body + X-HubSpot-Request-Timestamp))
where `uri` is the full URL HubSpot called (scheme, host, path, query) with a few URL-encoded
characters decoded, and the timestamp is in epoch milliseconds. A request older than 5 minutes
is refused. A signature seen before is refused too (a DynamoDB item per signature, kept a little
longer than the window by TTL, written with a conditional put), so a captured request cannot be
replayed inside the window either.

The URI is *not* taken from the Host header (a client controls it): it is the configured public
URL of the route (`HUBSPOT_WEBHOOK_URL`), or the origin of `HUBSPOT_REDIRECT_URI` plus the path.

HubSpot sends no app-uninstall webhook (uninstalls come from the webhooks journal, see
hubspot_app.lifecycle.journal, and from refused refresh tokens): the events HubSpot really sends here
(CRM subscriptions such as `contact.creation`) are verified, checked to be our app's
(`HUBSPOT_APP_ID`; another app's events are refused) and acknowledged. Nothing else acts on them.
A body that cannot be parsed safely (not JSON, or nested deep enough to exhaust the parser) is a
400 with a JSON error, never a 5xx (HubSpot would retry it).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from hubspot_app import logs

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE_MS = 5 * 60 * 1000
MAX_FUTURE_MS = 60 * 1000          # clock skew allowed the other way
MAX_BODY_BYTES = 1_000_000

# HubSpot decodes these in the URI before signing.
_URI_DECODES = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
                "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


class WebhookRejected(Exception):
    """The request is not a fresh, authentic HubSpot request. `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class ReplayStore(Protocol):
    def remember(self, key: str, ttl_seconds: int) -> bool:
        """Record `key`; False if it was already recorded (a replay)."""


class MemoryReplayStore:
    """For tests and single-process tools."""

    def __init__(self):
        self.seen: dict[str, float] = {}

    def remember(self, key: str, ttl_seconds: int) -> bool:
        now = time.time()
        if self.seen.get(key, 0) > now:
            return False
        self.seen[key] = now + ttl_seconds
        return True


class DynamoReplayStore:
    """One item per signature in the webhook receipts table; TTL removes it after the window."""

    def remember(self, key: str, ttl_seconds: int) -> bool:
        from datetime import timedelta

        from pynamodb.exceptions import PutError

        from hubspot_app.models import WebhookReceipt, condition_failed, utcnow

        try:
            WebhookReceipt(key=key, expires_at=utcnow() + timedelta(seconds=ttl_seconds)).save(
                condition=WebhookReceipt.key.does_not_exist())
            return True
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise


def normalise_uri(uri: str) -> str:
    for encoded, plain in _URI_DECODES.items():
        uri = uri.replace(encoded, plain).replace(encoded.lower(), plain)
    return uri


def sign_v3(client_secret: str, method: str, uri: str, body: bytes | str, timestamp_ms: int | str) -> str:
    """HubSpot's v3 signature (also what tests and the local tools use to send signed requests)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    message = f"{method.upper()}{normalise_uri(uri)}{body}{timestamp_ms}".encode()
    digest = hmac.new(client_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v3(client_secret: str, method: str, uri: str, body: bytes, headers: dict,
              replay_store: ReplayStore, now_ms: int | None = None) -> None:
    """Raise WebhookRejected unless the request is signed, fresh and new."""
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    signature = lowered.get(SIGNATURE_HEADER)
    timestamp = lowered.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRejected(401, "missing_signature")
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        raise WebhookRejected(401, "bad_timestamp") from None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms - ts > MAX_AGE_MS:
        raise WebhookRejected(401, "stale_timestamp")
    if ts - now_ms > MAX_FUTURE_MS:
        raise WebhookRejected(401, "future_timestamp")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "body_too_large")
    try:
        expected = sign_v3(client_secret, method, uri, body, str(timestamp).strip())
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body_not_utf8") from None
    given = signature_bytes(signature)
    if given is None or not hmac.compare_digest(base64.b64decode(expected), given):
        raise WebhookRejected(401, "bad_signature")
    # Only an authentic signature is recorded, so garbage cannot fill the table. The key is
    # made from the decoded HMAC, so other padding or spacing of the same signature is a replay.
    key = hashlib.sha256(f"{ts}:".encode() + given).hexdigest()
    if not replay_store.remember(key, ttl_seconds=(MAX_AGE_MS + MAX_FUTURE_MS) // 1000 + 60):
        raise WebhookRejected(409, "replayed_signature")


def signature_bytes(signature: str) -> bytes | None:
    """The HMAC a v3 signature header carries (base64, padding and URL-safe letters tolerated),
    or None when it is not 32 bytes of base64."""
    text = "".join(str(signature).split()).replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == hashlib.sha256().digest_size else None


def public_uri(webhook_url: str, query_params: dict | None, raw_query: str | None = None) -> str:
    """The URI HubSpot signed: the configured URL of the route with the query string exactly as
    HubSpot sent it. With the event's raw query string (`rawQueryString`), that string verbatim;
    without one (API Gateway REST proxy events carry only decoded parameters), the parameters
    must be exactly the configured URL's, whose query is then used as written: re-encoding
    decoded parameters would sign another string than HubSpot did."""
    base = webhook_url.split("?", 1)[0]
    if raw_query is not None:
        return f"{base}?{raw_query}" if raw_query else base
    expected = sorted(parse_qsl(urlsplit(webhook_url).query, keep_blank_values=True))
    received = sorted((str(k), str(v)) for k, vs in (query_params or {}).items()
                      for v in (vs if isinstance(vs, list) else [vs]))
    if received != expected:
        raise WebhookRejected(401, "unexpected_query_string")
    return webhook_url


def parse_events(body: bytes, app_id: str = "") -> list[dict]:
    """The verified body's events. Raises WebhookRejected: 400 when it is not a JSON list of
    event objects (deep nesting included), 403 when an event names another app."""
    try:
        events = json.loads(body or b"null")
    except (ValueError, RecursionError):
        # RecursionError: nesting deep enough to exhaust the parser is a bad request (400).
        raise WebhookRejected(400, "body_not_json") from None
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise WebhookRejected(400, "body_not_event_list")
    if app_id and any(str(e.get("appId", "")) != str(app_id) for e in events):
        raise WebhookRejected(403, "event_for_another_app")
    return events


def handle_webhook(method: str, headers: dict, body: bytes, query_params: dict | None,
                   client_secret: str, webhook_url: str, app_id: str,
                   replay_store: ReplayStore | None = None,
                   raw_query: str | None = None) -> tuple[int, dict]:
    """Verify and acknowledge one webhook request: (HTTP status, JSON body). Never raises."""
    from hubspot_app.metrics import emit_metric

    replay_store = replay_store or DynamoReplayStore()
    try:
        verify_v3(client_secret, method, public_uri(webhook_url, query_params, raw_query),
                  body or b"", headers, replay_store)
        events = parse_events(body, app_id)
    except WebhookRejected as exc:
        logs.log_event(log, "webhook refused", logging.WARNING, reason=exc.reason, status=exc.status)
        emit_metric("WebhooksRefused", 1, "Count", Reason=exc.reason)
        return exc.status, {"error": exc.reason}
    kinds = sorted({str(e.get("subscriptionType", ""))[:64] for e in events})
    logs.log_event(log, "webhook acknowledged", events=len(events), kinds=kinds)
    emit_metric("WebhooksAccepted", 1, "Count")
    return 200, {"accepted": len(events)}
