"""OAuth routes: authorize/consent, token (v1 and 2026-03), introspect, revoke, v1 metadata."""
import base64
import hashlib
import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, redirect, request

from .consent import consent_page, error_page
from .errors import error, json_response
from .state import ACCESS_TOKEN_TTL

_AUTH_PARAMS = ("client_id", "redirect_uri", "scope", "optional_scope", "state",
                "code_challenge", "code_challenge_method")


def _split_scopes(value) -> list:
    # HubSpot accepts scopes separated by spaces (often sent as %20 or +) or commas.
    return [s for s in (value or "").replace(",", " ").split() if s]


def _with_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    q = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{q}" if parts.query else q
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _pkce_ok(challenge, method, verifier) -> bool:
    if not challenge:
        return True
    if not verifier:
        return False
    if (method or "plain").upper() == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


def register(app, st):
    def html(body: str, code: int = 200) -> Response:
        return Response(body, status=code, mimetype="text/html")

    def check_authorize(params):
        """(registered app, None) or (None, 400 page): never redirect to an unverified URI."""
        client = st.apps.get(params.get("client_id") or "")
        if client is None:
            return None, html(error_page("Authorization failed",
                                         "Unknown client_id: this app is not registered."), 400)
        if params.get("redirect_uri") not in client.redirect_uris:
            return None, html(error_page("Authorization failed",
                                         "redirect_uri does not match the app's redirect URLs."), 400)
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method and method.upper() not in ("S256", "PLAIN"):
            return None, html(error_page("Authorization failed",
                                         "Unsupported code_challenge_method."), 400)
        return client, None

    @app.get("/oauth/authorize")
    def authorize_page():
        params = {k: request.args.get(k) for k in _AUTH_PARAMS}
        client, err = check_authorize(params)
        if err:
            return err
        return html(consent_page(client.client_id, st.user["email"], list(st.accounts.values()),
                                 _split_scopes(params["scope"]),
                                 _split_scopes(params["optional_scope"]), params))

    @app.post("/oauth/authorize")
    def authorize_decision():
        params = {k: request.form.get(k) for k in _AUTH_PARAMS}
        client, err = check_authorize(params)
        if err:
            return err
        redirect_uri, state = params["redirect_uri"], params["state"]
        if request.form.get("decision") != "approve":
            return redirect(_with_query(redirect_uri, {
                "error": "access_denied",
                "error_description": "The user denied the request to install the app.",
                "state": state}), 302)
        try:
            hub_id = int(request.form.get("hub_id", ""))
        except ValueError:
            hub_id = None
        if hub_id not in st.accounts:
            return html(consent_page(client.client_id, st.user["email"], list(st.accounts.values()),
                                     _split_scopes(params["scope"]),
                                     _split_scopes(params["optional_scope"]), params,
                                     notice="Choose an account."), 400)
        # Optional scopes are granted when the account's tier has them; a required one it
        # lacks stops the install on the consent page.
        missing = st.accounts[hub_id].missing_scopes
        lacking = [s for s in _split_scopes(params["scope"]) if s in missing]
        if lacking:
            return html(consent_page(client.client_id, st.user["email"], list(st.accounts.values()),
                                     _split_scopes(params["scope"]),
                                     _split_scopes(params["optional_scope"]), params,
                                     notice=f"{st.accounts[hub_id].name} does not have access to "
                                            f"{', '.join(lacking)}, which this app requires. "
                                            "Choose another account."), 400)
        scopes = sorted(set(_split_scopes(params["scope"]))
                        | (set(_split_scopes(params["optional_scope"])) - missing))
        st.install(hub_id, client.client_id, scopes)
        code = st.issue_code(client.client_id, redirect_uri, hub_id, scopes,
                             params["code_challenge"], params["code_challenge_method"])
        return redirect(_with_query(redirect_uri, {"code": code, "state": state}), 302)

    # -- token endpoint ---------------------------------------------------------------------
    def token(versioned: bool):
        f = request.form

        def fail(status, message, oauth_error, code=400):
            extra = {"error": oauth_error, "error_description": message} if versioned else {}
            return error(code, status, message, **extra)

        client = st.apps.get(f.get("client_id") or "")
        if client is None:
            return fail("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client")
        if not hmac.compare_digest(f.get("client_secret") or "", client.client_secret):
            return fail("BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client")
        grant = f.get("grant_type")
        if grant == "authorization_code":
            with st.lock:
                rec = st.codes.get(f.get("code") or "")
                if rec is None or rec["used"] or rec["client_id"] != client.client_id:
                    return fail("BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant")
                if rec["expires_at"] <= st.clock.now():
                    return fail("EXPIRED_AUTH_CODE", "auth code is expired", "invalid_grant")
                if f.get("redirect_uri") != rec["redirect_uri"]:
                    return fail("BAD_REDIRECT_URI", "redirect_uri does not match the one used "
                                "to obtain the auth code", "invalid_grant")
                if not _pkce_ok(rec["challenge"], rec["method"], f.get("code_verifier")):
                    return fail("BAD_AUTH_CODE", "code_verifier does not match code_challenge",
                                "invalid_grant")
                if client.client_id not in st.accounts[rec["hub_id"]].installs:
                    return fail("BAD_AUTH_CODE", "the app was uninstalled", "invalid_grant")
                rec["used"] = True
            hub_id, scopes = rec["hub_id"], rec["scopes"]
            toks = st.issue_tokens(hub_id, client.client_id, scopes)
        elif grant == "refresh_token":
            rec = st.refresh_token(f.get("refresh_token") or "")
            if rec is None or rec["client_id"] != client.client_id:
                return fail("BAD_REFRESH_TOKEN", "missing or invalid refresh token", "invalid_grant")
            hub_id, scopes = rec["hub_id"], rec["scopes"]
            # HubSpot keeps the same refresh token across refreshes.
            toks = st.issue_tokens(hub_id, client.client_id, scopes, f.get("refresh_token"))
        elif grant == "client_credentials":
            # The app's own token, for the webhooks journal (no account, no refresh token).
            from .journal import client_credentials

            return client_credentials(st, client, f)
        else:
            return fail("BAD_GRANT_TYPE", "grant_type must be authorization_code, refresh_token "
                        "or client_credentials", "unsupported_grant_type")
        return json_response({"token_type": "bearer", "refresh_token": toks["refresh_token"],
                              "access_token": toks["access_token"], "expires_in": ACCESS_TOKEN_TTL,
                              "hub_id": hub_id, "user_id": st.user["user_id"], "scopes": scopes,
                              "token_use": "access_token"})

    app.add_url_rule("/oauth/v1/token", "token_v1", lambda: token(False), methods=["POST"])
    app.add_url_rule("/oauth/2026-03/token", "token_2026", lambda: token(True), methods=["POST"])

    # -- metadata -------------------------------------------------------------------------------
    def signed_extras(tok: str, rec: dict, client) -> dict:
        """The rest of SignedAccessToken's required fields (oauth-2026-03.json, oauth-v1.json):
        opaque strings to a client, stable per token."""
        digest = hashlib.sha256(tok.encode()).hexdigest()
        return {"appInstallId": f"{client.app_id}-{rec['hub_id']}", "audience": client.client_id,
                "signature": digest[:43], "newSignature": digest[21:64],
                "scopeToScopeGroupPks": "", "trialScopes": "", "trialScopeToScopeGroupPks": ""}

    def token_info(kind: str, tok: str, rec: dict) -> dict:
        acct = st.accounts[rec["hub_id"]]
        client = st.apps[rec["client_id"]]
        info = {"token": tok, "user": st.user["email"], "user_id": st.user["user_id"],
                "hub_domain": acct.hub_domain, "hub_id": acct.hub_id, "scopes": rec["scopes"],
                "app_id": client.app_id, "client_id": client.client_id,
                "token_type": kind, "token_use": f"{kind}_token"}
        if kind == "access":
            expires_in = max(0, int(rec["expires_at"] - st.clock.now()))
            info.update(expires_in=expires_in, is_private_distribution=False,
                        signed_access_token={"appId": client.app_id, "hubId": acct.hub_id,
                                             "userId": st.user["user_id"],
                                             "installingUserId": st.user["user_id"],
                                             "expiresAt": int(rec["expires_at"] * 1000),
                                             "scopes": " ".join(rec["scopes"]),
                                             "hublet": "na1", "isUserLevel": False,
                                             "isServiceAccount": False,
                                             "isPrivateDistribution": False,
                                             **signed_extras(tok, rec, client)})
        return info

    def client_from_form():
        client = st.apps.get(request.form.get("client_id") or "")
        if client is None:
            return None, error(400, "BAD_CLIENT_ID", "missing or unknown client id",
                               error="invalid_client", error_description="unknown client id")
        if not hmac.compare_digest(request.form.get("client_secret") or "", client.client_secret):
            return None, error(400, "BAD_CLIENT_SECRET", "missing or invalid client secret",
                               error="invalid_client", error_description="invalid client secret")
        return client, None

    def lookup(tok: str, hint: str | None):
        order = ["refresh", "access"] if (hint or "").startswith("refresh") else ["access", "refresh"]
        for kind in order:
            rec = st.access_token(tok) if kind == "access" else st.refresh_token(tok)
            if rec is not None:
                return kind, rec
        return None, None

    @app.post("/oauth/2026-03/token/introspect")
    def introspect():
        client, err = client_from_form()
        if err:
            return err
        tok = request.form.get("token") or ""
        kind, rec = lookup(tok, request.form.get("token_type_hint"))
        if rec is None or rec["client_id"] != client.client_id:
            return json_response({"active": False})
        return json_response({"active": True, **token_info(kind, tok, rec)})

    @app.post("/oauth/2026-03/token/revoke")
    def revoke():
        client, err = client_from_form()
        if err:
            return err
        tok = request.form.get("token") or ""
        with st.lock:
            for table in (st.refresh_tokens, st.access_tokens):
                rec = table.get(tok)
                if rec is not None and rec["client_id"] == client.client_id:
                    rec["revoked"] = True
        # RFC 7009: 200 whether or not the token was known.
        return Response(status=200)

    @app.get("/oauth/v1/access-tokens/<tok>")
    def access_token_info(tok):
        rec = st.access_tokens.get(tok)
        if rec is None or rec["revoked"]:
            return error(404, "NOT_FOUND", "access token not found", category="OBJECT_NOT_FOUND")
        if rec["expires_at"] <= st.clock.now():
            ago = int((st.clock.now() - rec["expires_at"]) // 60)
            return error(401, "error", f"The OAuth token used to make this call expired {ago} "
                         "minute(s) ago.", category="EXPIRED_AUTHENTICATION")
        return json_response(token_info("access", tok, rec))

    @app.get("/oauth/v1/refresh-tokens/<tok>")
    def refresh_token_info(tok):
        rec = st.refresh_token(tok)
        if rec is None:
            return error(404, "NOT_FOUND", "refresh token not found", category="OBJECT_NOT_FOUND")
        return json_response(token_info("refresh", tok, rec))

    @app.delete("/oauth/v1/refresh-tokens/<tok>")
    def refresh_token_delete(tok):
        if not st.revoke_refresh(tok):
            return error(404, "NOT_FOUND", "refresh token not found", category="OBJECT_NOT_FOUND")
        return Response(status=204)
