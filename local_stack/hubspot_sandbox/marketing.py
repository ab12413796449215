"""Owners, pipelines and the legacy/marketing endpoints the connector reads. Small fixed-size
datasets per account (a few to a few dozen items), deterministic from the account key."""
import random
import zlib

from flask import g, request

from .data import EPOCH_MS, iso_ms
from .errors import error, json_response

DAY = 86_400_000
FORM_PROPERTIES = [{"name": n, "label": n.title(), "type": t, "fieldType": f, "groupName": "form",
                    "options": [], "hidden": False, "calculated": False, "deleted": False}
                   for n, t, f in (("email", "string", "text"), ("firstname", "string", "text"),
                                   ("message", "string", "textarea"))]
SIZES = {"forms": 3, "submissions": 4, "campaigns": 5, "emails": 4, "events": 30, "lists": 3,
         "workflows": 2, "timeline": 10}


def _rng(kind):
    return random.Random(zlib.crc32(f"{g.store.key}:{kind}".encode()))


def _offset_page(items, key, default_limit):
    """Legacy offset paging: {key: [...], "hasMore": bool, "offset": next offset}."""
    try:
        off = int(request.values.get("offset") or (request.get_json(silent=True) or {}).get("offset") or 0)
        lim = int(request.values.get("limit") or request.values.get("count")
                  or (request.get_json(silent=True) or {}).get("count") or default_limit)
    except ValueError:
        off, lim = 0, default_limit
    page = items[off:off + lim]
    return {key: page, "hasMore": off + lim < len(items), "offset": off + len(page)}


def _deal_stages():
    return [("appointmentscheduled", 0.2), ("qualifiedtobuy", 0.4), ("presentationscheduled", 0.6),
            ("closedwon", 1.0), ("closedlost", 0.0)]


def register(app, st):
    ok = json_response

    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")
    def owners():
        if request.args.get("archived", "false").lower() == "true":
            return ok({"results": []})
        return ok({"results": g.store.owners})

    @app.get("/crm/v3/owners/<owner_id>")
    def owner(owner_id):
        for o in g.store.owners:
            if o["id"] == owner_id:
                return ok(o)
        return error(404, "error", "Owner not found", category="OBJECT_NOT_FOUND")

    def v3_pipeline(object_type):
        if object_type in ("deals", "deal", "0-3"):
            stages = [(s, {"probability": str(p), "isClosed": str(p in (0.0, 1.0)).lower()})
                      for s, p in _deal_stages()]
            pid = "default"
        else:
            stages = [(str(k), {"ticketState": "CLOSED" if k == 4 else "OPEN", "isClosed": str(k == 4).lower()})
                      for k in range(1, 5)]
            pid = "0"
        ts = iso_ms(EPOCH_MS)
        return {"id": pid, "label": "Sales Pipeline" if pid == "default" else "Support Pipeline",
                "displayOrder": 0, "createdAt": ts, "updatedAt": ts, "archived": False,
                "stages": [{"id": sid, "label": sid.title(), "displayOrder": k, "metadata": md,
                            "createdAt": ts, "updatedAt": ts, "archived": False, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                           for k, (sid, md) in enumerate(stages)]}

    @app.get("/crm/v3/pipelines/<object_type>")
    def pipelines(object_type):
        return ok({"results": [v3_pipeline(object_type)]})

    @app.get("/crm-pipelines/v1/pipelines/deals")
    def pipelines_v1_deals():
        return ok({"results": [{"pipelineId": "default", "label": "Sales Pipeline", "displayOrder": 0,
                                "active": True, "objectType": "DEAL", "objectTypeId": "0-3",
                                "default": True, "createdAt": EPOCH_MS, "updatedAt": EPOCH_MS + DAY,
                                "stages": [{"stageId": s, "label": s.title(), "probability": p,
                                            "active": True, "displayOrder": k, "closedWon": p == 1.0,
                                            "createdAt": EPOCH_MS, "updatedAt": EPOCH_MS + DAY}
                                           for k, (s, p) in enumerate(_deal_stages())]}]})

    def forms_list():
        rng = _rng("forms")
        return [{"id": f"{rng.getrandbits(32):08x}-form-{k}", "name": f"Form {k}", "formType": "hubspot",
                 "createdAt": iso_ms(EPOCH_MS + k * DAY), "updatedAt": iso_ms(EPOCH_MS + k * DAY + 3600_000),
                 "archived": False, "fieldGroups": [{"groupType": "default_group", "richTextType": "text",
                                                     "fields": [{"objectTypeId": "0-1", "name": "email",
                                                                 "label": "Email", "required": True,
                                                                 "hidden": False, "fieldType": "email"}]}],
                 "configuration": {"language": "en", "createNewContactForNewEmail": True},
                 "displayOptions": {"renderRawHtml": False, "theme": "default_style"},
                 "legalConsentOptions": {"type": "none"}}
                for k in range(SIZES["forms"])]

    @app.get("/marketing/v3/forms")
    @app.get("/marketing/v3/forms/")
    def forms():
        items = forms_list()
        try:
            after = int(request.args.get("after") or 0)
            limit = int(request.args.get("limit") or 20)
        except ValueError:
            after, limit = 0, 20
        body = {"results": items[after:after + limit]}
        if after + limit < len(items):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return ok(body)

    @app.get("/form-integrations/v1/submissions/forms/<form_id>")
    def form_submissions(form_id):
        rng = random.Random(zlib.crc32(f"{g.store.key}:sub:{form_id}".encode()))
        items = [{"submittedAt": EPOCH_MS + rng.randrange(3 * 365) * DAY, "pageUrl": "https://example.com/form",
                  "conversionId": f"{rng.getrandbits(64):016x}",
                  "values": [{"name": "email", "value": f"lead{k}@example.com", "objectTypeId": "0-1"}]}
                 for k in range(SIZES["submissions"])]
        try:
            after = int(request.args.get("after") or 0)
        except ValueError:
            after = 0
        limit = int(request.args.get("limit") or 50)
        body = {"results": items[after:after + limit]}
        if after + limit < len(items):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return ok(body)

    def campaign(k):
        return {"id": 100000 + k, "appId": 113, "appName": "Batch", "lastUpdatedTime": EPOCH_MS + k * DAY,
                "contentId": 5000 + k, "name": f"Campaign {k}", "subject": f"News {k}", "type": "BATCH_EMAIL",
                "subType": "", "numIncluded": 100, "numQueued": 100,
                "counters": {"sent": 100, "delivered": 98, "open": 40, "click": 10}}

    @app.get("/email/public/v1/campaigns")
    @app.get("/email/public/v1/campaigns/by-id")
    def campaigns():
        items = [{k: v for k, v in campaign(k).items() if k in ("id", "appId", "appName", "lastUpdatedTime")}
                 for k in range(SIZES["campaigns"])]
        return ok(_offset_page(items, "campaigns", 500))

    @app.get("/email/public/v1/campaigns/<int:cid>")
    def campaign_detail(cid):
        k = cid - 100000
        if not 0 <= k < SIZES["campaigns"]:
            return error(404, "error", "Campaign not found", category="OBJECT_NOT_FOUND")
        return ok(campaign(k))

    @app.get("/marketing-emails/v1/emails/with-statistics")
    def marketing_emails():
        items = [{"id": 7000 + k, "name": f"Newsletter {k}", "subject": f"Issue {k}",
                  "created": EPOCH_MS + k * DAY, "updated": EPOCH_MS + k * DAY + 3600_000,
                  "state": "PUBLISHED", "emailType": "BATCH_EMAIL", "archived": False,
                  "stats": {"counters": {"sent": 100, "open": 40}}} for k in range(SIZES["emails"])]
        page = _offset_page(items, "objects", 250)
        return ok({"objects": page["objects"], "total": len(items), "limit": 250,
                   "offset": int(request.args.get("offset") or 0)})

    @app.get("/email/public/v1/events")
    def email_events():
        rng = _rng("events")
        start = int(request.args.get("startTimestamp") or 0)
        end = int(request.args.get("endTimestamp") or 1 << 62)
        items = []
        for k in range(SIZES["events"]):
            created = EPOCH_MS + rng.randrange(3 * 365) * DAY
            item = {"id": f"evt-{k}-{rng.getrandbits(32):x}", "appId": 113, "appName": "Batch",
                    "emailCampaignId": 100000 + k % SIZES["campaigns"], "created": created,
                    "recipient": f"user{k}@example.com", "portalId": g.hub_id,
                    "type": rng.choice(["SENT", "DELIVERED", "OPEN", "CLICK"]),
                    "sentBy": {"id": f"sent-{k}", "created": created}}
            if start <= created <= end:
                items.append(item)
        return ok(_offset_page(items, "events", 1000))

    @app.get("/email/public/v1/subscriptions")
    def email_subscriptions():
        return ok({"subscriptionDefinitions": [
            {"id": 1000 + k, "portalId": g.hub_id, "name": n, "description": f"{n} emails",
             "active": True, "internal": False, "category": "Marketing", "channel": "Email",
             "internalName": n.upper(), "businessUnitId": 0}
            for k, n in enumerate(["Newsletter", "Product updates", "Events"])]})

    @app.get("/email/public/v1/subscriptions/timeline")
    def subscription_timeline():
        rng = _rng("timeline")
        start = int(request.args.get("startTimestamp") or 0)
        end = int(request.args.get("endTimestamp") or 1 << 62)
        items = [{"portalId": g.hub_id, "recipient": f"user{k}@example.com",
                  "timestamp": EPOCH_MS + rng.randrange(3 * 365) * DAY, "normalizedEmailId": f"n{k}",
                  "changes": [{"change": "SUBSCRIBED", "changeType": "SUBSCRIPTION_STATUS",
                               "subscriptionId": 1000, "source": "SOURCE_HUBSPOT_CUSTOMER",
                               "portalId": g.hub_id, "timestamp": EPOCH_MS + k * DAY,
                               "causedByEvent": {"id": f"c{k}", "created": EPOCH_MS + k * DAY}}]}
                 for k in range(SIZES["timeline"])]
        items = [x for x in items if start <= x["timestamp"] <= end]
        return ok(_offset_page(items, "timeline", 1000))

    @app.get("/automation/v3/workflows")
    def workflows():
        return ok({"workflows": [{"id": 9000 + k, "name": f"Workflow {k}", "type": "DRIP_DELAY",
                                  "enabled": True, "insertedAt": EPOCH_MS + k * DAY,
                                  "updatedAt": EPOCH_MS + k * DAY + 3600_000,
                                  "portalId": g.hub_id, "contactListIds": {"enrolled": 1, "active": 2}}
                                 for k in range(SIZES["workflows"])]})

    @app.post("/crm/v3/lists/search")
    def lists_search():
        items = [{"listId": str(300 + k), "name": f"List {k}", "processingType": "MANUAL",
                  "objectTypeId": "0-1", "listVersion": 1, "createdAt": iso_ms(EPOCH_MS + k * DAY),
                  "updatedAt": iso_ms(EPOCH_MS + k * DAY + 3600_000), "processingStatus": "COMPLETE",
                  "filtersUpdatedAt": iso_ms(EPOCH_MS), "additionalProperties": {}}
                 for k in range(SIZES["lists"])]
        page = _offset_page(items, "lists", 1000)
        page["total"] = len(items)
        return ok(page)

    @app.get("/engagements/v1/engagements/paged")
    @app.get("/engagements/v1/engagements/recent/modified")
    def engagements_v1():
        # Legacy engagements: one per note of the account (the v3 `notes` table).
        t = g.store.tables["notes"]
        items = []
        for i in range(t.count):
            if i in t.archived:
                continue
            created, updated = t.created_ms(i), t.updated_ms(i)
            items.append({"engagement": {"id": t.base_id + i, "portalId": g.hub_id, "active": True,
                                         "createdAt": created, "lastUpdated": updated, "type": "NOTE",
                                         "timestamp": created},
                          "associations": {"contactIds": [], "companyIds": [], "dealIds": [],
                                           "ownerIds": [], "workflowIds": [], "ticketIds": []},
                          "attachments": [], "metadata": {"body": "note"}})
        page = _offset_page(items, "results", 250)
        page["total"] = len(items)
        return ok(page)
