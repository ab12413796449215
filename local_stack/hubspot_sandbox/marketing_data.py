"""Marketing datasets of one account (forms, campaigns, marketing emails, email events), sized by
the account's size and changed on demand like the CRM tables.

As in data.py, items are not materialized: item `k` is built from a PRNG seeded by (account,
dataset, k, version), creation times increase with `k` (so a time window is an index range found
by bisection), and only changes are stored.
"""
import random
import uuid
import zlib

from .data import EPOCH_MS, SPAN_MS, iso_ms

DAY = 86_400_000
CAMPAIGN_BASE_ID = 100_000
EMAIL_BASE_ID = 7_000_000
_EVENT_TYPES = ["SENT", "DELIVERED", "OPEN", "CLICK", "DEFERRED", "BOUNCE"]
_WHAT = ["Newsletter", "Product update", "Webinar invite", "Renewal reminder", "Onboarding",
         "Event recap", "Survey", "Pricing change"]

# kind -> (size of an account of n records, what /changes may do to it)
SIZING = {
    "forms": (lambda n: max(3, min(1_000, n // 20)), {"creates", "updates", "deletes"}),
    "campaigns": (lambda n: max(5, min(5_000, n // 10)), {"creates", "updates"}),
    "marketing_emails": (lambda n: max(4, min(5_000, n // 10)), {"creates", "updates", "deletes"}),
    "email_events": (lambda n: max(30, min(1_000_000, 2 * n)), {"creates"}),   # immutable
}

def _form_field(name: str, label: str, field_type: str, required: bool) -> dict:
    """A form field as forms-v3.json's EmailField / SingleLineTextField / MultiLineTextField."""
    field = {"objectTypeId": "0-1", "name": name, "label": label, "required": required,
             "hidden": False, "fieldType": field_type, "dependentFields": []}
    if field_type == "email":
        field["validation"] = {"blockedEmailDomains": [], "useDefaultBlockList": False}
    return field


_FORM_STYLE = {"backgroundWidth": "100%", "fontFamily": "arial, helvetica, sans-serif",
               "helpTextColor": "#7C98B6", "helpTextSize": "11px", "labelTextColor": "#33475B",
               "labelTextSize": "13px", "legalConsentTextColor": "#33475B",
               "legalConsentTextSize": "14px", "submitAlignment": "left",
               "submitColor": "#FF7A59", "submitFontColor": "#FFFFFF", "submitSize": "12px"}


class MarketingSet:
    def __init__(self, data, kind: str, count: int):
        self.data, self.kind = data, kind
        self.base_count = self.count = count
        self.updated = {}          # k -> (updated_ms, version)
        self.archived = {}         # k -> archived_ms
        self.created_at = {}       # k -> ms, for items created by /changes

    def created_ms(self, k: int) -> int:
        if k >= self.base_count:
            return self.created_at[k]
        return EPOCH_MS + (k * SPAN_MS) // self.base_count       # non-decreasing in k

    def updated_ms(self, k: int) -> int:
        u = self.updated.get(k)
        if u is not None:
            return u[0]
        c = self.created_ms(k)
        return c + (k * 7919) % (6 * 3_600_000) if k < self.base_count else c

    def version(self, k: int) -> int:
        return self.updated.get(k, (0, 0))[1]

    def live(self, k: int) -> bool:
        return k not in self.archived

    def rng(self, k: int) -> random.Random:
        return random.Random(zlib.crc32(f"{self.data.key}:{self.kind}:{k}:{self.version(k)}".encode()))

    def first_at_or_after(self, ms: int) -> int:
        """Smallest k with created_ms(k) >= ms (creation times do not decrease with k)."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_ms(mid) < ms:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def counts(self) -> dict:
        return {"live": self.count - len(self.archived), "deleted": len(self.archived)}

    def apply(self, now_ms: int, ch: dict, rng: random.Random) -> dict:
        allowed = SIZING[self.kind][1]
        bad = [k for k, v in ch.items() if int(v or 0) and k not in allowed]
        if bad:
            raise ValueError(f"{self.kind} accept only {sorted(allowed)} (not {bad})")
        res = {"created": [], "updated": [], "deleted": []}
        live = [k for k in range(self.count) if self.live(k)]
        for k in rng.sample(live, min(int(ch.get("deletes", 0)), len(live))):
            self.archived[k] = now_ms
            res["deleted"].append(self.data.item_id(self.kind, k))
        live = [k for k in range(self.count) if self.live(k)]
        for k in rng.sample(live, min(int(ch.get("updates", 0)), len(live))):
            self.updated[k] = (now_ms, self.version(k) + 1)
            res["updated"].append(self.data.item_id(self.kind, k))
        for _ in range(int(ch.get("creates", 0))):
            k = self.count
            self.created_at[k] = now_ms
            self.count += 1
            res["created"].append(self.data.item_id(self.kind, k))
        return res


class MarketingData:
    def __init__(self, store):
        self.store, self.key = store, store.key
        self.sets = {kind: MarketingSet(self, kind, size(store.size))
                     for kind, (size, _) in SIZING.items()}

    def counts(self) -> dict:
        return {kind: s.counts() for kind, s in self.sets.items()}

    def apply(self, kind: str, now_ms: int, ch: dict, batch: int) -> dict:
        rng = random.Random(f"changes:{self.key}:{kind}:{batch}")
        return self.sets[kind].apply(now_ms, ch, rng)

    # -- ids ------------------------------------------------------------------------------------
    def item_id(self, kind: str, k: int):
        if kind == "forms":
            return str(uuid.UUID(int=random.Random(f"{self.key}:form-id:{k}").getrandbits(128), version=4))
        if kind == "campaigns":
            return CAMPAIGN_BASE_ID + k
        if kind == "marketing_emails":
            return EMAIL_BASE_ID + k
        return str(uuid.UUID(int=random.Random(f"{self.key}:event-id:{k}").getrandbits(128), version=4))

    def form_index(self, form_id: str):
        """Forms are few (at most 1,000 per account), so a scan finds one by id."""
        s = self.sets["forms"]
        for k in range(s.count):
            if self.item_id("forms", k) == form_id:
                return k
        return None

    # -- items (HubSpot's shapes) ---------------------------------------------------------------
    def form(self, k: int) -> dict:
        s = self.sets["forms"]
        rng = s.rng(k)
        fields = [("email", "Email", "email", True), ("firstname", "First name", "single_line_text", False),
                  ("message", "Message", "multi_line_text", False)][:rng.randrange(1, 4)]
        out = {"id": self.item_id("forms", k), "name": f"{rng.choice(_WHAT)} form {k}",
               "formType": "hubspot", "createdAt": iso_ms(s.created_ms(k)),
               "updatedAt": iso_ms(s.updated_ms(k)), "archived": not s.live(k),
               "fieldGroups": [{"groupType": "default_group", "richTextType": "text",
                                "fields": [_form_field(n, lbl, ft, req)
                                           for n, lbl, ft, req in fields]}],
               # Every field forms-v3.json requires (HubSpotFormConfiguration, FormDisplayOptions).
               "configuration": {"language": "en", "createNewContactForNewEmail": True,
                                 "cloneable": True, "editable": True, "archivable": True,
                                 "allowLinkToResetKnownValues": False,
                                 "lifecycleStages": [{"objectTypeId": "0-1", "value": "lead"}],
                                 "notifyContactOwner": False, "notifyRecipients": [],
                                 "postSubmitAction": {"type": "thank_you",
                                                      "value": "Thanks for submitting the form."},
                                 "prePopulateKnownValues": True, "recaptchaEnabled": False},
               "displayOptions": {"renderRawHtml": False, "theme": "default_style",
                                  "submitButtonText": "Submit", "style": _FORM_STYLE},
               "legalConsentOptions": {"type": "none"}}
        if not s.live(k):
            out["archivedAt"] = iso_ms(s.archived[k])
        return out

    def campaign(self, k: int) -> dict:
        s = self.sets["campaigns"]
        rng = s.rng(k)
        sent = rng.randrange(50, 5000)
        delivered = sent - rng.randrange(0, max(1, sent // 20))
        opened = rng.randrange(0, delivered + 1)
        return {"id": CAMPAIGN_BASE_ID + k, "appId": 113, "appName": "Batch",
                "lastUpdatedTime": s.updated_ms(k), "contentId": EMAIL_BASE_ID + k,
                "name": f"{rng.choice(_WHAT)} {k}", "subject": f"{rng.choice(_WHAT)} #{k}",
                "type": "BATCH_EMAIL", "subType": "", "numIncluded": sent, "numQueued": sent,
                "counters": {"sent": sent, "delivered": delivered, "open": opened,
                             "click": rng.randrange(0, opened + 1), "bounce": sent - delivered}}

    def campaign_summary(self, k: int) -> dict:
        c = self.campaign(k)
        return {key: c[key] for key in ("id", "appId", "appName", "lastUpdatedTime")}

    def email(self, k: int) -> dict:
        s = self.sets["marketing_emails"]
        rng = s.rng(k)
        what = rng.choice(_WHAT)
        sent = rng.randrange(50, 5000)
        return {"id": EMAIL_BASE_ID + k, "name": f"{what} {k}", "subject": f"{what} #{k}",
                "created": s.created_ms(k), "updated": s.updated_ms(k),
                "publishDate": s.created_ms(k) + DAY, "state": "PUBLISHED",
                "emailType": "BATCH_EMAIL", "archived": not s.live(k),
                "campaign": str(CAMPAIGN_BASE_ID + k % self.sets["campaigns"].base_count),
                "fromName": "Marketing", "replyTo": f"marketing@{self.store.domain}",
                "stats": {"counters": {"sent": sent, "open": rng.randrange(0, sent)}}}

    def event(self, k: int, hub_id: int) -> dict:
        s = self.sets["email_events"]
        rng = s.rng(k)
        created = s.created_ms(k)
        n_contacts = max(1, self.store.base_counts["contacts"])
        return {"id": self.item_id("email_events", k), "appId": 113, "appName": "Batch",
                "emailCampaignId": CAMPAIGN_BASE_ID + k % self.sets["campaigns"].base_count,
                "created": created, "portalId": hub_id,
                "recipient": f"contact.{k % n_contacts}@{self.store.domain}",
                "type": rng.choice(_EVENT_TYPES),
                "sentBy": {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                           "created": created}}
