"""Sandbox control routes under /_sandbox (not part of HubSpot): apps, clock, accounts."""
from flask import request

from .errors import error, json_response
from .state import RegisteredApp


def register(app, st):
    @app.post("/_sandbox/apps")
    def add_app():
        body = request.get_json(silent=True) or {}
        uris = body.get("redirect_uris") or ([body["redirect_uri"]] if body.get("redirect_uri") else [])
        if not body.get("client_id") or not body.get("client_secret") or not uris:
            return error(400, "BAD_REQUEST", "client_id, client_secret and redirect_uris are required")
        new = st.add_app(RegisteredApp(client_id=body["client_id"],
                                       client_secret=body["client_secret"],
                                       redirect_uris=list(uris)))
        return json_response({"client_id": new.client_id, "app_id": new.app_id,
                              "redirect_uris": new.redirect_uris}, 201)

    @app.get("/_sandbox/clock")
    def clock():
        return json_response({"now": st.clock.now()})

    @app.post("/_sandbox/clock/advance")
    def clock_advance():
        body = request.get_json(silent=True) or {}
        try:
            seconds = float(body.get("seconds", 0))
        except (TypeError, ValueError):
            return error(400, "BAD_REQUEST", "seconds must be a number")
        return json_response({"now": st.clock.advance(seconds)})

    @app.get("/_sandbox/accounts")
    def accounts():
        with st.lock:
            return json_response({"accounts": [a.summary(st.user) for a in st.accounts.values()]})

    @app.get("/_sandbox/accounts/<int:hub_id>")
    def account(hub_id):
        acct = st.accounts.get(hub_id)
        if acct is None:
            return error(404, "NOT_FOUND", "no such account")
        with st.lock:
            return json_response(acct.summary(st.user))

    @app.post("/_sandbox/accounts/<int:hub_id>/uninstall")
    def uninstall(hub_id):
        if hub_id not in st.accounts:
            return error(404, "NOT_FOUND", "no such account")
        body = request.get_json(silent=True) or {}
        removed = st.uninstall(hub_id, body.get("client_id"))
        return json_response({"hub_id": hub_id, "uninstalled": removed})
