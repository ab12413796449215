"""How fast the sandbox serves list pages (100 records, all properties) on one core with limits
off, against how fast the official connector consumes them, measured in the same run.

    .venv/bin/python bench/sandbox_throughput.py [--records 20000] [--seconds 5]
Prints pages/s of each and the ratio (sandbox / connector); > 1 means the sandbox is not the
bottleneck.
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
from local_stack.connector import ensure_connector_venv, oauth_config, run_connector  # noqa: E402

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
    args = ap.parse_args()
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
