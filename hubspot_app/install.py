"""The OAuth install: /install starts it, /oauth/callback completes it.

Plain functions over the settings and the AWS/HubSpot clients; app.py only adapts them to
Chalice. A callback either stores the account and queues its provisioning, or stores nothing
and answers a 4xx page that says what to do.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from http.cookies import SimpleCookie

from pynamodb.exceptions import DoesNotExist, UpdateError

from . import logs, queues
from .config import Settings
from .hubspot_oauth import (
    ClientConfigError,
    HubSpotBadAnswer,
    HubSpotOAuthClient,
    HubSpotOAuthError,
    HubSpotUnavailable,
    InvalidGrant,
    authorize_url,
    make_pkce_pair,
)
from .metrics import emit_metric
from .models import Account, AccountStatus, OAuthState, bind_tables, utcnow
from .pages import Page, error_page, success_page
from .secrets_store import get_app_credentials
from .token_crypto import encrypt_token
from .tracing import subsegment

COOKIE_NAME = "hs_install"
CALLBACK_PATH = "/oauth/callback"
log = logging.getLogger(__name__)


class InstallError(Exception):
    """A callback that cannot complete; `reason` is for logs and metrics, the rest for people."""

    def __init__(self, status: int, reason: str, title: str, detail: str):
        super().__init__(reason)
        self.status, self.reason, self.title, self.detail = status, reason, title, detail

    def page(self) -> Page:
        return error_page(self.status, self.title, self.detail)


_RESTART = "Start the install again from the HubSpot marketplace or the link below."


def _browser_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _cookie_header(value: str, settings: Settings, max_age: int) -> str:
    flags = "; Secure" if settings.cookie_secure else ""
    # Path limited to the callback; Lax so it is sent on HubSpot's top-level redirect back.
    return f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax{flags}"


def read_cookie(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # noqa: BLE001 - http.cookies raises several types on a malformed header
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel else None


# -- GET /install -------------------------------------------------------------------------
def start_install(settings: Settings) -> Page:
    """Create a one-time state bound to this browser and send it to HubSpot's consent page."""
    bind_tables(settings.accounts_table, settings.states_table)
    creds = get_app_credentials(settings.app_secret_name)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, challenge = make_pkce_pair()
    OAuthState(state=state, browser_hash=_browser_hash(nonce), code_verifier=verifier,
               expires_at=utcnow() + timedelta(seconds=settings.state_ttl_seconds)
               ).save(condition=OAuthState.state.does_not_exist())
    location = authorize_url(settings.hubspot_authorize_url, creds.client_id, settings.redirect_uri,
                             settings.hubspot_scopes, settings.hubspot_optional_scopes, state,
                             challenge)
    logs.log_event(log, "install started")
    return Page(302, "", {"Location": location,
                          "Set-Cookie": _cookie_header(nonce, settings, settings.state_ttl_seconds)})


# -- GET /oauth/callback ------------------------------------------------------------------
def consume_state(state: str | None, browser_nonce: str | None) -> OAuthState:
    """Mark the state used, atomically, if it is known, unexpired, unused and this browser's."""
    if not state:
        raise InstallError(400, "missing_state", "This link is incomplete",
                           f"The request has no install state. {_RESTART}")
    if not browser_nonce:
        raise InstallError(400, "missing_cookie", "Install started in another browser",
                           f"Finish the install in the browser where you started it. {_RESTART}")
    now = utcnow()
    item = OAuthState(state=state)
    try:
        item.update(actions=[OAuthState.used.set(True)],
                    condition=(OAuthState.state.exists() & (OAuthState.used == False)  # noqa: E712 - a pynamodb condition, not a comparison
                               & (OAuthState.browser_hash == _browser_hash(browser_nonce))
                               & (OAuthState.expires_at > now)))
        return item
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", "") != "ConditionalCheckFailedException":
            raise
    # The condition failed: find out which way, to say it plainly.
    try:
        known = OAuthState.get(state)
    except DoesNotExist:
        known = None
    if known is None:
        raise InstallError(400, "unknown_state", "This install link is not valid",
                           f"We do not recognise this install request. {_RESTART}")
    if known.browser_hash != _browser_hash(browser_nonce):
        raise InstallError(400, "wrong_browser", "Install started in another browser",
                           f"Finish the install in the browser where you started it. {_RESTART}")
    if known.used:
        raise InstallError(400, "reused_state", "This install link was already used",
                           f"Each install link works once. {_RESTART}")
    raise InstallError(400, "expired_state", "This install link has expired",
                       f"Install links are valid for {known_ttl_minutes(known)} minutes. {_RESTART}")


def known_ttl_minutes(item: OAuthState) -> int:
    return max(1, int((item.expires_at - item.created_at).total_seconds() // 60))


def complete_install(settings: Settings, params: dict, cookie_header: str | None,
                     oauth: HubSpotOAuthClient | None = None) -> Page:
    bind_tables(settings.accounts_table, settings.states_table)
    try:
        state = consume_state(params.get("state"), read_cookie(cookie_header))
        if params.get("error"):
            # A fixed reason: the error text is the caller's and must not become a metric value.
            raise InstallError(400, "hubspot_refused", "The install was cancelled",
                               "HubSpot did not grant access (you chose not to connect, or your "
                               f"account does not allow it). {_RESTART}")
        if not params.get("code"):
            raise InstallError(400, "missing_code", "This link is incomplete",
                               f"HubSpot's answer has no authorization code. {_RESTART}")
        oauth = oauth or HubSpotOAuthClient(
            settings.hubspot_api_url, get_app_credentials(settings.app_secret_name),
            settings.hubspot_token_api, settings.hubspot_v1_fallback, settings.http_timeout_seconds)
        account = _store_install(settings, oauth, params["code"], state.code_verifier)
    except InstallError as exc:
        logs.log_event(log, "install refused", logging.WARNING, reason=exc.reason, status=exc.status)
        emit_metric("Installs", 1, "Count", Result=exc.reason)
        return exc.page()
    except InvalidGrant as exc:
        logs.log_event(log, "install refused", logging.WARNING, reason="invalid_grant",
                       hubspot_status=exc.code)
        emit_metric("Installs", 1, "Count", Result="invalid_grant")
        return error_page(400, "This install link was already used or has expired",
                          f"HubSpot no longer accepts this authorization. {_RESTART}")
    except HubSpotUnavailable as exc:
        logs.log_event(log, "hubspot unavailable", logging.WARNING, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="hubspot_unavailable")
        # A 4xx by design: the request can be retried by the person, nothing broke on our side.
        return error_page(424, "HubSpot could not be reached",
                          f"HubSpot did not answer in time, so nothing was installed. Please try "
                          f"again in a few minutes. {_RESTART}")
    except HubSpotBadAnswer as exc:
        logs.log_event(log, "hubspot answer unusable", logging.ERROR, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="hubspot_bad_answer")
        return error_page(424, "HubSpot's answer could not be used",
                          "HubSpot's reply about your account was not in the form HubSpot "
                          "documents, so nothing was installed. Please try again later; if it "
                          f"keeps happening, contact us. {_RESTART}")
    except (ClientConfigError, HubSpotOAuthError) as exc:
        logs.log_event(log, "hubspot refused the app", logging.ERROR, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="app_refused")
        return error_page(424, "The app could not be connected",
                          "HubSpot refused our app's credentials: the problem is on our side and "
                          "nothing was installed. Please try again later.")
    emit_metric("Installs", 1, "Count", Result="stored", hub_id=account.hub_id)
    return success_page(int(account.hub_id), account.hub_domain, account.user)


def _store_install(settings: Settings, oauth: HubSpotOAuthClient, code: str, verifier: str) -> Account:
    with subsegment("hubspot.exchange_code"):
        tokens = oauth.exchange_code(code, settings.redirect_uri, verifier)
    logs.register_secret(tokens.access_token)
    logs.register_secret(tokens.refresh_token)
    with subsegment("hubspot.introspect"):
        info = oauth.introspect(tokens.access_token)
    with logs.hub_context(info.hub_id), subsegment("store_account", hub_id=info.hub_id):
        encrypted = encrypt_token(tokens.refresh_token, info.hub_id, settings.kms_key_id)
        account = upsert_account(info, encrypted)
        logs.log_event(log, "account stored", install_count=account.install_count,
                       scopes=" ".join(info.scopes))
        request_provisioning(settings, account, reason="install")
    return account


def upsert_account(info, refresh_token_encrypted: str) -> Account:
    """Create or update the one item for this hub_id in a single atomic UpdateItem.

    The key is the hub_id HubSpot's introspection returned, so concurrent callbacks for one
    account converge on one item; created_at is set only by the first of them.
    """
    now = utcnow()
    account = Account(hub_id=info.hub_id)
    account.update(actions=[
        Account.user.set(info.user) if info.user else Account.user.remove(),
        Account.user_id.set(info.user_id) if info.user_id is not None else Account.user_id.remove(),
        Account.hub_domain.set(info.hub_domain or ""),
        Account.scopes.set(list(info.scopes)),
        Account.status.set(AccountStatus.INSTALLED),
        Account.refresh_token_encrypted.set(refresh_token_encrypted),
        Account.install_count.add(1),
        Account.created_at.set(Account.created_at | now),
        Account.installed_at.set(now),
        Account.updated_at.set(now),
        Account.token_health.set("ok"),
        Account.token_checked_at.set(now),
    ])
    return account


def request_provisioning(settings: Settings, account: Account, reason: str) -> None:
    """Queue the account's provisioning. A failed send is not fatal: the install is stored with
    status `installed`, and the reconcile run re-queues accounts left in that status."""
    key = f"{account.hub_id}:{account.install_count}"
    try:
        with subsegment("sqs.provision"):
            message_id = queues.send_provision_message(settings.provision_queue_name,
                                                       int(account.hub_id), key, reason)
        logs.log_event(log, "provisioning queued", message_id=message_id, idempotency_key=key)
    except Exception as exc:  # noqa: BLE001 - the customer's install must not fail for this
        logs.log_event(log, "provisioning not queued; reconcile will retry", logging.ERROR,
                       error=type(exc).__name__)
