"""Owners, pipelines and the legacy/marketing endpoints the connector reads. Forms, campaigns,
marketing emails and email events come from the account's marketing_data (sized by the account,
changed by /_sandbox/accounts/{hub_id}/changes); the rest are small fixed-size datasets,
deterministic from the account key."""
import bisect
import random
import uuid
import zlib

from flask import g, request

from .data import EPOCH_MS, iso_ms
from .errors import error, json_response
from .marketing_data import CAMPAIGN_BASE_ID
from .schema import DEAL_STAGE_LABELS, ENGAGEMENTS, TICKET_STAGE_LABELS

DAY = 86_400_000
FORM_PROPERTIES = [{"name": n, "label": n.title(), "type": t, "fieldType": f, "groupName": "form",
                    "options": [], "hidden": False, "calculated": False, "deleted": False}
                   for n, t, f in (("email", "string", "text"), ("firstname", "string", "text"),
                                   ("message", "string", "textarea"))]
SIZES = {"timeline": 10}
_LIST_NAMES = ["Newsletter subscribers", "Trial users", "Event attendees", "Churn risk",
               "Enterprise prospects", "Webinar leads", "Customers EMEA", "Re-engage"]
_WORKFLOW_NAMES = ["Lead nurturing", "Welcome series", "Renewal reminders", "MQL hand-off",
                   "Onboarding drip", "Win-back"]


def list_count(store) -> int:
    """Contact lists of an account, by its size (a few per hundred contacts)."""
    return max(3, min(200, store.size // 10))


def workflow_count(store) -> int:
    return max(2, min(100, store.size // 25))


def submissions_of(store, form_id: str) -> list:
    """A form's submissions: each by one of the account's contacts (its real email)."""
    rng = random.Random(zlib.crc32(f"{store.key}:sub:{form_id}".encode()))
    contacts = store.tables["contacts"]
    n = 1 + rng.randrange(max(2, store.size // 5))
    out = []
    for _ in range(n):
        j = rng.randrange(max(1, contacts.count))
        props = contacts.all_properties(j) if contacts.count else {}
        out.append({"submittedAt": EPOCH_MS + rng.randrange(3 * 365) * DAY + rng.randrange(DAY),
                    "pageUrl": f"https://www.{store.domain}/contact-us",
                    "conversionId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "values": [{"name": "email", "value": props.get("email") or f"lead{j}@example.com",
                                "objectTypeId": "0-1"},
                               {"name": "firstname", "value": props.get("firstname") or "",
                                "objectTypeId": "0-1"}]})
    out.sort(key=lambda x: x["submittedAt"])
    return out


def engagement_tables(store) -> list:
    """The five activity tables, in id order (ids are disjoint: base_id per type)."""
    return sorted((store.tables[n] for n in ENGAGEMENTS), key=lambda t: t.base_id)


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
            return ok({"results": g.store.archived_owners})
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
                "stages": [{"id": sid, "label": (DEAL_STAGE_LABELS if pid == "default" else
                                                 TICKET_STAGE_LABELS)[sid],
                            "displayOrder": k, "metadata": md,
                            "createdAt": ts, "updatedAt": ts, "archived": False,
                            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                           for k, (sid, md) in enumerate(stages)]}

    @app.get("/crm/v3/pipelines/<object_type>")
    def pipelines(object_type):
        return ok({"results": [v3_pipeline(object_type)]})

    def pipeline_or_none(object_type, pipeline_id):
        p = v3_pipeline(object_type)
        return p if p["id"] == pipeline_id else None

    def no_pipeline(what):
        return error(404, "error", f"Unable to find {what}", category="OBJECT_NOT_FOUND")

    @app.get("/crm/v3/pipelines/<object_type>/<pipeline_id>")
    def pipeline(object_type, pipeline_id):
        p = pipeline_or_none(object_type, pipeline_id)
        return ok(p) if p else no_pipeline(f"pipeline {pipeline_id}")

    @app.get("/crm/v3/pipelines/<object_type>/<pipeline_id>/stages")
    def pipeline_stages(object_type, pipeline_id):
        p = pipeline_or_none(object_type, pipeline_id)
        return ok({"results": p["stages"]}) if p else no_pipeline(f"pipeline {pipeline_id}")

    @app.get("/crm/v3/pipelines/<object_type>/<pipeline_id>/stages/<stage_id>")
    def pipeline_stage(object_type, pipeline_id, stage_id):
        p = pipeline_or_none(object_type, pipeline_id)
        stage = next((x for x in p["stages"] if x["id"] == stage_id), None) if p else None
        return ok(stage) if stage else no_pipeline(f"stage {stage_id} of pipeline {pipeline_id}")

    # The CRM Pipelines API v1 gives each stage's probability and closedness as metadata strings
    # (the connector's deal_pipelines schema: stages[].metadata.isClosed/probability), not the
    # deprecated Deal Pipelines API's top-level probability/closedWon.
    @app.get("/crm-pipelines/v1/pipelines/deals")
    def pipelines_v1_deals():
        return ok({"results": [{"pipelineId": "default", "label": "Sales Pipeline", "displayOrder": 0,
                                "active": True, "objectType": "DEAL", "objectTypeId": "0-3",
                                "default": True, "createdAt": EPOCH_MS, "updatedAt": EPOCH_MS + DAY,
                                "stages": [{"stageId": s, "label": DEAL_STAGE_LABELS[s],
                                            "metadata": {"isClosed": str(p in (0.0, 1.0)).lower(),
                                                         "probability": str(p)},
                                            "active": True, "displayOrder": k,
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
        if g.store.marketing.form_index(form_id) is None:
            return error(404, "error", f"Form {form_id} not found", category="OBJECT_NOT_FOUND")
        items = submissions_of(g.store, form_id)
        after, limit = max(0, _int_arg("after", 0)), max(1, min(_int_arg("limit", 50), 50))
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
        rng, n_lists = _rng("workflows"), list_count(g.store)
        owners = g.store.owners
        items = []
        for k in range(workflow_count(g.store)):
            created = EPOCH_MS + rng.randrange(3 * 365) * DAY
            author = owners[rng.randrange(len(owners))]["userId"]
            items.append({"id": 9000 + k, "name": f"{_WORKFLOW_NAMES[k % len(_WORKFLOW_NAMES)]} {k}",
                          "type": rng.choice(["DRIP_DELAY", "STATIC_ANCHOR", "PROPERTY_ANCHOR"]),
                          "enabled": rng.random() < 0.8, "portalId": g.hub_id,
                          "insertedAt": created, "updatedAt": created + rng.randrange(1, 90) * DAY,
                          "description": "", "creationSource": {"sourceApplication": {"source": "WORKFLOWS_APP"}},
                          "originalAuthorUserId": author, "lastUpdatedByUserId": author,
                          "personaTagIds": [],
                          "contactListIds": {"enrolled": 300 + rng.randrange(n_lists),
                                             "active": 300 + rng.randrange(n_lists),
                                             "completed": 300 + rng.randrange(n_lists),
                                             "succeeded": 300 + rng.randrange(n_lists)}})
        return ok({"workflows": items})

    @app.post("/crm/v3/lists/search")
    def lists_search():
        # CRM v3 lists search (HubSpot-public-api-spec-collection CRM/Lists v3 lists.json):
        # ListSearchResponse {lists, hasMore, offset, total}; additionalProperties are strings.
        rng, owners, contacts = _rng("lists"), g.store.owners, g.store.tables["contacts"].count
        items = []
        for k in range(list_count(g.store)):
            created = EPOCH_MS + rng.randrange(3 * 365) * DAY
            updated = created + rng.randrange(1, 120) * DAY
            kind = ["MANUAL", "DYNAMIC", "SNAPSHOT"][k % 3]
            by = str(owners[rng.randrange(len(owners))]["userId"])
            items.append({"listId": str(300 + k), "name": f"{_LIST_NAMES[k % len(_LIST_NAMES)]} {k}",
                          "processingType": kind, "objectTypeId": "0-1" if k % 5 else "0-2",
                          "listVersion": 1 + rng.randrange(6), "createdAt": iso_ms(created),
                          "updatedAt": iso_ms(updated), "processingStatus": "COMPLETE",
                          "filtersUpdatedAt": iso_ms(created), "createdById": by, "updatedById": by,
                          "additionalProperties": {
                              "hs_list_size": str(rng.randrange(max(1, contacts + 1))),
                              "hs_list_reference_count": str(rng.randrange(4)),
                              "hs_last_record_added_at": str(updated)}})
        page = _offset_page(items, "lists", 1000)
        page["total"] = len(items)
        return ok(page)

    @app.get("/engagements/v1/engagements/paged")
    @app.get("/engagements/v1/engagements/recent/modified")
    def engagements_v1():
        # Legacy engagements API (legacydocs.hubspot.com/docs/methods/engagements/
        # get-all-engagements, get-recent-engagements): every activity of the account (calls,
        # emails, meetings, notes, tasks: the same records and ids as the v3 objects) with its
        # associated ids. `offset` is the next engagement's id (HubSpot's is opaque too); the
        # recent endpoint returns only engagements modified at or after `since` (ms).
        store = g.store
        recent = request.path.endswith("/recent/modified")
        since = _int_arg("since", 0) if recent else 0
        cap = 100 if recent else 250
        lim = max(1, min(_int_arg("count", _int_arg("limit", cap)), cap))
        start = max(0, _int_arg("offset", 0))
        items, next_id, total = [], None, 0
        with store.lock:
            for t in engagement_tables(store):
                if recent:        # the sorted last-modified index counts them without a scan
                    idx = t.upd_index()
                    total += sum(1 for _, i in idx[bisect.bisect_left(idx, (since, -1)):]
                                 if i not in t.archived)
                else:
                    total += t.counts()["live"]
                i = max(0, start - t.base_id)
                while i < t.count and next_id is None:
                    if i not in t.archived and t.updated_ms(i) >= since:
                        if len(items) < lim:
                            items.append(_engagement(store, t, i))
                        else:
                            next_id = t.base_id + i
                    i += 1
        body = {"results": items, "hasMore": next_id is not None,
                "offset": next_id if next_id is not None else (start if not items else
                                                                 int(items[-1]["engagement"]["id"]) + 1)}
        body["total"] = total
        return ok(body)


_ENGAGEMENT_TYPE = {"calls": "CALL", "emails": "EMAIL", "meetings": "MEETING", "notes": "NOTE",
                    "tasks": "TASK"}


def _engagement(store, t, i) -> dict:
    props = t.all_properties(i)
    created, updated = t.created_ms(i), t.updated_ms(i)
    ts = created
    kind = _ENGAGEMENT_TYPE[t.name]
    ids = {}
    for other, key in (("contacts", "contactIds"), ("companies", "companyIds"),
                       ("deals", "dealIds"), ("tickets", "ticketIds")):
        o = store.tables[other]
        ids[key] = [o.base_id + j for j in t.associated(i, o)]
    owner = props.get("hubspot_owner_id")
    body = props.get("hs_body_preview") or ""
    meta = {"CALL": {"body": body, "status": "COMPLETED", "durationMilliseconds": 60_000 + (i * 7919) % 1_800_000,
                     "disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"},
            "EMAIL": {"subject": body[:40], "text": body, "from": {"email": f"sales@{store.domain}"},
                      "to": [{"email": f"contact{i}@{store.domain}"}]},
            "MEETING": {"title": body[:40], "body": body, "startTime": ts, "endTime": ts + 1_800_000},
            "NOTE": {"body": body},
            "TASK": {"subject": body[:40], "body": body, "status": "COMPLETED" if i % 2 else "NOT_STARTED",
                     "taskType": "TODO"}}[kind]
    return {"engagement": {"id": t.base_id + i, "portalId": store.hub_id, "active": True,
                           "createdAt": created, "lastUpdated": updated, "type": kind,
                           "timestamp": ts, "ownerId": int(owner) if owner else None,
                           "bodyPreview": body},
            "associations": {**ids, "ownerIds": [], "workflowIds": [], "quoteIds": [],
                             "marketingEventIds": [], "contentIds": []},
            "attachments": [], "metadata": meta}
