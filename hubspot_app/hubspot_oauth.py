"""HubSpot's OAuth endpoints: authorize URL with PKCE, code exchange, refresh, introspection.

Talks to the 2026-03 endpoints (parameters in the body). The v1 endpoints shut down on
2027-02-16; until then they are a configurable fallback used only when a 2026-03 endpoint
answers 404 (not deployed where we talk to), never to retry a refused grant.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from .secrets_store import AppCredentials


class HubSpotOAuthError(Exception):
    """HubSpot refused the request. `code` is HubSpot's `status` (e.g. BAD_AUTH_CODE)."""

    def __init__(self, message: str, code: str = "", http_status: int = 0):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class InvalidGrant(HubSpotOAuthError):
    """The code or refresh token is unknown, used, expired or revoked: retrying cannot help."""


class ClientConfigError(HubSpotOAuthError):
    """HubSpot does not accept our client id, secret or redirect URI: an operator must fix config."""


class HubSpotUnavailable(HubSpotOAuthError):
    """Network error, timeout, 429 or 5xx: worth trying again later."""


_INVALID_GRANT = {"BAD_AUTH_CODE", "BAD_REFRESH_TOKEN", "EXPIRED_AUTH_CODE", "invalid_grant"}
_CLIENT_CONFIG = {"BAD_CLIENT_ID", "BAD_CLIENT_SECRET", "BAD_REDIRECT_URI", "invalid_client",
                  "unauthorized_client", "invalid_request"}


@dataclass(frozen=True, repr=False)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"TokenSet(expires_in={self.expires_in}, tokens='***')"


@dataclass(frozen=True)
class TokenInfo:
    """What introspection tells about an access token: the account it belongs to."""
    hub_id: int
    user: str
    user_id: int | None
    hub_domain: str | None
    scopes: tuple[str, ...]


def make_pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(base_url: str, client_id: str, redirect_uri: str, scopes: tuple[str, ...],
                  optional_scopes: tuple[str, ...], state: str, code_challenge: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if optional_scopes:
        params["optional_scope"] = " ".join(optional_scopes)
    return f"{base_url}?{urlencode(params)}"


class HubSpotOAuthClient:
    def __init__(self, api_url: str, credentials: AppCredentials, token_api: str = "2026-03",
                 v1_fallback: bool = True, timeout: float = 10.0,
                 session: requests.Session | None = None):
        self.api_url = api_url.rstrip("/")
        self.credentials = credentials
        self.token_api = token_api
        self.v1_fallback = v1_fallback
        self.timeout = timeout
        self.http = session or requests.Session()

    # -- grants -------------------------------------------------------------------------
    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token(form)

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, form: dict) -> TokenSet:
        form = {**form, "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret}
        body = self._with_fallback(
            lambda: self._call("POST", "/oauth/2026-03/token", data=form),
            lambda: self._call("POST", "/oauth/v1/token", data=form),
        )
        try:
            return TokenSet(access_token=body["access_token"],
                            refresh_token=body.get("refresh_token") or form.get("refresh_token", ""),
                            expires_in=int(body.get("expires_in", 1800)))
        except (KeyError, TypeError, ValueError) as exc:
            raise HubSpotUnavailable("HubSpot's token answer had no access_token") from exc

    # -- metadata -----------------------------------------------------------------------
    def introspect(self, access_token: str) -> TokenInfo:
        form = {"token": access_token, "token_type_hint": "access_token",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret}
        body = self._with_fallback(
            lambda: self._call("POST", "/oauth/2026-03/token/introspect", data=form),
            lambda: self._call("GET", f"/oauth/v1/access-tokens/{access_token}"),
        )
        if body.get("active") is False:
            raise InvalidGrant("HubSpot says the access token is not active", "inactive", 200)
        try:
            scopes = body.get("scopes") or body.get("scope") or []
            if isinstance(scopes, str):
                scopes = scopes.split()
            user_id = body.get("user_id")
            return TokenInfo(hub_id=int(body["hub_id"]), user=str(body["user"]),
                             user_id=int(user_id) if user_id is not None else None,
                             hub_domain=body.get("hub_domain"), scopes=tuple(scopes))
        except (KeyError, TypeError, ValueError) as exc:
            raise HubSpotUnavailable("HubSpot's introspection answer lacked hub_id or user") from exc

    def revoke(self, refresh_token: str) -> None:
        form = {"token": refresh_token, "token_type_hint": "refresh_token",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret}
        self._with_fallback(
            lambda: self._call("POST", "/oauth/2026-03/token/revoke", data=form),
            lambda: self._call("DELETE", f"/oauth/v1/refresh-tokens/{refresh_token}"),
        )

    # -- transport ----------------------------------------------------------------------
    def _with_fallback(self, current, v1):
        if self.token_api == "v1":
            return v1()
        try:
            return current()
        except HubSpotOAuthError as exc:
            if exc.http_status == 404 and self.v1_fallback:
                return v1()
            raise

    def _call(self, method: str, path: str, data: dict | None = None) -> dict:
        try:
            response = self.http.request(method, self.api_url + path, data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception text can hold the URL (v1 puts tokens in paths): keep only its type.
            raise HubSpotUnavailable(f"HubSpot unreachable ({type(exc).__name__})") from None
        if response.status_code == 204 or (response.ok and not response.content):
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and isinstance(body, dict):
            return body
        return self._raise_for(response.status_code, body if isinstance(body, dict) else {})

    @staticmethod
    def _raise_for(http_status: int, body: dict):
        code = str(body.get("status") or body.get("error") or body.get("category") or "")
        message = str(body.get("message") or body.get("error_description") or f"HTTP {http_status}")
        text = f"HubSpot answered {http_status} {code}: {message}"
        if http_status == 429 or http_status >= 500 or (200 <= http_status < 300):
            raise HubSpotUnavailable(text, code, http_status)
        if code in _INVALID_GRANT or body.get("error") in _INVALID_GRANT:
            raise InvalidGrant(text, code, http_status)
        if code in _CLIENT_CONFIG or http_status == 401:
            raise ClientConfigError(text, code, http_status)
        raise HubSpotOAuthError(text, code, http_status)
