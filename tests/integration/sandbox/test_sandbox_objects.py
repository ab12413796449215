"""Custom objects (schemas, records, search, changes), leads / goals / deal splits, and the marketing
datasets sized by the account and changed on demand."""
import pytest
import requests
from hubspot import HubSpot

from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, install

SCOPES = None  # the app's (tests.harness.sandbox_oauth.APP_SCOPES)


@pytest.fixture(scope="module")
def objs():
    srv = SandboxServer(seed=3, accounts=3, records_per_object=120, rate_limits=False,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    hubs = list(srv.state.accounts)
    toks = [install(srv.url, h, scope=SCOPES)["access_token"] for h in hubs]
    yield srv, hubs, toks
    srv.stop()


def _h(tok):
    return {"Authorization": f"Bearer {tok}"}


def _get(srv, tok, path, **params):
    r = requests.get(f"{srv.url}{path}", params=params, headers=_h(tok))
    assert r.status_code == 200, r.text
    return r.json()


def _all(srv, tok, object_type, **params):
    out, after = [], None
    while True:
        body = _get(srv, tok, f"/crm/v3/objects/{object_type}", limit=100,
                    **params, **({"after": after} if after else {}))
        out += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


def test_custom_object_schemas_differ_per_account_and_parse_with_the_sdk(objs):
    srv, hubs, toks = objs
    seen = []
    for hub, tok in zip(hubs, toks, strict=True):
        schemas = _get(srv, tok, "/crm/v3/schemas")["results"]
        assert 1 <= len(schemas) <= 2
        for sch in schemas:
            assert sch["objectTypeId"].startswith("2-")
            assert sch["fullyQualifiedName"] == f"p{hub}_{sch['name']}"
            assert sch["primaryDisplayProperty"] in {p["name"] for p in sch["properties"]}
            assert {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"} <= \
                {p["name"] for p in sch["properties"]}
        assert _get(srv, tok, "/crm-object-schemas/v3/schemas")["results"] == schemas
        seen.append(sorted(s["name"] for s in schemas))
    assert len({tuple(x) for x in seen}) == 3          # three accounts, three different sets
    api = HubSpot(access_token=toks[0], host=srv.url)
    parsed = api.crm.schemas.core_api.get_all().results
    assert parsed and parsed[0].fully_qualified_name.startswith(f"p{hubs[0]}_")
    one = api.crm.schemas.core_api.get_by_id(parsed[0].object_type_id)
    assert one.name == parsed[0].name and one.properties
    page = api.crm.objects.basic_api.get_page(parsed[0].fully_qualified_name, limit=5)
    assert len(page.results) == 5 and page.results[0].properties["hs_object_id"]


def test_schemas_need_a_custom_object_scope(objs):
    srv, hubs, toks = objs
    rec = srv.state.access_tokens[toks[2]]
    saved, rec["scopes"] = rec["scopes"], ["oauth", "crm.objects.contacts.read"]
    try:
        r = requests.get(f"{srv.url}/crm/v3/schemas", headers=_h(toks[2]))
        assert r.status_code == 403 and r.json()["category"] == "MISSING_SCOPES"
    finally:
        rec["scopes"] = saved
    assert requests.get(f"{srv.url}/crm/v3/schemas", headers=_h(toks[2])).status_code == 200


def test_custom_object_records_by_every_name_and_counted(objs):
    srv, hubs, toks = objs
    sch = _get(srv, toks[1], "/crm/v3/schemas")["results"][0]
    counts = requests.get(f"{srv.url}/_sandbox/accounts/{hubs[1]}").json()
    assert sch["name"] in counts["objects"] and \
        {"name": sch["name"], "objectTypeId": sch["objectTypeId"],
         "fullyQualifiedName": sch["fullyQualifiedName"]} in counts["custom_objects"]
    by_fqn = _all(srv, toks[1], sch["fullyQualifiedName"])
    assert len(by_fqn) == counts["objects"][sch["name"]]["live"] == 120
    for alias in (sch["objectTypeId"], f"p_{sch['name']}"):
        assert [r["id"] for r in _all(srv, toks[1], alias)] == [r["id"] for r in by_fqn]
    props = _get(srv, toks[1], f"/crm/v3/properties/{sch['objectTypeId']}")["results"]
    assert {p["name"] for p in props} == {p["name"] for p in sch["properties"]}
    assert len(_get(srv, toks[1], f"/properties/v2/{sch['fullyQualifiedName']}/properties")) == len(props)
    # another account does not know this object
    r = requests.get(f"{srv.url}/crm/v3/objects/{sch['fullyQualifiedName']}", headers=_h(toks[0]))
    assert r.status_code == 400 and r.json()["category"] == "OBJECT_NOT_FOUND"
    # associated to contacts, both ways
    rid = by_fqn[0]["id"]
    assoc = _get(srv, toks[1], f"/crm/v4/objects/{sch['fullyQualifiedName']}/{rid}/associations/contacts")
    assert assoc["results"] and assoc["results"][0]["associationTypes"][0]["typeId"] > 0
    # changes by fullyQualifiedName; search sees them
    ch = requests.post(f"{srv.url}/_sandbox/accounts/{hubs[1]}/changes", json={
        sch["fullyQualifiedName"]: {"creates": 2, "updates": 1, "deletes": 1}}).json()["changes"][sch["name"]]
    since = max(r["updatedAt"] for r in by_fqn)
    found = requests.post(f"{srv.url}/crm/v3/objects/{sch['objectTypeId']}/search", headers=_h(toks[1]), json={
        "filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": since}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}).json()
    assert {r["id"] for r in found["results"]} == set(ch["created"]) | set(ch["updated"])
    after = requests.get(f"{srv.url}/_sandbox/accounts/{hubs[1]}").json()["objects"][sch["name"]]
    assert after == {"live": 121, "deleted": 1}


def test_leads_goals_and_deal_splits_hold_data(objs):
    srv, hubs, toks = objs
    leads = _all(srv, toks[0], "leads", associations="contacts,companies")
    goals = _all(srv, toks[0], "goal_targets")
    splits = _all(srv, toks[0], "deal_split", properties="hs_deal_split_percentage")
    truth = requests.get(f"{srv.url}/_sandbox/accounts/{hubs[0]}").json()["objects"]
    assert len(leads) == truth["leads"]["live"] == 120
    assert len(goals) == truth["goal_targets"]["live"] == 60      # goals are capped (one page)
    assert len(splits) == truth["deal_splits"]["live"] == 180        # half the deals split in two
    assert leads[0]["associations"]["contacts"]["results"]
    deals = [d["id"] for d in _all(srv, toks[0], "deals")]
    # the splits API takes its own scope (deal-splits-v3.json), which the app does not ask for
    splits_tok = install(srv.url, hubs[0], scope="oauth crm.dealsplits.read_write")["access_token"]
    r = requests.post(f"{srv.url}/crm/objects/v3/deals/splits/batch/read", headers=_h(splits_tok),
                      json={"inputs": [{"id": d} for d in deals[:100]]}).json()["results"]
    shares = [sum(float(x["properties"]["hs_deal_split_percentage"]) for x in d["splits"]) for d in r]
    assert len(r) == 100 and all(abs(x - 1.0) < 1e-6 for x in shares)
    assert {len(d["splits"]) for d in r} == {1, 2}
    names = {p["name"] for p in _get(srv, toks[0], "/properties/v2/leads/properties")}
    assert {"hs_lead_name", "hs_pipeline_stage"} <= names
    g = _get(srv, toks[0], f"/crm/v3/objects/goal_targets/{goals[0]['id']}",
             properties="hs_start_datetime,hs_end_datetime")["properties"]
    assert g["hs_start_datetime"] < g["hs_end_datetime"]


def test_marketing_sized_by_account_and_changed_on_demand():
    small = SandboxServer(seed=3, accounts=1, records_per_object=20)
    big = SandboxServer(seed=3, accounts=1, records_per_object=4000,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    try:
        m_small = next(iter(small.state.accounts.values())).summary(small.state.user)["marketing"]
        hub = list(big.state.accounts)[0]
        m_big = requests.get(f"{big.url}/_sandbox/accounts/{hub}").json()["marketing"]
        for kind in ("forms", "campaigns", "marketing_emails", "email_events"):
            assert m_big[kind]["live"] > m_small[kind]["live"] > 0, kind
        tok = install(big.url, hub, scope="oauth content forms")["access_token"]
        forms, after = [], None
        while True:
            body = _get(big, tok, "/marketing/v3/forms", limit=50, **({"after": after} if after else {}))
            forms += body["results"]
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
        assert len(forms) == m_big["forms"]["live"] == 200 and len({f["id"] for f in forms}) == 200
        ch = requests.post(f"{big.url}/_sandbox/accounts/{hub}/changes", json={
            "forms": {"creates": 2, "deletes": 3, "updates": 1}, "campaigns": {"updates": 2, "creates": 1},
            "marketing_emails": {"deletes": 1}, "email_events": {"creates": 5}}).json()["changes"]
        m = requests.get(f"{big.url}/_sandbox/accounts/{hub}").json()["marketing"]
        assert m["forms"] == {"live": 199, "deleted": 3} and m["email_events"]["live"] == 8005
        arch = _get(big, tok, "/marketing/v3/forms", archived="true", limit=100)["results"]
        assert {f["id"] for f in arch} == set(ch["forms"]["deleted"])
        upd = _get(big, tok, f"/marketing/v3/forms/{ch['forms']['updated'][0]}")
        assert upd["updatedAt"] > max(f["updatedAt"] for f in forms)
        camp = _get(big, tok, f"/email/public/v1/campaigns/{ch['campaigns']['updated'][0]}")
        assert camp["lastUpdatedTime"] >= big.state.clock.now_ms() - 60_000
        emails = _get(big, tok, "/marketing-emails/v1/emails/with-statistics", limit=250)
        assert emails["total"] == m["marketing_emails"]["live"] == 399
        # email events: a time window is an index range; windows add up and new events are last
        now = big.state.clock.now_ms()
        recent = _get(big, tok, "/email/public/v1/events", startTimestamp=now - 60_000, endTimestamp=now + 1)
        assert {e["id"] for e in recent["events"]} == set(ch["email_events"]["created"])
        total, start = 0, 0
        for end in (1_660_000_000_000, 1_700_000_000_000, now + 1):
            off = 0
            while True:
                page = _get(big, tok, "/email/public/v1/events", startTimestamp=start,
                            endTimestamp=end, offset=off, limit=1000)
                assert all(start <= e["created"] <= end for e in page["events"])
                total += len(page["events"])
                off = page["offset"]
                if not page["hasMore"]:
                    break
            start = end + 1
        assert total == 8005
        bad = requests.post(f"{big.url}/_sandbox/accounts/{hub}/changes",
                            json={"email_events": {"deletes": 1}})
        assert bad.status_code == 400
    finally:
        big.stop()


def test_legacy_engagements_page_by_cursor(objs):
    srv, hubs, toks = objs
    requests.post(f"{srv.url}/_sandbox/accounts/{hubs[2]}/changes", json={"notes": {"deletes": 3}})
    found, offset = [], 0
    while True:
        page = _get(srv, toks[2], "/engagements/v1/engagements/paged", count=50, offset=offset)
        found += page["results"]
        offset = page["offset"]
        if not page["hasMore"]:
            break
    ids = [e["engagement"]["id"] for e in found]
    truth = requests.get(f"{srv.url}/_sandbox/accounts/{hubs[2]}").json()["objects"]
    live = {k: truth[k]["live"] for k in ("calls", "emails", "meetings", "notes", "tasks")}
    assert live["notes"] == 117
    assert len(ids) == len(set(ids)) == sum(live.values()) == page["total"]
    kinds = {}
    for e in found:
        kinds[e["engagement"]["type"]] = kinds.get(e["engagement"]["type"], 0) + 1
    assert kinds == {"CALL": live["calls"], "EMAIL": live["emails"], "MEETING": live["meetings"],
                     "NOTE": live["notes"], "TASK": live["tasks"]}
    # Each activity carries its contact, company, deal and ticket, as the v3 associations say.
    call = next(e for e in found if e["engagement"]["type"] == "CALL")
    v3 = _get(srv, toks[2], f"/crm/v3/objects/calls/{call['engagement']['id']}",
              associations="contacts,companies,deals,tickets")["associations"]
    for key, name in (("contactIds", "contacts"), ("companyIds", "companies"),
                      ("dealIds", "deals"), ("ticketIds", "tickets")):
        assert call["associations"][key] == [int(r["id"]) for r in v3[name]["results"]] != []
    # The recent API answers only what changed at or after `since`.
    changed = requests.post(f"{srv.url}/_sandbox/accounts/{hubs[2]}/changes",
                            json={"meetings": {"updates": 2}}).json()["changes"]["meetings"]
    since_ms = int(requests.get(f"{srv.url}/_sandbox/clock").json()["now"] * 1000) - 60_000
    recent = _get(srv, toks[2], "/engagements/v1/engagements/recent/modified", since=since_ms)
    assert {str(e["engagement"]["id"]) for e in recent["results"]} == set(changed["updated"])
    assert recent["total"] == 2
