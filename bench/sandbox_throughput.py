"""How fast the sandbox serves list pages (100 records, all properties) on one core with limits
off, against how fast the official connector consumes them, measured in the same run; and how
fast it serves the connector's incremental search pages (200 records) on a large account with its
last-modified index, against the reference full scan (`search_index: false`), in the same run.

    .venv/bin/python bench/sandbox_throughput.py [--records 20000] [--seconds 5]
        [--search-records 200000] [--cases list,search]
Prints pages/s of each and the ratios; list: sandbox / connector > 1 means the sandbox is not the
bottleneck; search: indexed / scan is what the index buys.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from local_stack.connector import ensure_connector_venv, oauth_config, run_connector  # noqa: E402 - after the sys.path set-up above

CID, SECRET, REDIRECT = "bench-client", "bench-secret", "http://127.0.0.1:9/cb"


def start_sandbox(records: int, port: int = 0):
    """The sandbox as its own process pinned to one CPU (so 'one core' is literal)."""
    proc = subprocess.Popen([sys.executable, "-m", "local_stack.hubspot_sandbox", "--port", str(port),
                             "--accounts", "1", "--records", str(records), "--no-rate-limits",
                             "--app", f"{CID}:{SECRET}:{REDIRECT}"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {sorted(os.sched_getaffinity(0))[0]})
    line = proc.stdout.readline()
    return proc, re.search(r"http://\S+", line).group(0)


def install(url: str):
    page = requests.get(f"{url}/oauth/authorize", params={
        "client_id": CID, "redirect_uri": REDIRECT, "state": "b",
        "scope": "oauth crm.objects.contacts.read crm.schemas.contacts.read "
                 "crm.schemas.companies.read crm.schemas.deals.read"}).text
    form = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page))
    form.update(decision="approve", hub_id=re.search(r"name='hub_id' value='(\d+)'", page).group(1))
    loc = requests.post(f"{url}/oauth/authorize", data=form, allow_redirects=False).headers["Location"]
    code = parse_qs(urlsplit(loc).query)["code"][0]
    return requests.post(f"{url}/oauth/v1/token", data={
        "grant_type": "authorization_code", "client_id": CID, "client_secret": SECRET,
        "redirect_uri": REDIRECT, "code": code}).json()


def sandbox_pages_per_second(url, token, seconds, threads):
    props = ",".join(p["name"] for p in requests.get(
        f"{url}/properties/v2/contacts/properties", headers={"Authorization": f"Bearer {token}"}).json())

    def worker(deadline):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        n, after = 0, None
        while time.perf_counter() < deadline:
            r = s.get(f"{url}/crm/v3/objects/contacts", params={
                "limit": 100, "properties": props, **({"after": after} if after else {})})
            body = r.json()
            assert r.status_code == 200 and len(body["results"]) > 0
            n += 1
            after = body.get("paging", {}).get("next", {}).get("after")
        return n

    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        total = sum(ex.map(worker, [deadline] * threads))
    return total / (time.perf_counter() - start)


def _search_body(props, start_ms, end_ms, min_id, after):
    """The body the connector's incremental CRM streams send (see its manifest)."""
    return {"limit": 200, "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(start_ms)},
                        {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(end_ms)},
                        {"propertyName": "hs_object_id", "operator": "GTE", "value": str(min_id)}],
            "properties": props, "after": after}


def search_pages_per_second(url, token, seconds, threads, window_ms=None, min_pages=0):
    """Search pages/s over contacts, paging like the connector: `after` by 200 up to HubSpot's
    10,000 cap, then a new query from the last id + 1. window_ms: only records modified in the
    last window_ms (a next incremental sync); None: the whole history (a first sync)."""
    h = {"Authorization": f"Bearer {token}"}
    props = [p["name"] for p in requests.get(f"{url}/properties/v2/contacts/properties", headers=h).json()]
    end_ms = int(requests.get(f"{url}/_sandbox/clock").json()["now"] * 1000)
    start_ms = 0 if window_ms is None else end_ms - window_ms

    def worker(deadline):
        s = requests.Session()
        s.headers.update(h)
        n, after, min_id, rows = 0, 0, 0, 0
        while time.perf_counter() < deadline or n < min_pages:
            r = s.post(f"{url}/crm/v3/objects/contacts/search",
                       json=_search_body(props, start_ms, end_ms, min_id, after))
            body = r.json()
            assert r.status_code == 200, body
            n += 1
            rows += len(body["results"])
            if after + 200 >= 10_000 and body["results"]:
                after, min_id = 0, int(body["results"][-1]["id"]) + 1
            elif body.get("paging"):
                after += 200
            else:
                after, min_id = 0, 0        # wrapped around: start the sync again
        return n, rows

    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        done = list(ex.map(worker, [deadline] * threads))
    elapsed = time.perf_counter() - start
    return sum(n for n, _ in done) / elapsed, sum(r for _, r in done) / max(1, sum(n for n, _ in done))


def search_case(args):
    proc, url = start_sandbox(args.search_records)
    try:
        tok = install(url)["access_token"]
        t0 = time.perf_counter()
        search_pages_per_second(url, tok, 0, 1, min_pages=1)      # builds the index once
        first = time.perf_counter() - t0
        full, full_rows = search_pages_per_second(url, tok, args.seconds, args.threads)
        hub = requests.get(f"{url}/_sandbox/accounts").json()["accounts"][0]["hub_id"]
        requests.post(f"{url}/_sandbox/accounts/{hub}/changes",     # what a next sync finds
                      json={"contacts": {"updates": 2_000, "creates": 500, "deletes": 100}})
        recent, recent_rows = search_pages_per_second(url, tok, args.seconds, args.threads,
                                                      window_ms=3_600_000)
        requests.post(f"{url}/_sandbox/settings", json={"search_index": False})
        scan, _ = search_pages_per_second(url, tok, args.seconds, 1, min_pages=2)
    finally:
        proc.terminate()
        proc.wait()
    print(f"search, {args.search_records} contacts (1 core, limits off), pages of up to 200:")
    print(f"  first query (builds the index):  {first:8.2f} s")
    print(f"  indexed, whole history:          {full:8.1f} pages/s ({full_rows:.0f} records/page)")
    print(f"  indexed, changes of the last hour: {recent:6.1f} pages/s ({recent_rows:.0f} records/page)")
    print(f"  reference scan, whole history:   {scan:8.2f} pages/s")
    print(f"  ratio indexed/scan:              {full / scan:8.1f}x")


def connector_pages_per_second(url, refresh_token):
    cfg = oauth_config(CID, SECRET, refresh_token)
    cat = [m for m in run_connector("discover", cfg, sandbox_url=url) if m["type"] == "CATALOG"]
    stream = next(s for s in cat[0]["catalog"]["streams"] if s["name"] == "contacts")
    catalog = {"streams": [{"stream": stream, "sync_mode": "full_refresh",
                            "destination_sync_mode": "overwrite"}]}
    start, first, n = time.perf_counter(), None, 0
    for m in run_connector("read", cfg, catalog, sandbox_url=url):
        if m["type"] == "RECORD":
            first = first or time.perf_counter()
            n += 1
    end = time.perf_counter()
    # from the first record on, so the connector's start-up is not counted against it
    return n, (n / 100) / max(1e-9, end - (first or start))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=4, help="client threads hitting the sandbox")
    ap.add_argument("--search-records", type=int, default=200_000,
                    help="records per object type of the search case's account")
    ap.add_argument("--cases", default="list,search", help="list, search or both")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    if "search" in cases:
        search_case(args)
    if "list" not in cases:
        return
    ensure_connector_venv()
    proc, url = start_sandbox(args.records)
    try:
        tok = install(url)
        sandbox = sandbox_pages_per_second(url, tok["access_token"], args.seconds, args.threads)
        n, connector = connector_pages_per_second(url, tok["refresh_token"])
    finally:
        proc.terminate()
        proc.wait()
    print(f"sandbox (1 core, limits off): {sandbox:8.1f} list pages/s of 100 records")
    print(f"connector consumption:        {connector:8.1f} pages/s ({n} contacts read)")
    print(f"ratio sandbox/connector:      {sandbox / connector:8.2f}x")


if __name__ == "__main__":
    main()
