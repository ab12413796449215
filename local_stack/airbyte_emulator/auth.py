"""Bearer-token auth as Airbyte's public API does it.

Clients either send a long-lived token configured on the emulator (like a pasted API key) or
trade an application's client_id/client_secret at `POST /v1/applications/token` for a
short-lived access token (Airbyte's live for minutes, so clients must refresh on 401; the TTL
here is configurable so tests can watch a token expire).
"""
from __future__ import annotations

import secrets
import threading
import time

from . import problems


class Auth:
    def __init__(self, api_tokens=(), clients: dict | None = None, token_ttl_s: float = 180.0,
                 required: bool = True):
        self.api_tokens = set(api_tokens)
        self.clients = dict(clients or {})
        self.token_ttl_s = token_ttl_s
        self.required = required
        self._issued: dict[str, float] = {}  # access token -> expiry (monotonic seconds)
        self._lock = threading.Lock()

    def issue(self, body: dict) -> dict:
        grant = body.get("grant_type", body.get("grant-type", "client_credentials"))
        if grant != "client_credentials":
            raise problems.bad_request(f"grant_type: unsupported value {grant!r}")
        cid, secret = body.get("client_id"), body.get("client_secret")
        if not cid or not secret:
            raise problems.bad_request("client_id and client_secret are required")
        if not secrets.compare_digest(self.clients.get(cid, "\0"), str(secret)):
            raise problems.invalid_api_key()
        token = "emu_" + secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            # Drop expired tokens so a long benchmark does not grow this dict without bound.
            for t in [t for t, exp in self._issued.items() if exp < now]:
                del self._issued[t]
            self._issued[token] = now + self.token_ttl_s
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl_s)}

    def expire_all(self) -> None:
        """Expire every issued access token now (tests of clients' refresh on 401)."""
        with self._lock:
            self._issued.clear()

    def check(self, header: str | None) -> None:
        if not self.required:
            return
        if not header or not header.lower().startswith("bearer "):
            raise problems.invalid_api_key()
        token = header[7:].strip()
        if token in self.api_tokens:
            return
        with self._lock:
            exp = self._issued.get(token)
        if exp is None or exp < time.monotonic():
            raise problems.invalid_api_key()
