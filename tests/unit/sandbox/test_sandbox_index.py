"""The sandbox's search index against a full scan, in process (cached pages over HTTP:
tests/integration/sandbox/test_sandbox_search_index.py)."""
import random

from local_stack.hubspot_sandbox import SandboxServer
from local_stack.hubspot_sandbox.crm import _Search
from local_stack.hubspot_sandbox.data import iso_ms

OPS = ["GT", "GTE", "LT", "LTE", "EQ", "BETWEEN"]


def _random_query(rng, t):
    lo_ms, hi_ms = t.updated_ms(0), t.updated_ms(t.count - 1) + 86_400_000
    filters = []
    for _ in range(rng.randrange(0, 4)):
        kind = rng.choice(["cursor", "cursor", "id", "prop"])
        op = rng.choice(OPS)
        if kind == "cursor":
            name = rng.choice([t.cursor_property, "hs_lastmodifieddate"])
            i = rng.randrange(t.count)
            v = t.updated_ms(i) if op == "EQ" else rng.randrange(lo_ms, hi_ms)
            value = rng.choice([str(v), iso_ms(v)])
            f = {"propertyName": name, "operator": op, "value": value}
            if op == "BETWEEN":
                f["highValue"] = str(v + rng.randrange(0, 200 * 86_400_000))
        elif kind == "id":
            v = t.base_id + rng.randrange(-5, t.count + 5)
            f = {"propertyName": "hs_object_id", "operator": op, "value": str(v)}
            if op == "BETWEEN":
                f["highValue"] = str(v + rng.randrange(0, 300))
        else:
            f = {"propertyName": "hubspot_owner_id", "operator": rng.choice(["EQ", "NEQ"]),
                 "value": str(t.store.owner_ids[rng.randrange(5)])}
        filters.append(f)
    body = {"filterGroups": [{"filters": filters}]} if filters else {}
    if rng.random() < 0.2 and filters:      # an OR of two groups
        body["filterGroups"].append({"filters": [{"propertyName": "hs_object_id", "operator": "LT",
                                                  "value": str(t.base_id + 40)}]})
    sort = rng.choice([None, ("hs_object_id", "ASCENDING"), (t.cursor_property, "ASCENDING"),
                       ("hs_lastmodifieddate", "DESCENDING"), ("createdate", "DESCENDING")])
    if sort:
        body["sorts"] = [{"propertyName": sort[0], "direction": sort[1]}]
    return body


def test_index_answers_what_a_scan_answers():
    srv = SandboxServer(seed=21, accounts=1, records_per_object=1500)
    store = next(iter(srv.state.accounts.values())).store
    rng = random.Random(5)
    now = srv.state.clock.now_ms()
    for rnd in range(3):
        for name in ("contacts", "deals", store.schemas[0]["name"]):
            t = store.tables[name]
            for _ in range(60):
                body = _random_query(rng, t)
                s = _Search(t, now)
                want = s.run(body, use_index=False)
                assert s.run(body) == want, body
                assert s.run(body) == want, body          # served from the cache
        # changes between rounds: the index and the caches must follow
        now += 60_000
        store.search_lag_ms = 30_000 if rnd == 1 else 0
        store.apply_changes(now, {"contacts": {"creates": 7, "updates": 40, "deletes": 5},
                                  "deals": {"updates": 3}, store.schemas[0]["name"]: {"creates": 2}})
        if rnd == 1:
            lagging = _Search(store.tables["contacts"], now)
            body = {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(now)}]}
            assert lagging.run(body) == lagging.run(body, use_index=False) == []
            later = _Search(store.tables["contacts"], now + 30_000)
            assert len(later.run(body)) == 47 and later.run(body) == later.run(body, use_index=False)
