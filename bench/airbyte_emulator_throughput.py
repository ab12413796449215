"""How many accounts per second the Airbyte emulator can take (source + connection creates),
against a plain GET round trip measured in the same run, and whether its rate limit holds.

    .venv/bin/python bench/airbyte_emulator_throughput.py [--accounts 300] [--threads 8] [--limit 50]
Prints, per phase: requests/s, accounts/s, and ratios. "creates / GET" near 1 means the emulator
adds little per create; "achieved / limit" must not exceed 1 (the limit holds; burst 1); how far
below 1 it lands is what this bench's naive backoff (20 ms doubling to 500 ms, 8 threads)
wastes, so a provisioner benchmark can compare its own client against it. Duplicates must be 0.
"""
import argparse
import pathlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from local_stack.airbyte_emulator import AirbyteEmulator  # noqa: E402 - after the sys.path set-up above

HUBSPOT = {"sourceType": "hubspot", "start_date": "2024-01-01T00:00:00Z",
           "credentials": {"credentials_title": "OAuth Credentials", "client_id": "c",
                           "client_secret": "s", "refresh_token": "r"}}
S3 = {"destinationType": "s3", "s3_bucket_name": "lake", "s3_bucket_path": "raw",
      "format": {"format_type": "Parquet"}}


def client(emu):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {emu.api_token}"
    return s


def call(session, method, url, json=None):
    """Honour 429 the way a polite client does (short backoff), so rate-limited runs finish."""
    delay = 0.02
    while True:
        r = session.request(method, url, json=json, timeout=30)
        if r.status_code != 429:
            r.raise_for_status()
            return r.json() if r.content else None
        time.sleep(delay)
        delay = min(0.5, delay * 2)


def run_phase(emu, accounts, threads, dest_id, tag):
    local = threading.local()

    def one(i):
        s = getattr(local, "s", None) or setattr(local, "s", client(emu)) or local.s
        src = call(s, "POST", f"{emu.api_url}/sources", {
            "name": f"{tag}-{i}", "workspaceId": emu.default_workspace_id, "configuration": HUBSPOT})
        call(s, "POST", f"{emu.api_url}/connections", {
            "name": f"{tag}-{i}", "sourceId": src["sourceId"], "destinationId": dest_id,
            "namespaceDefinition": "custom_format", "namespaceFormat": str(i),
            "configurations": {"streams": [{"name": "contacts", "syncMode": "incremental_append"}]}})

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(accounts)))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--limit", type=float, default=50.0, help="requests/s for the limited phase")
    a = ap.parse_args()
    emu = AirbyteEmulator().start()
    try:
        s = client(emu)
        dest = call(s, "POST", f"{emu.api_url}/destinations", {
            "name": "lake", "workspaceId": emu.default_workspace_id, "configuration": S3})
        n = a.accounts * 2
        local = threading.local()

        def get(_):
            sess = getattr(local, "s", None) or setattr(local, "s", client(emu)) or local.s
            sess.get(f"{emu.api_url}/workspaces/{emu.default_workspace_id}", timeout=30)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.threads) as pool:
            list(pool.map(get, range(n)))
        get_rps = n / (time.perf_counter() - t0)

        free = run_phase(emu, a.accounts, a.threads, dest["destinationId"], "free")
        free_rps = n / free
        emu.rate_limiter.configure(a.limit, burst=1)  # burst 1: measure the sustained rate
        limited_accounts = max(20, int(a.limit * 3 / 2))  # about 3 s of budget
        limited = run_phase(emu, limited_accounts, a.threads, dest["destinationId"], "limited")
        state = emu.state()
        achieved = limited_accounts * 2 / limited
        print(f"GET round trips:      {get_rps:8.1f} req/s (baseline)")
        print(f"creates, no limit:    {free_rps:8.1f} req/s  {a.accounts / free:7.1f} accounts/s  "
              f"creates / GET = {free_rps / get_rps:.2f}")
        print(f"creates, limit {a.limit:g}/s: {achieved:8.1f} req/s  "
              f"{limited_accounts / limited:7.1f} accounts/s  achieved / limit = {achieved / a.limit:.2f}"
              f"  (429s answered: {state['rejected'].get('429_rate_limit', 0)})")
        dups = sum(len(v) for v in state["duplicates"].values())
        print(f"sources {state['totals']['sources']}, connections {state['totals']['connections']}, "
              f"duplicates {dups}")
        return 1 if dups else 0
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
