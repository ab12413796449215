"""Main-job step: association labels, read by our own reader as on AWS. The daily schedule
fires (EventBridge's event to `association_labels_schedule`), its messages reach
`association_labels_worker` through the queue (the dispatcher, as Lambda's event source would
deliver them, continuations included), and each account's manifest is waited for and printed
beside the sandbox's ground truth (`GET /_sandbox/accounts/{hub}/streams`, association_labels)."""
from __future__ import annotations

import json
import time

import boto3
import requests

from .dispatcher import Scheduler, SqsRoute, describe
from .stack import LocalStack


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def manifests(bucket: str, hub_id: int, raw_prefix: str = "raw") -> list[dict]:
    """The account's association-label manifests, oldest snapshot first."""
    s3 = boto3.client("s3")
    prefix = f"{raw_prefix}/{hub_id}/association_labels/"
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])
        if o["Key"].endswith(".manifest.json"))
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def read_labels(stack: LocalStack, hub_ids: list[int], step: str = "6b",
                timeout_s: float = 600) -> bool:
    """Fires the schedule, delivers the queue until every active account has a manifest of
    this run's snapshot; True when each one's records equal the sandbox's truth."""
    _heading(f"{step}. Association labels: schedule -> queue -> reader -> raw/<hub>/association_labels/")
    client = stack.chalice_client()
    bucket = stack.env["LAKE_BUCKET"]
    before = {h: {m["snapshot_id"] for m in manifests(bucket, h)} for h in hub_ids}
    summary = Scheduler(client, "association_labels_schedule").fire({})
    print(f"  schedule: {summary.get('accounts', '?')} active account(s), "
          f"{summary.get('messages', '?')} message(s)")
    route = SqsRoute(client, stack.env["ASSOCIATION_LABELS_QUEUE_NAME"],
                     "association_labels_worker", batch_size=1)
    deadline = time.monotonic() + timeout_s
    new: dict[int, dict] = {}
    while time.monotonic() < deadline and len(new) < len(hub_ids):
        report = route.run_until_idle(timeout=max(1.0, deadline - time.monotonic()))
        print(f"  worker delivery: {describe(report)}")
        for h in hub_ids:
            fresh = [m for m in manifests(bucket, h) if m["snapshot_id"] not in before[h]]
            if fresh:
                new[h] = fresh[-1]
        if report.received == 0 and len(new) < len(hub_ids):
            time.sleep(0.5)
    ok = True
    for h in sorted(hub_ids):
        m = new.get(h)
        if m is None:
            print(f"  hub {h:>10}  no manifest within {timeout_s:.0f} s: MISMATCH")
            ok = False
            continue
        truth = requests.get(f"{stack.hubspot_url}/_sandbox/accounts/{h}/streams",
                             timeout=30).json()["association_labels"]
        got = {f"{p['from']}__{p['to']}": p["records"] for p in m["pairs"]}
        wrong = {k: (got.get(k), truth.get(k)) for k in got if got[k] != truth.get(k)}
        chunks = sum(len(p["chunks"]) for p in m["pairs"])
        print(f"  hub {h:>10}  snapshot {m['snapshot_id']}: {len(m['pairs'])} pair(s), "
              f"{sum(got.values())} association type line(s) in {chunks} chunk(s) "
              f"(sandbox: {sum(truth[k] for k in got)}) "
              + ("OK" if not wrong else f"MISMATCH {wrong}"))
        ok &= not wrong
    return ok
