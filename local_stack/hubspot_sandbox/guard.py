"""Every API call (not OAuth, not /_sandbox): bearer auth, per-account rate limits with
HubSpot's headers and 429 body, and faults injected on demand."""
import collections
import random
import threading
import time

from flask import Response, g, request

from ..http import drop_connection
from .errors import error

WINDOW_S, WINDOW_MAX = 10.0, 110      # public apps: 110 requests per 10 s per installing account
SEARCH_PER_S = 5

class Limiter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = collections.defaultdict(collections.deque)     # hub_id -> times
        self.searches = collections.defaultdict(collections.deque)

    @staticmethod
    def _take(q, window, limit, now):
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= limit:
            return False, 0, window - (now - q[0])
        q.append(now)
        return True, limit - len(q), 0.0

    def check(self, hub_id, search: bool):
        now = time.monotonic()
        with self.lock:
            if search:
                ok, _, wait = self._take(self.searches[hub_id], 1.0, SEARCH_PER_S, now)
                if not ok:
                    return False, None, wait, "SECONDLY"
            ok, remaining, wait = self._take(self.calls[hub_id], WINDOW_S, WINDOW_MAX, now)
            return ok, remaining, wait, "TEN_SECONDLY_ROLLING"

def _drop_connection():
    drop_connection(request.environ)

def _fault(st, hub_id):
    """The first matching fault rule of the account, consumed once; None when none applies."""
    rules = st.faults.get(hub_id)
    if not rules:
        return None
    with st.lock:
        for rule in rules:
            if rule.get("path") and not request.path.startswith(rule["path"]):
                continue
            if rule.get("probability", 1.0) < 1.0 and random.random() >= rule["probability"]:
                continue
            if rule.get("remaining") is not None:
                if rule["remaining"] <= 0:
                    continue
                rule["remaining"] -= 1
            return rule
    return None

def _scope_refusal(method: str, path: str, granted):
    """HubSpot's 403 when the token lacks every scope set the operation's vendored document
    requires (its oauth2 security requirements, e.g. crm.objects.deals.read for GET
    /crm/v3/objects/deals): the sandbox refuses what HubSpot refuses, from HubSpot's spec."""
    from .. import contract_check

    required = contract_check.security("hubspot", method, path)
    missing = contract_check.missing_scopes(required or [], granted or ())
    if not missing:
        return None
    return error(403, "error", "This app hasn't been granted all required scopes to make this "
                 "call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                 category="MISSING_SCOPES",
                 errors=[{"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": missing}}],
                 links={"scopes": "https://developers.hubspot.com/scopes"})


def register(app, st):
    st.limiter = Limiter()
    st.faults = {}

    @app.before_request
    def guard():
        path = request.path
        if path.startswith(("/oauth/", "/_sandbox/", "/webhooks-journal/", "/_journal-files/")):
            # The journal takes the app's client-credentials token (sandbox journal.py).
            return None
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        rec = st.access_tokens.get(token) if token else None
        if rec is None or rec["revoked"]:
            return error(401, "error", "Authentication credentials not found. This API supports "
                         "OAuth 2.0 authentication and you can find more details at "
                         "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                         category="INVALID_AUTHENTICATION")
        if rec["expires_at"] <= st.clock.now():
            ago = int((st.clock.now() - rec["expires_at"]) // 60)
            return error(401, "error", f"The OAuth token used to make this call expired {ago} "
                         "minute(s) ago.", category="EXPIRED_AUTHENTICATION")
        hub_id = rec["hub_id"]
        g.hub_id, g.scopes, g.client_id = hub_id, rec["scopes"], rec["client_id"]
        denied = _scope_refusal(request.method, path, rec["scopes"])
        if denied is not None:
            return denied
        g.store = st.accounts[hub_id].store
        g.rate_headers = None
        rule = _fault(st, hub_id)
        if rule is not None:
            kind = rule["kind"]
            if kind == "slow":
                time.sleep(float(rule.get("delay", 2.0)))
            elif kind == "drop":
                g.contract_skip = "injected fault"  # broken on purpose: not judged by the spec
                _drop_connection()
                return Response(status=500)
            elif kind == "malformed":
                g.contract_skip = "injected fault"
                return Response('{"results": [{"id": "1", "properties": {', status=200,
                                mimetype="application/json")
            elif kind == "429":
                return error(429, "error", "You have reached your ten_secondly_rolling limit.",
                             category="RATE_LIMITS", errorType="RATE_LIMIT",
                             policyName="TEN_SECONDLY_ROLLING",
                             headers={"Retry-After": str(rule.get("retry_after", 1))})
            else:
                code = int(kind)
                return error(code, "error", "internal error", category="INTERNAL_ERROR")
        if not st.settings["rate_limits"]:
            return None
        search = request.method == "POST" and path.endswith("/search")
        ok, remaining, wait, policy = st.limiter.check(hub_id, search)
        if not ok:
            headers = {"Retry-After": str(max(1, int(wait + 0.999)))}
            if policy == "TEN_SECONDLY_ROLLING":
                headers.update({"X-HubSpot-RateLimit-Max": str(WINDOW_MAX),
                                "X-HubSpot-RateLimit-Remaining": "0",
                                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000))})
            return error(429, "error", f"You have reached your {policy.lower()} limit.",
                         category="RATE_LIMITS", errorType="RATE_LIMIT", policyName=policy,
                         headers=headers)
        if remaining is not None:
            g.rate_headers = {"X-HubSpot-RateLimit-Max": str(WINDOW_MAX),
                              "X-HubSpot-RateLimit-Remaining": str(remaining),
                              "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000))}
        return None

    @app.after_request
    def rate_headers(resp):
        h = getattr(g, "rate_headers", None)
        if h:
            resp.headers.update(h)
        return resp
