"""Sandbox control routes under /_sandbox (not part of HubSpot): apps, clock, accounts."""
from flask import request

from .app_webhooks import crm_event, send_events
from .errors import error, json_response
from .state import RegisteredApp
from .truth import association_label_counts, history_with_deleted, stream_counts


def register(app, st):
    @app.post("/_sandbox/apps")
    def add_app():
        body = request.get_json(silent=True) or {}
        uris = body.get("redirect_uris") or ([body["redirect_uri"]] if body.get("redirect_uri") else [])
        if not body.get("client_id") or not body.get("client_secret") or not uris:
            return error(400, "BAD_REQUEST", "client_id, client_secret and redirect_uris are required")
        new = st.add_app(RegisteredApp(client_id=body["client_id"],
                                       client_secret=body["client_secret"],
                                       redirect_uris=list(uris),
                                       webhook_url=body.get("webhook_url", "")))
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

    @app.get("/_sandbox/accounts/<int:hub_id>/streams")
    def account_streams(hub_id):
        """Ground truth: {stream: records a full read of the connector's stream returns now};
        `history_with_deleted`: the property-history streams counting deleted objects too;
        `association_labels`: lines per pair a full association-label read gives (truth.py)."""
        acct = st.accounts.get(hub_id)
        if acct is None:
            return error(404, "NOT_FOUND", "no such account")
        with st.lock, acct.store.lock:
            return json_response({"hub_id": hub_id, "streams": stream_counts(acct.store),
                                  "history_with_deleted": history_with_deleted(acct.store),
                                  "association_labels": association_label_counts(acct.store)})

    @app.post("/_sandbox/accounts/<int:hub_id>/uninstall")
    def uninstall(hub_id):
        """A user uninstalls the app in HubSpot: its tokens stop working, and each app with an
        APP_LIFECYCLE_EVENT subscription gets an APP_UNINSTALL entry in its webhooks journal
        ("journal": false plays an uninstall the app only notices through refused tokens).
        HubSpot sends no uninstall webhook."""
        from .journal import record_uninstall

        if hub_id not in st.accounts:
            return error(404, "NOT_FOUND", "no such account")
        body = request.get_json(silent=True) or {}
        removed = st.uninstall(hub_id, body.get("client_id"))
        journaled = [c for c in removed if body.get("journal", True) is not False
                     and record_uninstall(st, c, hub_id)]
        return json_response({"hub_id": hub_id, "uninstalled": removed, "journaled": journaled})

    @app.post("/_sandbox/accounts/<int:hub_id>/webhook")
    def crm_webhook(hub_id):
        """Send each installed app with a webhook URL a signed CRM event (as HubSpot does)."""
        if hub_id not in st.accounts:
            return error(404, "NOT_FOUND", "no such account")
        body = request.get_json(silent=True) or {}
        kind = body.get("subscriptionType", "contact.creation")
        sent = []
        for client_id in list(st.accounts[hub_id].installs):
            target = st.apps.get(client_id)
            if target is None or not target.webhook_url:
                continue
            try:
                event = crm_event(hub_id, target.app_id, kind, int(body.get("objectId", 1)),
                                  int(st.clock.now() * 1000))
            except ValueError as exc:
                return error(400, "BAD_REQUEST", str(exc))
            sent.append(send_events(target, [event]))
        return json_response({"hub_id": hub_id, "webhooks": sent})

FAULT_KINDS = {"429", "500", "502", "503", "slow", "drop", "malformed"}


def register_data(app, st):
    """Changes over time, faults and settings (rate limits, search lag)."""

    @app.post("/_sandbox/accounts/<int:hub_id>/changes")
    def changes(hub_id):
        """Body: {"contacts": {"creates": 3, "updates": 2, "deletes": 1, "properties": 1}, ...}
        or {"object_type": "contacts", "creates": ...}. Stamped with sandbox time. Keys: CRM
        object types (names, singulars, type ids, custom object names or fullyQualifiedNames)
        and the marketing datasets: forms (creates/updates/deletes), campaigns
        (creates/updates), marketing_emails (creates/updates/deletes), email_events (creates)."""
        acct = st.accounts.get(hub_id)
        if acct is None:
            return error(404, "NOT_FOUND", "no such account")
        body = request.get_json(silent=True) or {}
        spec = {body.pop("object_type"): body} if "object_type" in body else body
        norm = {}
        for name, ch in spec.items():
            t = acct.store.resolve(name)
            cname = t.name if t is not None else (name if name in acct.store.marketing.sets else None)
            if cname is None or not isinstance(ch, dict):
                return error(400, "BAD_REQUEST", f"unknown object type {name}")
            norm[cname] = ch
        try:
            done = acct.store.apply_changes(st.clock.now_ms(), norm)
        except ValueError as exc:
            return error(400, "BAD_REQUEST", str(exc))
        return json_response({"hub_id": hub_id, "changes": done})

    @app.post("/_sandbox/accounts/<int:hub_id>/faults")
    def faults(hub_id):
        """Body: {"kind": "429|500|502|503|slow|drop|malformed", "count": N (default: until
        cleared), "probability": p, "path": "/crm/v3/objects", "delay": s, "retry_after": s}."""
        if hub_id not in st.accounts:
            return error(404, "NOT_FOUND", "no such account")
        rule = request.get_json(silent=True) or {}
        if str(rule.get("kind")) not in FAULT_KINDS:
            return error(400, "BAD_REQUEST", f"kind must be one of {sorted(FAULT_KINDS)}")
        rule["kind"] = str(rule["kind"])
        rule["remaining"] = rule.pop("count", None)
        with st.lock:
            st.faults.setdefault(hub_id, []).append(rule)
        return json_response({"hub_id": hub_id, "faults": st.faults[hub_id]}, 201)

    @app.delete("/_sandbox/accounts/<int:hub_id>/faults")
    def clear_faults(hub_id):
        with st.lock:
            st.faults.pop(hub_id, None)
        return json_response({"hub_id": hub_id, "faults": []})

    @app.route("/_sandbox/settings", methods=["GET", "POST"])
    def settings():
        """{"rate_limits": bool, "search_lag_seconds": float, "search_index": bool} (search_index
        false: search scans every record, the reference behaviour, for benchmarks)"""
        body = request.get_json(silent=True) or {}
        if "rate_limits" in body:
            st.settings["rate_limits"] = bool(body["rate_limits"])
        if "search_index" in body:
            st.settings["search_index"] = bool(body["search_index"])
        if "search_lag_seconds" in body:
            st.settings["search_lag_seconds"] = float(body["search_lag_seconds"])
            for acct in st.accounts.values():
                acct.store.search_lag_ms = int(float(body["search_lag_seconds"]) * 1000)
        return json_response(st.settings)

    @app.get("/_sandbox/unknown-paths")
    def unknown_paths():
        return json_response({"unknown_paths": sorted(set(st.unknown_paths))})
