"""CRM APIs with HubSpot's official SDK, HubSpot semantics (search, limits, errors), faults."""
import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest

from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, install


@pytest.fixture(scope="module")
def crm():
    srv = SandboxServer(seed=5, accounts=2, records_per_object=250,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    hubs = list(srv.state.accounts)
    toks = [install(srv.url, h)["access_token"] for h in hubs]  # the app's scopes
    yield srv, hubs, toks
    srv.stop()


def _h(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_sdk_list_search_batch_properties_owners_pipelines(crm):
    srv, hubs, toks = crm
    api = HubSpot(access_token=toks[0], host=srv.url)
    page = api.crm.contacts.basic_api.get_page(limit=100, properties=["email", "firstname"])
    assert len(page.results) == 100 and page.paging.next.after
    assert page.results[0].properties["email"] and page.results[0].created_at
    everyone = api.crm.contacts.get_all()
    assert len(everyone) == 250 and len({c.id for c in everyone}) == 250
    found = api.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "LTE",
                                     "value": everyone[9].id}]}], limit=200))
    assert found.total == 10
    batch = api.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": everyone[0].id}, {"id": everyone[1].id}], properties=["email"]))
    assert {r.id for r in batch.results} == {everyone[0].id, everyone[1].id}
    props = api.crm.properties.core_api.get_all("contacts").results
    types = {p.type for p in props if not p.hubspot_defined}
    assert {"string", "number", "date", "datetime", "enumeration", "bool"} <= types
    owners = api.crm.owners.owners_api.get_page().results
    assert len(owners) == 5 and owners[0].email
    pipes = api.crm.pipelines.pipelines_api.get_all("deals").results
    assert pipes[0].stages and pipes[0].id == "default"
    first_deal = api.crm.deals.basic_api.get_page().results[0].id
    assoc = api.crm.associations.v4.basic_api.get_page("deals", first_deal, "contacts")
    assert assoc.results and assoc.results[0].to_object_id


def test_custom_properties_differ_per_account(crm):
    srv, hubs, toks = crm
    names = []
    for tok in toks:
        r = requests.get(f"{srv.url}/properties/v2/contacts/properties", headers=_h(tok)).json()
        names.append({p["name"] for p in r if not p["hubspotDefined"]})
    assert names[0] and names[0] != names[1]


def test_values_are_strings_and_tokens_pick_the_account(crm):
    srv, hubs, toks = crm
    a = requests.get(f"{srv.url}/crm/v3/objects/companies?properties=numberofemployees,domain",
                     headers=_h(toks[0])).json()["results"][0]
    b = requests.get(f"{srv.url}/crm/v3/objects/companies?properties=numberofemployees,domain",
                     headers=_h(toks[1])).json()["results"][0]
    assert isinstance(a["properties"]["numberofemployees"], str) and a["properties"] != b["properties"]
    assert requests.get(f"{srv.url}/crm/v3/objects/contacts").status_code == 401
    assert requests.get(f"{srv.url}/crm/v3/objects/contacts", headers=_h("nope")).json()["category"] \
        == "INVALID_AUTHENTICATION"


def test_search_cap_sorts_and_archived(crm):
    srv, hubs, toks = crm
    url = f"{srv.url}/crm/v3/objects/deals/search"
    r = requests.post(url, json={"limit": 200, "after": "10000"}, headers=_h(toks[1]))
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    r = requests.post(url, json={"limit": 500, "sorts": [{"propertyName": "hs_lastmodifieddate",
                                                          "direction": "DESCENDING"}]},
                      headers=_h(toks[1])).json()
    assert len(r["results"]) == 200 and r["total"] == 250 and r["paging"]["next"]["after"] == "200"
    mods = [x["properties"]["hs_lastmodifieddate"] for x in r["results"]]
    assert mods == sorted(mods, reverse=True)
    ch = requests.post(f"{srv.url}/_sandbox/accounts/{hubs[1]}/changes",
                       json={"deals": {"deletes": 2}}).json()["changes"]["deals"]
    arch = requests.get(f"{srv.url}/crm/v3/objects/deals?archived=true", headers=_h(toks[1])).json()
    assert {x["id"] for x in arch["results"]} == set(ch["deleted"]) and arch["results"][0]["archived"]
    assert requests.post(url, json={}, headers=_h(toks[1])).json()["total"] == 248


def test_search_lag(crm):
    srv, hubs, toks = crm
    requests.post(f"{srv.url}/_sandbox/settings", json={"search_lag_seconds": 30})
    try:
        new = requests.post(f"{srv.url}/_sandbox/accounts/{hubs[0]}/changes",
                            json={"tickets": {"creates": 1}}).json()["changes"]["tickets"]["created"][0]
        flt = {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": new}]}
        s = f"{srv.url}/crm/v3/objects/tickets/search"
        assert requests.post(s, json=flt, headers=_h(toks[0])).json()["total"] == 0
        assert requests.get(f"{srv.url}/crm/v3/objects/tickets/{new}", headers=_h(toks[0])).status_code == 200
        requests.post(f"{srv.url}/_sandbox/clock/advance", json={"seconds": 31})
        tok = install(srv.url, hubs[0])["access_token"]      # clock moved: fresh token
        assert requests.post(s, json=flt, headers=_h(tok)).json()["total"] == 1
    finally:
        requests.post(f"{srv.url}/_sandbox/settings", json={"search_lag_seconds": 0})


def test_rate_limits_headers_and_429(crm):
    srv, hubs, toks = crm
    tok = install(srv.url, hubs[1])["access_token"]
    r = requests.get(f"{srv.url}/crm/v3/owners", headers=_h(tok))
    assert r.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert int(r.headers["X-HubSpot-RateLimit-Remaining"]) < 110
    codes = [requests.post(f"{srv.url}/crm/v3/objects/contacts/search", json={"limit": 1},
                           headers=_h(tok)) for _ in range(8)]
    limited = [c for c in codes if c.status_code == 429]
    assert limited and limited[0].json()["errorType"] == "RATE_LIMIT" and limited[0].json()["policyName"]
    statuses = [requests.get(f"{srv.url}/crm/v3/owners", headers=_h(tok)).status_code for _ in range(120)]
    assert 429 in statuses


def test_faults_on_demand(crm):
    srv, hubs, toks = crm
    tok = install(srv.url, hubs[0])["access_token"]
    url = f"{srv.url}/crm/v3/objects/notes"
    fault = f"{srv.url}/_sandbox/accounts/{hubs[0]}/faults"
    requests.post(fault, json={"kind": "503", "count": 1})
    assert requests.get(url, headers=_h(tok)).status_code == 503
    assert requests.get(url, headers=_h(tok)).status_code == 200
    requests.post(fault, json={"kind": "malformed", "count": 1})
    with pytest.raises(ValueError):
        requests.get(url, headers=_h(tok)).json()
    requests.post(fault, json={"kind": "429", "count": 1})
    assert requests.get(url, headers=_h(tok)).json()["errorType"] == "RATE_LIMIT"
    requests.post(fault, json={"kind": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=_h(tok))
    requests.post(fault, json={"kind": "500"})
    assert requests.get(url, headers=_h(tok)).status_code == 500
    requests.delete(fault)
    assert requests.get(url, headers=_h(tok)).status_code == 200


