"""The OAuth install: /install starts it, /oauth/callback completes it.

Plain functions over the container's Services (settings, secrets, clients:
hubspot_app.runtime); hubspot_app.handlers.install adapts them to the routes. A callback either
stores the account and queues its provisioning, or stores nothing
(beyond the mark that its state was used) and answers a 4xx page that says what to do.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from html import escape
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pynamodb.exceptions import PutError

from hubspot_app import logs
from hubspot_app.config import Settings
from hubspot_app.hubspot_oauth import (
    ClientConfigError,
    HubSpotBadAnswer,
    HubSpotOAuthClient,
    HubSpotOAuthError,
    HubSpotUnavailable,
    InvalidGrant,
    authorize_url,
)
from hubspot_app.install_state import (
    COOKIE_NAME,
    InstallState,
    StateRefused,
    code_challenge,
    code_verifier,
    new_state,
    read_state,
    signing_key,
)
from hubspot_app.messaging import queues
from hubspot_app.metrics import emit_metric
from hubspot_app.models import Account, AccountStatus, OAuthState, condition_failed, utcnow
from hubspot_app.pages import Page, document, error_page, success_page
from hubspot_app.token_crypto import encrypt_token
from hubspot_app.tracing import subsegment

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

log = logging.getLogger(__name__)


def _now() -> float:
    """The clock the state's expiry is judged by (tests move it)."""
    return time.time()


class InstallError(Exception):
    """A callback that cannot complete; `reason` is for logs and metrics, the rest for people."""

    def __init__(self, status: int, reason: str, title: str, detail: str):
        super().__init__(reason)
        self.status, self.reason, self.title, self.detail = status, reason, title, detail

    def page(self, install_path: str) -> Page:
        return error_page(self.status, self.title, self.detail, install_path)


_RESTART = "Start the install again from the HubSpot marketplace or the link below."


def cookie_path(settings: Settings) -> str:
    """The redirect URI's own path, so the browser sends the cookie to the callback wherever it
    is served: `/api/oauth/callback` behind API Gateway's `api` stage, `/oauth/callback` on a
    custom domain's root. A constant path would never reach a prefixed callback."""
    return urlsplit(settings.hubspot.redirect_uri).path or "/"


def _cookie_header(value: str, settings: Settings, max_age: int) -> str:
    flags = "; Secure" if settings.hubspot.cookie_secure else ""
    # Lax so it is sent on HubSpot's top-level redirect back; HttpOnly: no page script reads it.
    return (f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path={cookie_path(settings)}; HttpOnly; "
            f"SameSite=Lax{flags}")


def read_cookie(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # noqa: BLE001 - http.cookies raises several types on a malformed header
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel else None


def _state_key(svc: Services) -> bytes:
    return signing_key(svc.app_credentials().client_secret)


# -- GET /install -------------------------------------------------------------------------
def start_install(svc: Services) -> Page:
    """Send the browser to HubSpot's consent page with a fresh state signed into its cookie.

    Nothing is stored: the request costs one (cached) secret read and two HMACs, so a flood of
    it fills no table (the state is marked used only at the callback)."""
    settings = svc.settings
    creds = svc.app_credentials()
    key = signing_key(creds.client_secret)
    state, cookie = new_state(key, settings.hubspot.state_ttl_seconds, _now())
    location = authorize_url(settings.hubspot.authorize_url, creds.client_id, settings.hubspot.redirect_uri,
                             settings.hubspot.scopes, settings.hubspot.optional_scopes, state.state,
                             code_challenge(code_verifier(key, state.state)))
    logs.log_event(log, "install started")
    # Browsers follow the redirect; the body is for clients that do not (and links the data page).
    body = document("Continue to HubSpot", f"<p>Continue to <a id=\"consent\" "
                    f"href=\"{escape(location)}\">HubSpot's consent page</a>.</p>",
                    settings.hubspot.base_path)
    return Page(302, body, {"Location": location,
                          "Set-Cookie": _cookie_header(cookie, settings, settings.hubspot.state_ttl_seconds)})


# -- GET /oauth/callback ------------------------------------------------------------------
_REFUSALS = {
    "bad_cookie": ("This install link is not valid",
                   f"We do not recognise this install request. {_RESTART}"),
    "wrong_browser": ("Install started in another browser",
                      f"Finish the install in the browser where you started it. {_RESTART}"),
}


def consume_state(svc: Services, state: str | None, cookie_value: str | None) -> InstallState:
    """The state, marked used, if this browser's cookie carries it signed and unexpired and it
    was not used before. The mark is the only write, and only for a state that passed every
    other check, so forged or replayed cookies cannot fill the table either."""
    if not state:
        raise InstallError(400, "missing_state", "This link is incomplete",
                           f"The request has no install state. {_RESTART}")
    if not cookie_value:
        raise InstallError(400, "missing_cookie", *_REFUSALS["wrong_browser"])
    try:
        item = read_state(cookie_value, state, _state_key(svc), _now())
    except StateRefused as exc:
        if exc.reason == "expired_state":
            minutes = max(1, svc.settings.hubspot.state_ttl_seconds // 60)
            raise InstallError(400, exc.reason, "This install link has expired",
                               f"Install links are valid for {minutes} minutes. {_RESTART}") from None
        raise InstallError(400, exc.reason, *_REFUSALS[exc.reason]) from None
    mark = OAuthState(state=item.state,
                      expires_at=datetime.fromtimestamp(item.expires_at, tz=UTC))
    try:
        mark.save(condition=OAuthState.state.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        raise InstallError(400, "reused_state", "This install link was already used",
                           f"Each install link works once. {_RESTART}") from None
    return item


def complete_install(svc: Services, params: dict, cookie_header: str | None,
                     oauth: HubSpotOAuthClient | None = None) -> Page:
    settings = svc.settings
    spent: list[InstallState] = []
    page = _complete(svc, params, cookie_header, oauth, spent)
    if spent:
        # The state is used up whatever happened next: the browser can drop its cookie.
        page.headers["Set-Cookie"] = _cookie_header("", settings, 0)
    return page


def _complete(svc: Services, params: dict, cookie_header: str | None,
              oauth: HubSpotOAuthClient | None, spent: list[InstallState]) -> Page:
    settings = svc.settings
    install_path = f"{settings.hubspot.base_path}/install"
    try:
        state = consume_state(svc, params.get("state"), read_cookie(cookie_header))
        spent.append(state)
        if params.get("error"):
            # A fixed reason: the error text is the caller's and must not become a metric value.
            raise InstallError(400, "hubspot_refused", "The install was cancelled",
                               "HubSpot did not grant access (you chose not to connect, or your "
                               f"account does not allow it). {_RESTART}")
        if not params.get("code"):
            raise InstallError(400, "missing_code", "This link is incomplete",
                               f"HubSpot's answer has no authorization code. {_RESTART}")
        oauth = oauth or svc.hubspot_oauth()
        account = _store_install(svc, oauth, params["code"],
                                 code_verifier(_state_key(svc), state.state))
    except InstallError as exc:
        logs.log_event(log, "install refused", logging.WARNING, reason=exc.reason, status=exc.status)
        emit_metric("Installs", 1, "Count", Result=exc.reason)
        return exc.page(install_path)
    except InvalidGrant as exc:
        logs.log_event(log, "install refused", logging.WARNING, reason="invalid_grant",
                       hubspot_status=exc.code)
        emit_metric("Installs", 1, "Count", Result="invalid_grant")
        return error_page(400, "This install link was already used or has expired",
                          f"HubSpot no longer accepts this authorization. {_RESTART}", install_path)
    except HubSpotUnavailable as exc:
        logs.log_event(log, "hubspot unavailable", logging.WARNING, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="hubspot_unavailable")
        # A 4xx by design: the request can be retried by the person, nothing broke on our side.
        return error_page(424, "HubSpot could not be reached",
                          f"HubSpot did not answer in time, so nothing was installed. Please try "
                          f"again in a few minutes. {_RESTART}", install_path)
    except HubSpotBadAnswer as exc:
        logs.log_event(log, "hubspot answer unusable", logging.ERROR, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="hubspot_bad_answer")
        return error_page(424, "HubSpot's answer could not be used",
                          "HubSpot's reply about your account was not in the form HubSpot "
                          "documents, so nothing was installed. Please try again later; if it "
                          f"keeps happening, contact us. {_RESTART}", install_path)
    except (ClientConfigError, HubSpotOAuthError) as exc:
        logs.log_event(log, "hubspot refused the app", logging.ERROR, error=str(exc))
        emit_metric("Installs", 1, "Count", Result="app_refused")
        return error_page(424, "The app could not be connected",
                          "HubSpot refused our app's credentials: the problem is on our side and "
                          "nothing was installed. Please try again later.", install_path)
    emit_metric("Installs", 1, "Count", Result="stored", hub_id=account.hub_id)
    from hubspot_app.data_page import success_arrival

    return success_page(int(account.hub_id), account.hub_domain, account.user,
                        success_arrival(settings), settings.hubspot.base_path)


def _store_install(svc: Services, oauth: HubSpotOAuthClient, code: str, verifier: str) -> Account:
    settings = svc.settings
    with subsegment("hubspot.exchange_code"):
        tokens = oauth.exchange_code(code, settings.hubspot.redirect_uri, verifier)
    logs.register_secret(tokens.access_token)
    logs.register_secret(tokens.refresh_token)
    with subsegment("hubspot.introspect"):
        info = oauth.introspect(tokens.access_token)
    with logs.hub_context(info.hub_id), subsegment("store_account", hub_id=info.hub_id):
        encrypted = encrypt_token(tokens.refresh_token, info.hub_id, settings.kms_key_id,
                                  kms=svc.kms)
        account = upsert_account(info, encrypted)
        logs.log_event(log, "account stored", install_count=account.install_count,
                       scopes=" ".join(info.scopes))
        request_provisioning(svc, account, reason="install")
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


def request_provisioning(svc: Services, account: Account, reason: str) -> None:
    """Queue the account's provisioning. A failed send is not fatal: the install is stored with
    status `installed`, and the reconcile run re-queues accounts left in that status."""
    key = f"{account.hub_id}:{account.install_count}"
    try:
        with subsegment("sqs.provision"):
            message_id = queues.send_provision_message(
                svc.sqs, svc.queue_url(svc.settings.provisioning.queue_name), int(account.hub_id),
                key, reason)
        logs.log_event(log, "provisioning queued", message_id=message_id, idempotency_key=key)
    except Exception as exc:  # noqa: BLE001 - the customer's install must not fail for this
        logs.log_event(log, "provisioning not queued; reconcile will retry", logging.ERROR,
                       error=type(exc).__name__)
