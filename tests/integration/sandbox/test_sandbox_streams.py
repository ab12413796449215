"""The datasets behind the connector's less common streams: property history (deal stages),
archived owners, lists, workflows, form submissions, and the per-stream ground truth."""
import pytest
import requests

from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, install

STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "closedwon"]


@pytest.fixture(scope="module")
def hs():
    srv = SandboxServer(seed=5, accounts=2, account_sizes=[40, 400], rate_limits=False,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    hubs = list(srv.state.accounts)
    toks = [install(srv.url, h)["access_token"] for h in hubs]
    yield srv, hubs, toks
    srv.stop()


def _get(srv, tok, path, **params):
    r = requests.get(f"{srv.url}{path}", params=params,
                     headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _deals_with_history(srv, tok, names):
    out, after = [], None
    while True:
        page = _get(srv, tok, "/crm/v3/objects/deals", limit=100, after=after,
                    propertiesWithHistory=",".join(names))
        assert len(page["results"]) <= 50          # HubSpot's cap when history is asked for
        out += page["results"]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


def test_deal_stage_history_walks_the_pipeline(hs):
    srv, hubs, toks = hs
    deals = _deals_with_history(srv, toks[0], ["dealstage", "amount"])
    assert len(deals) == 40
    for d in deals:
        current = _get(srv, toks[0], f"/crm/v3/objects/deals/{d['id']}",
                       properties="dealstage,amount")["properties"]
        hist = d["propertiesWithHistory"]["dealstage"]
        times = [h["timestamp"] for h in hist]
        assert times == sorted(times, reverse=True)            # newest first
        assert hist[0]["value"] == current["dealstage"]          # the newest is the value now
        path = [h["value"] for h in reversed(hist)]
        if path[-1] == "closedlost":
            assert 2 <= len(path) and path[:-1] == STAGES[:len(path) - 1]
        else:
            assert path == STAGES[:STAGES.index(path[-1]) + 1]
        assert all({"value", "timestamp", "sourceType"} <= set(h) for h in hist)
        assert [h["value"] for h in d["propertiesWithHistory"]["amount"]] == [current["amount"]]
    assert any(len(d["propertiesWithHistory"]["dealstage"]) >= 3 for d in deals)


def test_an_update_adds_history_at_its_time(hs):
    srv, hubs, toks = hs
    before = {d["id"]: d["propertiesWithHistory"] for d in _deals_with_history(srv, toks[0], ["dealname"])}
    ch = requests.post(f"{srv.url}/_sandbox/accounts/{hubs[0]}/changes",
                       json={"deals": {"updates": 3}}, timeout=10).json()["changes"]["deals"]
    after = {d["id"]: d["propertiesWithHistory"] for d in _deals_with_history(srv, toks[0], ["dealname"])}
    for rid in after:
        old, new = before[rid]["dealname"], after[rid]["dealname"]
        if rid in ch["updated"]:
            updated_at = _get(srv, toks[0], f"/crm/v3/objects/deals/{rid}")["updatedAt"]
            added = new[:len(new) - len(old)]
            assert new[len(added):] == old and all(h["timestamp"] == updated_at for h in added)
        else:
            assert new == old


def test_owners_lists_workflows_submissions_by_account(hs):
    srv, hubs, toks = hs
    small, big = toks
    archived = _get(srv, small, "/crm/v3/owners", archived="true")["results"]
    assert archived and all(o["archived"] and o["type"] == "PERSON" for o in archived)
    live_ids = {o["id"] for o in _get(srv, small, "/crm/v3/owners")["results"]}
    assert live_ids and not live_ids & {o["id"] for o in archived}
    sizes = []
    for tok in toks:
        lists = requests.post(f"{srv.url}/crm/v3/lists/search", json={"count": 1000},
                              headers={"Authorization": f"Bearer {tok}"}, timeout=10).json()
        assert lists["total"] == len(lists["lists"]) and not lists["hasMore"]
        assert all(isinstance(v, str) for x in lists["lists"] for v in x["additionalProperties"].values())
        flows = _get(srv, tok, "/automation/v3/workflows")["workflows"]
        list_ids = {int(x["listId"]) for x in lists["lists"]}
        assert all(set(f["contactListIds"].values()) <= list_ids for f in flows)
        sizes.append((len(lists["lists"]), len(flows)))
    assert sizes[1][0] > sizes[0][0] and sizes[1][1] > sizes[0][1]      # a bigger account has more
    form = _get(srv, small, "/marketing/v3/forms")["results"][0]
    subs = _get(srv, small, f"/form-integrations/v1/submissions/forms/{form['id']}")["results"]
    emails = {c["properties"]["email"] for c in
              _get(srv, small, "/crm/v3/objects/contacts", limit=100, properties="email")["results"]}
    assert subs and all(s["values"][0]["value"] in emails for s in subs)
    r = requests.get(f"{srv.url}/form-integrations/v1/submissions/forms/no-such-form",
                     headers={"Authorization": f"Bearer {small}"}, timeout=10)
    assert r.status_code == 404


def test_stream_truth_counts_what_the_api_serves(hs):
    srv, hubs, toks = hs
    truth = requests.get(f"{srv.url}/_sandbox/accounts/{hubs[1]}/streams", timeout=30).json()["streams"]
    assert len(truth) >= 33          # the connector's 32 streams and the custom objects
    props = [p["name"] for p in _get(srv, toks[1], "/properties/v2/deals/properties")
             if p["name"] != "hs_lastmodifieddate"]
    deals = _deals_with_history(srv, toks[1], props)
    assert truth["deals_property_history"] == sum(len(v) for d in deals
                                                  for v in d["propertiesWithHistory"].values())
    assert truth["deals"] == len(deals) == 400
    assert truth["owners_archived"] == 2 and truth["engagements"] == 5 * 400
    assert requests.get(f"{srv.url}/_sandbox/accounts/1/streams", timeout=10).status_code == 404


def test_crm_pipelines_v1_stages_carry_closed_and_probability_as_metadata(hs):
    """The connector's deal_pipelines stream (CRM Pipelines API v1) reads each stage's
    ``metadata.isClosed``/``metadata.probability`` (strings, as v3 gives them): the deals' labels
    and the analyst models' closed/won come from there."""
    srv, hubs, toks = hs
    [v1] = _get(srv, toks[0], "/crm-pipelines/v1/pipelines/deals")["results"]
    [v3] = _get(srv, toks[0], "/crm/v3/pipelines/deals")["results"]
    assert [(s["stageId"], s["metadata"]) for s in v1["stages"]] == \
        [(s["id"], s["metadata"]) for s in v3["stages"]]
    won = next(s for s in v1["stages"] if s["stageId"] == "closedwon")
    assert won["metadata"] == {"isClosed": "true", "probability": "1.0"}
    assert not {"probability", "closedWon"} & set(won)   # the deprecated Deal Pipelines API's
