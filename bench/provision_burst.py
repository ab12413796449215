"""A burst of installs through the local stack's queue and provisioner, against the Airbyte
emulator with a rate limit.

    .venv/bin/python bench/provision_burst.py                    # 10,000 installs
    .venv/bin/python bench/provision_burst.py --installs 500 --rate-limit 40

1. Installs: for each account, what the OAuth callback does once HubSpot has answered
   (KMS-encrypt the refresh token, the conditional upsert in DynamoDB, the provision message);
   a share of accounts (--duplicates) gets a second, duplicate message.
2. Provisioning: --consumers dispatcher threads deliver SQS batches to the provisioner function
   through chalice.test (as Lambda's event source with that maximum concurrency), each account
   costing the Airbyte requests a provisioning makes (the two creates, source and connection,
   the stream discovery, the first sync's job lookup and start; printed per account).
   Installs arrive in waves of --wave (default 500) and each wave is provisioned before the
   next: moto's SQS does work proportional to the queue's depth on every call, so a 10,000-deep
   queue would measure moto, not the provisioner. Provisioning time is summed over the waves.
3. Checks: every account active with exactly one source and one connection in the emulator,
   the DLQ empty. Prints accounts/s against the ceiling the emulator's rate limit allows
   (rate / the requests it accepted per account, both measured in this run: every request
   counts against the emulator's limit); exits 1 on a duplicate or a loss.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fake_sync(ctx):
    from local_stack.airbyte_emulator.sync import SyncResult

    return SyncResult()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--installs", type=int, default=10_000)
    parser.add_argument("--rate-limit", type=float, default=100.0,
                        help="emulator's Airbyte API limit, requests/s (default 100)")
    parser.add_argument("--consumers", type=int, default=5,
                        help="concurrent deliveries, like the event source's maximum concurrency")
    parser.add_argument("--duplicates", type=float, default=0.05,
                        help="share of accounts that get a duplicate message (default 0.05)")
    parser.add_argument("--install-threads", type=int, default=4)
    parser.add_argument("--wave", type=int, default=500,
                        help="installs per wave (moto's SQS slows down with queue depth)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the provisioner's per-account INFO lines: not for a bench

    from hubspot_app.config import reset_settings
    from local_stack.stack import LocalStack

    # The provisioner's own client-side limit: the stack's whole budget in this one process.
    overrides = {"AIRBYTE_MAX_REQUESTS_PER_SECOND": str(args.rate_limit),
                 "PROVISION_RETRY_BASE_SECONDS": "2", "PROVISION_RETRY_MAX_SECONDS": "30"}
    with LocalStack(accounts=1, seed=3, airbyte_options={
            "rate_limit_per_s": args.rate_limit, "sync_runner": fake_sync}) as stack:
        os.environ.update(overrides)
        reset_settings()
        return run(stack, args, overrides)


def run(stack, args, overrides) -> int:
    import json

    import boto3

    from hubspot_app.config import get_settings
    from hubspot_app.hubspot_oauth import TokenInfo
    from hubspot_app.install import request_provisioning, upsert_account
    from hubspot_app.messaging.queues import provision_message
    from hubspot_app.models import AccountStatus
    from hubspot_app.runtime import services
    from hubspot_app.token_crypto import encrypt_token
    from local_stack.dispatcher import SqsRoute

    settings = get_settings()
    hubs = [10_000_000 + i for i in range(args.installs)]
    print(f"Provision burst: {args.installs} installs, Airbyte emulator limit "
          f"{args.rate_limit:g} requests/s, {args.consumers} concurrent consumers, "
          f"{args.duplicates:.0%} duplicate messages", flush=True)

    # -- 1 + 2, per wave: installs, then provisioning through the queue ---------------------
    def install(hub: int) -> None:
        info = TokenInfo(hub_id=hub, user=f"owner@{hub}.example", user_id=1,
                         hub_domain=f"{hub}.example", scopes=("oauth",))
        token = f"bench-refresh-{hub}-{random.getrandbits(64):x}"
        account = upsert_account(info, encrypt_token(token, hub, settings.kms_key_id, kms=kms))
        request_provisioning(services(), account, reason="install")

    kms = boto3.client("kms")
    sqs = boto3.client("sqs")
    url = services().queue_url(settings.provisioning.queue_name)
    dupes = set(random.Random(1).sample(hubs, int(len(hubs) * args.duplicates)))
    client = stack.chalice_client(**overrides)
    routes = [SqsRoute(client, settings.provisioning.queue_name, "provisioner")
              for _ in range(args.consumers)]
    emu = stack.airbyte
    before = dict(emu.store.requests)
    totals = {"received": 0, "failed": 0}
    lock = threading.Lock()

    def consume(route):
        idle = 0
        while True:
            report = route.poll_once()
            with lock:
                totals["received"] += report.received
                totals["failed"] += report.failed
            if report.received == 0:
                idle += 1
                time.sleep(0.2)
                if idle > 3 and route.pending() == 0:
                    return
            else:
                idle = 0

    install_s = prov_s = 0.0
    for first in range(0, len(hubs), args.wave):
        wave = hubs[first:first + args.wave]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.install_threads) as pool:
            list(pool.map(install, wave))
        wave_dupes = [h for h in wave if h in dupes]
        for i in range(0, len(wave_dupes), 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(j), "MessageBody": json.dumps(provision_message(h, f"dup:{h}",
                                                                           "duplicate"))}
                for j, h in enumerate(wave_dupes[i:i + 10])])
        t1 = time.perf_counter()
        threads = [threading.Thread(target=consume, args=(r,)) for r in routes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t2 = time.perf_counter()
        install_s += t1 - t0
        prov_s += t2 - t1
        done = first + len(wave)
        print(f"  wave {first // args.wave + 1}: {len(wave)} installs in {t1 - t0:.1f} s, "
              f"provisioned in {t2 - t1:.1f} s ({len(wave) / (t2 - t1):.1f} accounts/s); "
              f"{done}/{len(hubs)} done, {emu.state()['totals']['connections']} connections",
              flush=True)
    print(f"  installs stored and queued: {len(hubs)} in {install_s:.1f} s "
          f"({len(hubs) / install_s:.0f}/s), plus {len(dupes)} duplicate messages")

    # -- 3. checks -----------------------------------------------------------------------
    outcome = provisioning_outcome(stack, settings)
    state, statuses = outcome["state"], outcome["statuses"]
    dup_sources, dup_conns = outcome["duplicate_sources"], outcome["duplicate_connections"]
    missing, dlq = outcome["losses"], str(outcome["dlq"])
    after = state["requests"]
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    api_calls = sum(v for k, v in calls.items() if k.startswith(("GET", "POST", "PUT", "PATCH", "DELETE"))
                    and "/v1/" in k or k.startswith("POST /applications"))
    rate = len(hubs) / prov_s
    rejected = state["rejected"].get("429_rate_limit", 0)
    accepted = (api_calls - rejected) / len(hubs)  # what one account costs of the limit
    ceiling = args.rate_limit / accepted
    print(f"  provisioned: {statuses.get(AccountStatus.ACTIVE, 0)} of {len(hubs)} active in "
          f"{prov_s:.1f} s -> {rate:.1f} accounts/s")
    print(f"  vs the emulator's limit: ceiling {ceiling:.1f} accounts/s "
          f"({args.rate_limit:g} requests/s / {accepted:.2f} accepted requests per account) "
          f"-> {rate / ceiling:.0%} of the ceiling")
    print(f"  Airbyte requests: {api_calls} ({api_calls / len(hubs):.2f} per account), "
          f"{api_calls / prov_s:.1f}/s; rejected with 429: {rejected}")
    print("  per account: " + ", ".join(f"{k} {v / len(hubs):.2f}" for k, v in sorted(
        calls.items()) if v and not k.startswith("created")))
    print(f"  messages delivered: {totals['received']} (returned for retry: {totals['failed']}); "
          f"statuses: {statuses}")
    print(f"  shared destinations: {state['totals']['destinations']}, workspaces with our name: "
          f"{state['workspaces']['live'].get('hubspot-pipeline-local', 0)}")
    print(f"  duplicates: {dup_sources} sources, {dup_conns} connections; losses: {missing}; "
          f"DLQ: {dlq}")
    ok = dup_sources == dup_conns == missing == 0 and dlq == "0" \
        and state["totals"]["destinations"] == 1
    print("OK: every account provisioned exactly once" if ok else "FAILED")
    return 0 if ok else 1


def provisioning_outcome(stack, settings) -> dict:
    """What provisioning left: duplicates (extra sources/connections with our names), losses
    (accounts not active with exactly one connection), statuses and the provision DLQ's depth."""
    import boto3

    from hubspot_app.models import Account, AccountStatus
    from hubspot_app.runtime import services

    state = stack.airbyte.state()
    sources, connections = state["sources"]["live"], state["connections"]["live"]
    prefix = "hubspot-pipeline-local-hub-"  # the local stage's Airbyte resource names
    statuses: dict[str, int] = {}
    lost: list = []
    for account in Account.scan():
        statuses[account.status] = statuses.get(account.status, 0) + 1
        if account.status != AccountStatus.ACTIVE or \
                connections.get(f"{prefix}{account.hub_id}-to-s3", 0) != 1:
            lost.append(account)
    dlq = boto3.client("sqs").get_queue_attributes(
        QueueUrl=services().queue_url(settings.provisioning.dlq_name),
        AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
    return {"state": state, "statuses": statuses, "losses": len(lost), "dlq": int(dlq),
            "lost": [(a.hub_id, [(e.event, e.detail) for e in a.provisioning_history[-3:]])
                     for a in lost[:3]],
            "duplicate_sources": sum(n - 1 for name, n in sources.items()
                                     if name.startswith(prefix) and n > 1),
            "duplicate_connections": sum(n - 1 for name, n in connections.items()
                                         if name.startswith(prefix) and n > 1)}


if __name__ == "__main__":
    sys.exit(main())
