"""The install `state`, carried signed in the browser's cookie instead of stored per request.

`/install` stores nothing, so a flood of it writes no item: it makes a random state, signs
(state, expiry) with a key derived from the HubSpot app's client secret and puts that in an
HttpOnly cookie scoped to the callback. The callback trusts the state only if the cookie's
signature holds, it has not expired and its state is the one HubSpot sent back (the browser
binding: another browser has no cookie, or one for another state); only then does it write one
mark, with a conditional put, so each state works once (hubspot_app.install).

The PKCE verifier is never stored or sent to the browser: it is derived from the state with the
same key, so the callback can recompute it and nobody without the key can.

HubSpot returns `state` unchanged on the redirect ("a unique string value that can be used to
maintain the user's state when they're redirected back to your app": the OAuth quickstart,
https://developers.hubspot.com/docs/apps/legacy-apps/authentication/oauth-quickstart-guide),
and its token endpoint takes `code_verifier` with the code
(https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/refresh-oauth-token).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

COOKIE_NAME = "hs_install"
_VERSION = "v1"
# Key separation: the client secret also signs HubSpot's webhooks and authenticates the app at
# the token endpoint; the state key is an HMAC of it under a label used for nothing else.
_KEY_LABEL = b"hubspot-pipeline/install-state/v1"
_STATE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")       # secrets.token_urlsafe(32)
_MAC_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")         # base64url of a SHA-256 HMAC, unpadded


class StateRefused(Exception):
    """The cookie does not carry a state this app issued and that is still valid for this request.
    `reason` is one of bad_cookie, wrong_browser, expired_state (for logs, metrics and the page)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InstallState:
    state: str
    expires_at: int        # epoch seconds


def signing_key(client_secret: str) -> bytes:
    return hmac.new(client_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(key: bytes, state: str, expires_at: int) -> str:
    return _b64(hmac.new(key, f"state|{_VERSION}|{state}|{expires_at}".encode(), hashlib.sha256).digest())


def new_state(key: bytes, ttl_seconds: int, now: float) -> tuple[InstallState, str]:
    """A fresh state and the cookie value that carries it."""
    item = InstallState(secrets.token_urlsafe(32), int(now) + ttl_seconds)
    return item, f"{_VERSION}.{item.state}.{item.expires_at}.{_mac(key, item.state, item.expires_at)}"


def code_verifier(key: bytes, state: str) -> str:
    # RFC 7636 §4.1: 43-128 characters of [A-Za-z0-9-._~]; 64 HMAC bytes give 86.
    return _b64(hmac.new(key, f"pkce|{_VERSION}|{state}".encode(), hashlib.sha512).digest())


def code_challenge(verifier: str) -> str:
    """S256 (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def read_state(cookie_value: str, url_state: str, key: bytes, now: float) -> InstallState:
    """The cookie's state if this app signed it, it is `url_state` and it has not expired."""
    parts = cookie_value.split(".")
    if (len(parts) != 4 or parts[0] != _VERSION or not _STATE_RE.match(parts[1])
            or not parts[2].isdigit() or len(parts[2]) > 12 or not _MAC_RE.match(parts[3])):
        raise StateRefused("bad_cookie")
    item = InstallState(parts[1], int(parts[2]))
    if not hmac.compare_digest(parts[3], _mac(key, item.state, item.expires_at)):
        raise StateRefused("bad_cookie")
    if not hmac.compare_digest(item.state.encode(), url_state.encode()):
        raise StateRefused("wrong_browser")
    if item.expires_at <= now:
        raise StateRefused("expired_state")
    return item
