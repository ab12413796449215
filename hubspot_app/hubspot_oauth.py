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
from typing import cast
from urllib.parse import urlencode

import requests

from hubspot_app.errors import Transient
from hubspot_app.secrets_store import AppCredentials


class HubSpotOAuthError(Exception):
    """HubSpot refused the request. `code` is HubSpot's code (e.g. BAD_AUTH_CODE, invalid_grant)."""

    def __init__(self, message: str, code: str = "", http_status: int = 0):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class InvalidGrant(HubSpotOAuthError):
    """The code or refresh token is unknown, used, expired or revoked: retrying cannot help."""


class ClientConfigError(HubSpotOAuthError):
    """HubSpot does not accept our client id, secret or redirect URI: an operator must fix config."""


class HubSpotUnavailable(HubSpotOAuthError, Transient):
    """Network error, timeout, 429 or 5xx: worth trying again later."""


class HubSpotBadAnswer(HubSpotOAuthError):
    """HubSpot answered 2xx with a body that is not what its OpenAPI document declares (a missing
    required field, a wrong type, a hub_id out of range): nothing is stored from it."""


# How HubSpot says no. Two shapes reach us from the token endpoints:
# - the OpenAPI `Error` schema (PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json,
#   components.schemas.Error: required `category`, `correlationId`, `message`; optional
#   `subCategory`, `errors[].code`, `context`);
# - the changelog's RFC 6749 fields kept beside HubSpot's own (`status`, `message`, `error`,
#   `error_description`; developers.hubspot.com/changelog/new-oauth-v3-api-endpoints-and-
#   standardized-error-responses).
# A refusal (retrying cannot help; the token health check acts on it) is named by the RFC
# `error`, HubSpot's `status`, or a token-naming `subCategory`/`errors[].code` in the Error shape.
# 429, 408 and 5xx are transient whatever the body says. Anything else is not proof of a dead
# token: a plain HubSpotOAuthError, which the health check retries and the install reports.
_REFUSED = {"invalid_grant", "BAD_AUTH_CODE", "BAD_REFRESH_TOKEN", "EXPIRED_AUTH_CODE"}
_CLIENT_CONFIG = {"invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
                  "invalid_request", "BAD_CLIENT_ID", "BAD_CLIENT_SECRET", "BAD_REDIRECT_URI",
                  "BAD_GRANT_TYPE", "BAD_SCOPE"}
_TOKEN_WORDS = ("TOKEN", "GRANT", "AUTH_CODE", "AUTHORIZATION_CODE")


def classify_error(http_status: int, body: dict) -> HubSpotOAuthError:
    """The exception for a non-2xx answer of an OAuth endpoint (see the shapes above)."""
    def text(key: str) -> str:
        value = body.get(key)
        return value if isinstance(value, str) else ""

    rfc, status, category, sub = text("error"), text("status"), text("category"), text("subCategory")
    details = [d.get("code") for d in body.get("errors") or [] if isinstance(d, dict)] \
        if isinstance(body.get("errors"), list) else []
    detail_codes = [c for c in details if isinstance(c, str)]
    code = status or rfc or sub or category   # HubSpot's own code is the more specific
    message = text("message") or text("error_description") or f"HTTP {http_status}"
    said = f"HubSpot answered {http_status} {code}: {message}"[:300]
    if http_status in (408, 429) or http_status >= 500 or category == "RATE_LIMITS":
        return HubSpotUnavailable(said, code, http_status)
    if rfc in _REFUSED or (not rfc and status in _REFUSED):
        return InvalidGrant(said, code, http_status)
    if rfc in _CLIENT_CONFIG or (not rfc and status in _CLIENT_CONFIG):
        return ClientConfigError(said, code, http_status)
    if not rfc and not status and any(w in c.upper() for c in [sub, *detail_codes] for w in _TOKEN_WORDS):
        return InvalidGrant(said, sub or detail_codes[0], http_status)
    if http_status == 401 or category == "INVALID_AUTHENTICATION":
        return ClientConfigError(said, code, http_status)
    return HubSpotOAuthError(said, code, http_status)


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
    user: str | None                 # optional in HubSpot's schema
    user_id: int | None
    hub_domain: str | None
    scopes: tuple[str, ...]
    app_id: int | None = None
    client_id: str | None = None


# Introspection answers, as the OpenAPI documents declare them (required fields, then the type
# of every field we may read). 2026-03: PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/
# oauth.json, PublicAccessTokenInfoResponse; v1: PublicApiSpecs/Auth/Oauth/Rollouts/155908/v1/
# oauth.json, AccessTokenInfoResponse. `user` and `hub_domain` are optional in both.
_INTROSPECT_REQUIRED = {
    "2026-03": ("active", "app_id", "client_id", "expires_in", "hub_id", "is_private_distribution",
                "scopes", "signed_access_token", "token", "token_type", "token_use", "user_id"),
    "v1": ("app_id", "expires_in", "hub_id", "scopes", "token", "token_type", "user_id"),
}
_INT, _STR, _BOOL, _OBJ = "integer", "string", "boolean", "object"
_INTROSPECT_TYPES = {"active": _BOOL, "app_id": _INT, "client_id": _STR, "expires_in": _INT,
                     "hub_domain": _STR, "is_private_distribution": _BOOL, "signed_access_token": _OBJ,
                     "token": _STR, "token_type": _STR, "token_use": _STR, "user": _STR,
                     "user_id": _INT}


def _is(value, kind: str) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    return isinstance(value, dict)


def parse_token_info(body: object, api: str = "2026-03", client_id: str | None = None) -> TokenInfo:
    """The one parser of introspection answers (every entry point gets TokenInfo from here).

    Raises InvalidGrant for an inactive token or one issued to another app, HubSpotBadAnswer for
    an answer that is not what the spec declares."""
    from hubspot_app.hub_ids import InvalidHubId, parse_hub_id

    if not isinstance(body, dict):
        raise HubSpotBadAnswer("HubSpot's introspection answer is not a JSON object", "", 200)
    if body.get("active") is False:
        raise InvalidGrant("HubSpot says the access token is not active", "inactive", 200)
    missing = [f for f in _INTROSPECT_REQUIRED[api] if body.get(f) is None]
    if missing:
        raise HubSpotBadAnswer(f"HubSpot's introspection answer lacks {', '.join(missing)}", "", 200)
    wrong = [f for f, kind in _INTROSPECT_TYPES.items() if body.get(f) is not None and not _is(body[f], kind)]
    scopes = body["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
        wrong.append("scopes")
    if api == "2026-03" and body.get("active") is not True:
        wrong.append("active")
    if body.get("token_use") not in (None, "access_token"):
        wrong.append("token_use")
    if wrong:
        raise HubSpotBadAnswer(f"HubSpot's introspection answer has a wrong type for {', '.join(wrong)}",
                               "", 200)
    try:
        hub_id = parse_hub_id(body["hub_id"])
    except InvalidHubId as exc:
        raise HubSpotBadAnswer(f"HubSpot's introspection answer has an unusable hub_id ({exc})",
                               "", 200) from None
    if client_id and body.get("client_id") not in (None, client_id):
        raise InvalidGrant("the access token was issued to another app", "other_app", 200)
    return TokenInfo(hub_id=hub_id, user=body.get("user"), user_id=body["user_id"],
                     hub_domain=body.get("hub_domain"), scopes=tuple(scopes),
                     app_id=body["app_id"], client_id=body.get("client_id"))


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
        # AccessTokenResponse (2026-03 and v1 oauth.json): access_token, expires_in, refresh_token,
        # token_type and token_use are required.
        token, refresh, expires = body.get("access_token"), body.get("refresh_token"), body.get("expires_in")
        if not (isinstance(token, str) and token and isinstance(refresh, str) and refresh
                and _is(expires, _INT) and isinstance(body.get("token_type"), str)
                and body.get("token_use") == "access_token"):
            raise HubSpotBadAnswer("HubSpot's token answer is not an AccessTokenResponse", "", 200)
        return TokenSet(access_token=token, refresh_token=refresh, expires_in=int(expires))

    # -- metadata -----------------------------------------------------------------------
    def introspect(self, access_token: str) -> TokenInfo:
        form = {"token": access_token, "token_type_hint": "access_token",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret}
        used = {"api": self.token_api}

        def v1():
            used["api"] = "v1"
            return self._call("GET", f"/oauth/v1/access-tokens/{access_token}")

        body = self._with_fallback(
            lambda: self._call("POST", "/oauth/2026-03/token/introspect", data=form), v1)
        return parse_token_info(body, "v1" if used["api"] == "v1" else "2026-03",
                                self.credentials.client_id)

    def client_credentials_token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        """(access token, seconds it lives) of the app itself, for the webhooks journal
        (grant_type=client_credentials; 2026-03 oauth.json, ClientCredentialsTokenResponse)."""
        form = {"grant_type": "client_credentials", "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret, "scope": " ".join(scopes)}
        body = self._call("POST", "/oauth/2026-03/token", data=form)
        token, expires = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not _is(expires, _INT) or \
                body.get("token_use") != "client_credentials" or not isinstance(body.get("token_type"), str):
            raise HubSpotBadAnswer("HubSpot's client-credentials answer is not a "
                                   "ClientCredentialsTokenResponse", "", 200)
        return token, int(cast(int, expires))  # _is(expires, _INT) checked it

    def uninstall_app(self, access_token: str) -> None:
        """Uninstall the app from the account the access token belongs to: 204 on success
        (PublicApiSpecs/CRM/App Uninstalls/Rollouts/209039/2026-03/appUninstalls.json,
        DELETE /appinstalls/2026-03/external-install, the account's OAuth token)."""
        self._call("DELETE", "/appinstalls/2026-03/external-install",
                   headers={"Authorization": f"Bearer {access_token}"})

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

    def _call(self, method: str, path: str, data: dict | None = None,
              headers: dict | None = None) -> dict:
        try:
            response = self.http.request(method, self.api_url + path, data=data, headers=headers,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception text can hold the URL (v1 puts tokens in paths): keep only its type.
            raise HubSpotUnavailable(f"HubSpot unreachable ({type(exc).__name__})") from None
        if response.status_code == 204 or (response.ok and not response.content):
            return {}
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        if response.ok and isinstance(body, dict):
            return body
        if response.ok:
            raise HubSpotBadAnswer(f"HubSpot answered {response.status_code} without a JSON object",
                                   "", response.status_code)
        raise classify_error(response.status_code, body if isinstance(body, dict) else {})
