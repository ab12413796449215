"""Main-job steps for provisioning: deliver the provision queue to the provisioner function (as
Lambda's SQS event source would), show each account's Airbyte connection, follow the first sync
the provisioner started for each account (or, later, start the next one as the connection's
schedule would) on the Airbyte emulator, and show the files that landed per stream in S3."""
from __future__ import annotations

import time
from collections import defaultdict

import boto3

from hubspot_app.config import get_settings
from hubspot_app.models import Account
from hubspot_app.runtime import services

from .dispatcher import SqsRoute, describe
from .stack import LocalStack


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def provision_all(stack: LocalStack, hub_ids: list[int]) -> list[Account]:
    _heading("4. Provisioning through the queue (provisioner function -> Airbyte API)")
    settings = services().settings  # the tables bound
    route = SqsRoute(stack.chalice_client(), settings.provisioning.queue_name, "provisioner")
    report = route.run_until_idle(timeout=300)
    print(f"  delivery: {describe(report)}")
    accounts = [Account.get(h, consistent_read=True) for h in sorted(hub_ids)]
    client = services().airbyte()
    for a in accounts:
        if not a.airbyte_connection_id:
            print(f"  hub {a.hub_id:>10}  status={a.status}  NOT PROVISIONED: {a.provision_error}")
            continue
        conn = client.get_connection(a.airbyte_connection_id)
        streams = ", ".join(f"{s['name']}:{s['syncMode']}"
                            for s in conn["configurations"]["streams"])
        print(f"  hub {a.hub_id:>10}  status={a.status:<8} source={a.airbyte_source_id}\n"
              f"  {'':>14}  connection={conn['connectionId']} '{conn['name']}'\n"
              f"  {'':>14}  namespace={conn['namespaceDefinition']}:{conn.get('namespaceFormat')} "
              f"schedule={conn['schedule'].get('cronExpression', conn['schedule']['scheduleType'])}"
              f"\n  {'':>14}  streams: {streams}")
    dests = {a.airbyte_destination_id for a in accounts if a.airbyte_destination_id}
    print(f"  shared S3 destination(s): {', '.join(sorted(dests))} "
          f"(s3://{settings.lake.bucket}/{settings.lake.raw_prefix}/<hub_id>/<stream>/)")
    return accounts


def sync_all(stack: LocalStack, accounts: list[Account], timeout_s: float = 900,
             step: str = "5", files_step: str | None = "6", first: bool = True) -> None:
    """`first`: follow the sync the provisioner started at the end of provisioning (nothing
    here starts it); otherwise start the next sync, as the connection's cron schedule would
    (the emulator runs no schedules)."""
    what = "The first sync of each account, started by the provisioner" if first else \
        "The next sync per account, as its schedule would start it"
    _heading(f"{step}. {what} (Airbyte emulator runs the HubSpot connector)")
    client = services().airbyte()
    jobs = {}
    missing = []
    for a in accounts:
        if not a.airbyte_connection_id:
            continue
        if first:
            started = [j for j in client.list_jobs(a.airbyte_connection_id, limit=100)
                       if j["jobType"] == "sync"]
            if not started:
                missing.append(a.hub_id)
                print(f"  hub {a.hub_id:>10}  NO SYNC JOB: provisioning did not start one")
                continue
            jobs[a.hub_id] = min(j["jobId"] for j in started)
            print(f"  hub {a.hub_id:>10}  sync job {jobs[a.hub_id]} (started by provisioning)",
                  flush=True)
        else:
            jobs[a.hub_id] = client.start_job(a.airbyte_connection_id)["jobId"]
            print(f"  hub {a.hub_id:>10}  sync job {jobs[a.hub_id]} started", flush=True)
    deadline = time.monotonic() + timeout_s
    results = {}
    for hub, job_id in jobs.items():
        while True:
            job = client.get_job(job_id)
            if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
                break
            time.sleep(1)
        results[hub] = job
        print(f"  hub {hub:>10}  job {job_id}: {job['status']}, {job.get('rowsSynced', 0)} rows, "
              f"{job.get('bytesSynced', 0)} bytes", flush=True)
    failed = missing + [h for h, j in results.items() if j["status"] != "succeeded"]
    if failed:
        print(f"  syncs not succeeded for hubs: {failed}")
    if files_step:
        show_files(accounts, files_step)


def show_files(accounts: list[Account], step: str) -> None:
    _heading(f"{step}. Files landed in S3 per account and stream")
    settings = get_settings()
    s3 = boto3.client("s3")
    for a in accounts:
        prefix = f"{settings.lake.raw_prefix}/{a.hub_id}/"
        by_stream: dict[str, list] = defaultdict(list)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.lake.bucket,
                                                                 Prefix=prefix):
            for obj in page.get("Contents", []):
                stream = obj["Key"][len(prefix):].split("/", 1)[0]
                by_stream[stream].append(obj)
        print(f"  hub {a.hub_id:>10}  connection {a.airbyte_connection_id}: "
              f"{sum(len(v) for v in by_stream.values())} file(s) under "
              f"s3://{settings.lake.bucket}/{prefix}")
        for stream, objs in sorted(by_stream.items()):
            size = sum(o["Size"] for o in objs)
            print(f"  {'':>14}  {stream:<24} {len(objs):>3} file(s) {size:>10} bytes  "
                  f"e.g. {objs[0]['Key'].rsplit('/', 1)[-1]}")
