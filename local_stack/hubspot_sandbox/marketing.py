"""Owners, pipelines and the legacy/marketing endpoints the connector reads. Forms, campaigns,
marketing emails and email events come from the account's marketing_data (sized by the account,
changed by /_sandbox/accounts/{hub_id}/changes); the rest are small fixed-size datasets,
deterministic from the account key."""
import random
import zlib

from flask import g, request

from .data import EPOCH_MS, iso_ms
from .errors import error, json_response
from .marketing_data import CAMPAIGN_BASE_ID

DAY = 86_400_000
FORM_PROPERTIES = [{"name": n, "label": n.title(), "type": t, "fieldType": f, "groupName": "form",
                    "options": [], "hidden": False, "calculated": False, "deleted": False}
                   for n, t, f in (("email", "string", "text"), ("firstname", "string", "text"),
                                   ("message", "string", "textarea"))]
SIZES = {"submissions": 4, "lists": 3, "workflows": 2, "timeline": 10}


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

    def _int_arg(name, default):
        try:
            return int(request.args.get(name) or default)
        except ValueError:
            return default

    @app.get("/marketing/v3/forms")
    @app.get("/marketing/v3/forms/")
    def forms():
        m = g.store.marketing
        s = m.sets["forms"]
        archived = request.args.get("archived", "false").lower() == "true"
        after, limit = max(0, _int_arg("after", 0)), max(1, min(_int_arg("limit", 20), 100))
        results, k = [], after
        while k < s.count and len(results) < limit:     # `after` is the next form's position
            if s.live(k) != archived:
                results.append(m.form(k))
            k += 1
        body = {"results": results}
        if any(s.live(j) != archived for j in range(k, s.count)):
            body["paging"] = {"next": {"after": str(k),
                                       "link": f"{request.base_url}?after={k}"}}
        return ok(body)

    @app.get("/marketing/v3/forms/<form_id>")
    def form(form_id):
        k = g.store.marketing.form_index(form_id)
        if k is None:
            return error(404, "error", f"Form {form_id} not found", category="OBJECT_NOT_FOUND")
        return ok(g.store.marketing.form(k))

    @app.get("/form-integrations/v1/submissions/forms/<form_id>")
    def form_submissions(form_id):
        rng = random.Random(zlib.crc32(f"{g.store.key}:sub:{form_id}".encode()))
        items = [{"submittedAt": EPOCH_MS + rng.randrange(3 * 365) * DAY, "pageUrl": "https://example.com/form",
                  "conversionId": f"{rng.getrandbits(64):016x}",
                  "values": [{"name": "email", "value": f"lead{k}@example.com", "objectTypeId": "0-1"}]}
                 for k in range(SIZES["submissions"])]
        after, limit = _int_arg("after", 0), _int_arg("limit", 50)
        body = {"results": items[after:after + limit]}
        if after + limit < len(items):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return ok(body)

    def _window(s, start, end):
        """Positions of a marketing set created within [start, end] (times grow with position)."""
        return s.first_at_or_after(start), s.first_at_or_after(end + 1)

    def _offset_window(lo, hi, key, default_limit, build):
        """Legacy offset paging over positions lo..hi-1 (live ones), building only one page."""
        try:
            off = int(request.args.get("offset") or 0)
            lim = int(request.args.get("limit") or request.args.get("count") or default_limit)
        except ValueError:
            off, lim = 0, default_limit
        lim = max(1, min(lim, default_limit))
        page = [build(k) for k in range(lo + off, min(hi, lo + off + lim))]
        return {key: page, "hasMore": lo + off + lim < hi, "offset": off + len(page)}

    @app.get("/email/public/v1/campaigns")
    @app.get("/email/public/v1/campaigns/by-id")
    def campaigns():
        m = g.store.marketing
        return ok(_offset_window(0, m.sets["campaigns"].count, "campaigns", 500, m.campaign_summary))

    @app.get("/email/public/v1/campaigns/<int:cid>")
    def campaign_detail(cid):
        m = g.store.marketing
        k = cid - CAMPAIGN_BASE_ID
        if not 0 <= k < m.sets["campaigns"].count:
            return error(404, "error", "Campaign not found", category="OBJECT_NOT_FOUND")
        return ok(m.campaign(k))

    @app.get("/marketing-emails/v1/emails/with-statistics")
    def marketing_emails():
        m = g.store.marketing
        s = m.sets["marketing_emails"]
        live = [k for k in range(s.count) if s.live(k)]      # at most a few thousand
        page = _offset_window(0, len(live), "objects", 250, lambda j: m.email(live[j]))
        return ok({"objects": page["objects"], "total": len(live), "limit": 250,
                   "offset": int(request.args.get("offset") or 0)})

    @app.get("/email/public/v1/events")
    def email_events():
        m = g.store.marketing
        s = m.sets["email_events"]
        lo, hi = _window(s, _int_arg("startTimestamp", 0), _int_arg("endTimestamp", 1 << 62))
        return ok(_offset_window(lo, hi, "events", 1000, lambda k: m.event(k, g.hub_id)))

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
        # Legacy engagements: one per note of the account (the v3 `notes` table). `offset` is a
        # cursor (the next note's position), as HubSpot's is opaque; only one page is built.
        t = g.store.tables["notes"]
        i, lim = max(0, _int_arg("offset", 0)), max(1, min(_int_arg("count", _int_arg("limit", 250)), 250))
        items = []
        while i < t.count and len(items) < lim:
            if i not in t.archived:
                created, updated = t.created_ms(i), t.updated_ms(i)
                items.append({"engagement": {"id": t.base_id + i, "portalId": g.hub_id, "active": True,
                                             "createdAt": created, "lastUpdated": updated,
                                             "type": "NOTE", "timestamp": created},
                              "associations": {"contactIds": [], "companyIds": [], "dealIds": [],
                                               "ownerIds": [], "workflowIds": [], "ticketIds": []},
                              "attachments": [], "metadata": {"body": "note"}})
            i += 1
        more = any(j not in t.archived for j in range(i, t.count))
        return ok({"results": items, "hasMore": more, "offset": i, "total": t.count - len(t.archived)})
