"""In-memory state of the sandbox: registered apps, accounts, installs, codes and tokens.

One synthetic HubSpot user belongs to every sandbox account (as a HubSpot user can belong to
several portals); the consent page lets that user pick the account to install into.
"""
import dataclasses
import random
import secrets
import threading
import uuid

from .clock import Clock

ACCESS_TOKEN_TTL = 1800      # HubSpot access tokens live 30 minutes
AUTH_CODE_TTL = 300          # codes are short-lived; HubSpot does not publish the exact value

_COMPANY_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka",
                  "Tyrell", "Cyberdyne", "Soylent", "Vandelay", "Pied Piper", "Dunder",
                  "Massive", "Aperture", "Gringotts", "Oscorp", "Nakatomi", "Monarch"]
_COMPANY_SUFFIX = ["Industries", "Labs", "Corp", "Holdings", "Systems", "Partners", "Group"]


# What an account's HubSpot subscription cannot grant. HubSpot leaves such an optional scope
# out of the install and refuses an install that requires one. Every third sandbox account is
# on a tier without Marketing Hub (content), workflows (automation) and goals.
TIERS = {"enterprise": frozenset(),
         "starter": frozenset({"content", "automation", "crm.objects.goals.read"})}


def tier_of(index: int) -> str:
    return "starter" if index % 3 == 2 else "enterprise"


@dataclasses.dataclass
class RegisteredApp:
    client_id: str
    client_secret: str
    redirect_uris: list
    app_id: int = 0          # HubSpot's numeric app id; derived from client_id when 0
    webhook_url: str = ""    # where HubSpot sends the app's webhooks (uninstall events)


@dataclasses.dataclass
class Account:
    hub_id: int
    name: str
    hub_domain: str
    installs: dict = dataclasses.field(default_factory=dict)   # client_id -> install record
    store: object = None        # data.AccountStore, attached by the server
    tier: str = "enterprise"    # TIERS: the scopes it cannot grant

    @property
    def missing_scopes(self) -> frozenset:
        return TIERS[self.tier]

    def summary(self, user: dict) -> dict:
        out = {"hub_id": self.hub_id, "name": self.name, "hub_domain": self.hub_domain,
               "tier": self.tier, "missing_scopes": sorted(self.missing_scopes),
               "user": user["email"], "user_id": user["user_id"],
               "installed_apps": [dict(i) for i in self.installs.values()]}
        if self.store is not None:
            out["objects"] = self.store.counts()      # standard and custom CRM objects
            out["custom_objects"] = [{k: sch[k] for k in ("name", "objectTypeId", "fullyQualifiedName")}
                                     for sch in self.store.schemas]
            out["marketing"] = self.store.marketing.counts()
        return out


def make_accounts(seed: int, count: int) -> list:
    rng = random.Random(f"accounts:{seed}")
    accounts, used = [], set()
    for i in range(count):
        while True:
            name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIX)}"
            if name not in used:
                break
            if len(used) >= len(_COMPANY_WORDS) * len(_COMPANY_SUFFIX):
                name = f"{name} {i}"
                break
        used.add(name)
        slug = name.lower().replace(" ", "-")
        hub_id = 20000000 + rng.randrange(1, 9_999_999)
        accounts.append(Account(hub_id=hub_id, name=name, hub_domain=f"{slug}.com",
                                tier=tier_of(i)))
    return accounts


class SandboxState:
    """All mutable state, guarded by one lock (the request path holds it only briefly)."""

    def __init__(self, seed: int, accounts: int, apps=()):
        self.seed = seed
        self.clock = Clock()
        self.lock = threading.RLock()
        rng = random.Random(f"user:{seed}")
        self.user = {"email": "sandbox.user@example.com", "user_id": rng.randrange(1_000_000, 9_999_999)}
        self.accounts = {a.hub_id: a for a in make_accounts(seed, accounts)}
        self.apps = {}
        self.codes = {}            # code -> dict
        self.access_tokens = {}    # token -> dict
        self.refresh_tokens = {}   # token -> dict
        for app in apps:
            self.add_app(app)

    # -- apps -------------------------------------------------------------------------------
    def add_app(self, app: RegisteredApp) -> RegisteredApp:
        if not app.app_id:
            app.app_id = 1_000_000 + (uuid.uuid5(uuid.NAMESPACE_URL, app.client_id).int % 8_999_999)
        with self.lock:
            self.apps[app.client_id] = app
        return app

    # -- codes and tokens --------------------------------------------------------------------
    def issue_code(self, client_id, redirect_uri, hub_id, scopes, challenge, method) -> str:
        code = str(uuid.uuid4())
        with self.lock:
            self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri,
                                "hub_id": hub_id, "scopes": scopes, "challenge": challenge,
                                "method": method, "expires_at": self.clock.now() + AUTH_CODE_TTL,
                                "used": False}
        return code

    def install(self, hub_id: int, client_id: str, scopes: list):
        with self.lock:
            acct = self.accounts[hub_id]
            prev = acct.installs.get(client_id)
            merged = sorted(set(scopes) | set(prev["scopes"] if prev else []))
            acct.installs[client_id] = {"client_id": client_id,
                                        "app_id": self.apps[client_id].app_id,
                                        "scopes": merged,
                                        "installed_at": int(self.clock.now())}

    def issue_tokens(self, hub_id: int, client_id: str, scopes: list, refresh_token=None) -> dict:
        now = self.clock.now()
        # HubSpot access tokens are opaque strings up to ~300 chars; keep ours opaque too.
        access = "CN" + secrets.token_urlsafe(48)
        with self.lock:
            if refresh_token is None:
                refresh_token = str(uuid.uuid4())
                self.refresh_tokens[refresh_token] = {"hub_id": hub_id, "client_id": client_id,
                                                      "scopes": scopes, "revoked": False}
            self.access_tokens[access] = {"hub_id": hub_id, "client_id": client_id,
                                          "scopes": scopes, "expires_at": now + ACCESS_TOKEN_TTL,
                                          "revoked": False}
        return {"access_token": access, "refresh_token": refresh_token}

    def access_token(self, token: str):
        """The live access token record or None (unknown, expired, revoked)."""
        rec = self.access_tokens.get(token)
        if rec is None or rec["revoked"] or rec["expires_at"] <= self.clock.now():
            return None
        return rec

    def refresh_token(self, token: str):
        rec = self.refresh_tokens.get(token)
        if rec is None or rec["revoked"]:
            return None
        return rec

    def revoke_refresh(self, token: str) -> bool:
        with self.lock:
            rec = self.refresh_tokens.get(token)
            if rec is None or rec["revoked"]:
                return False
            rec["revoked"] = True
            return True

    def uninstall(self, hub_id: int, client_id: str | None = None) -> list:
        """Uninstalls one app (or all) from an account; revokes its refresh and access tokens."""
        with self.lock:
            acct = self.accounts[hub_id]
            removed = [c for c in list(acct.installs) if client_id in (None, c)]
            for c in removed:
                del acct.installs[c]
            for table in (self.refresh_tokens, self.access_tokens):
                for rec in table.values():
                    if rec["hub_id"] == hub_id and rec["client_id"] in removed:
                        rec["revoked"] = True
            return removed
