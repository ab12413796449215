"""A storm: hundreds of installs whose provision messages arrive duplicated and out of order,
while the Airbyte emulator answers with 5xx, 429, slow answers (client timeouts), dropped
connections after a create and late creates, and poison messages sit among the valid ones.

    .venv/bin/python bench/storm.py                      # 300 installs
    .venv/bin/python bench/storm.py --installs 100 --faults 60
    STORM_LOGS=1 .venv/bin/python bench/storm.py         # every message's fate, as JSON logs

Prints duplicates (extra sources or connections), losses (accounts not active with exactly one
connection) and dead letters against the poison messages sent; exits 1 unless duplicates and
losses are 0 and the provision DLQ holds exactly the poison messages, each once (issue 15).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision_burst import fake_sync, provisioning_outcome

POISON = ["not json", "[1, 2]", json.dumps({"type": "provision"}),
          json.dumps({"type": "provision", "hub_id": "../etc"}),
          json.dumps({"type": "provision", "hub_id": 424242}),          # no such account
          json.dumps({"type": "provision", "hub_id": 42, "pad": "x" * 9000})]  # oversized
# Each fault rule hits the next matching request(s) (local_stack/airbyte_emulator/faults.py).
FAULTS = [{"mode": "5xx", "status": 503}, {"mode": "5xx", "status": 502},
          {"mode": "429"}, {"mode": "slow", "delay_s": 12.0},
          {"mode": "lose_response_after_create", "path_prefix": "/v1/sources"},
          {"mode": "lose_response_after_create", "path_prefix": "/v1/connections"},
          {"mode": "late_create", "answer": "drop", "path_prefix": "/v1/sources",
           "visible_after_s": 3.0},
          {"mode": "late_create", "answer": "timeout", "delay_s": 12.0,
           "path_prefix": "/v1/connections", "visible_after_s": 2.0},
          {"mode": "late_create", "answer": "5xx", "path_prefix": "/v1/connections"}]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--installs", type=int, default=300, help="accounts (default 300)")
    parser.add_argument("--faults", type=int, default=90,
                        help="fault rules injected in all (default 90)")
    parser.add_argument("--duplicates", type=float, default=0.3,
                        help="share of accounts whose message is sent twice (default 0.3)")
    parser.add_argument("--consumers", type=int, default=4,
                        help="provisioner consumers polling the queue (default 4)")
    parser.add_argument("--seed", type=int, default=7,
                        help="which accounts get a duplicate and the message order (default 7; "
                             "the consumers' timing is not seeded)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING if not os.environ.get("STORM_LOGS") else logging.NOTSET)

    from hubspot_app.config import reset_settings
    from local_stack.stack import LocalStack

    # Shorter than the stages' backoff (30 s .. 15 min) so a storm drains in minutes; five
    # receives still span ~1 min, longer than the faults last.
    overrides = {"PROVISION_RETRY_BASE_SECONDS": "4", "PROVISION_RETRY_MAX_SECONDS": "30",
                 "AIRBYTE_TIMEOUT_SECONDS": "8"}
    with LocalStack(accounts=1, seed=3, airbyte_options={"sync_runner": fake_sync}) as stack:
        os.environ.update(overrides)
        reset_settings()
        return run(stack, args, overrides)


def run(stack, args, overrides) -> int:
    import boto3

    from hubspot_app.config import get_settings
    from hubspot_app.hubspot_oauth import TokenInfo
    from hubspot_app.install import upsert_account
    from hubspot_app.messaging.queues import provision_message
    from hubspot_app.runtime import services
    from hubspot_app.token_crypto import encrypt_token
    from local_stack.dispatcher import SqsRoute

    rng = random.Random(args.seed)
    settings = get_settings()
    kms, sqs = boto3.client("kms"), boto3.client("sqs")
    url = services().queue_url(settings.provisioning.queue_name)
    hubs = [20_000_000 + i for i in range(args.installs)]
    for hub in hubs:   # what the callback stores; the messages are sent below, stormed
        info = TokenInfo(hub_id=hub, user=f"owner@{hub}.example", user_id=1,
                         hub_domain=f"{hub}.example", scopes=("oauth",))
        upsert_account(info, encrypt_token(f"storm-refresh-{hub}", hub, settings.kms_key_id,
                                           kms=kms))
    bodies = [json.dumps(provision_message(h, f"install:{h}", "install")) for h in hubs]
    bodies += [json.dumps(provision_message(h, f"dup:{h}", "duplicate"))
               for h in rng.sample(hubs, int(len(hubs) * args.duplicates))]
    bodies += POISON
    rng.shuffle(bodies)   # reordered: duplicates before originals, poison anywhere
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i:i + 10])])
    print(f"Storm: {len(hubs)} installs, {len(bodies) - len(hubs) - len(POISON)} duplicate "
          f"messages, {len(POISON)} poison messages, {args.faults} Airbyte faults, "
          f"{args.consumers} consumers, seed {args.seed}", flush=True)

    emu = stack.airbyte
    stop = threading.Event()

    def inject() -> None:  # faults keep arriving while the queue drains
        for n in range(args.faults):
            if stop.wait(0.15):
                return
            emu.faults.add(dict(FAULTS[n % len(FAULTS)]))

    client = stack.chalice_client(**overrides)
    routes = [SqsRoute(client, settings.provisioning.queue_name, "provisioner")
              for _ in range(args.consumers)]
    totals = {"received": 0, "retried": 0}
    lock = threading.Lock()

    def consume(route) -> None:
        idle = 0
        while idle <= 5 or route.pending():
            report = route.poll_once()
            with lock:
                totals["received"] += report.received
                totals["retried"] += report.failed
            idle = idle + 1 if report.received == 0 else 0
            if report.received == 0:
                time.sleep(0.5)

    t0 = time.perf_counter()
    injector = threading.Thread(target=inject)
    injector.start()
    threads = [threading.Thread(target=consume, args=(r,)) for r in routes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    injector.join()
    emu.faults.clear()
    elapsed = time.perf_counter() - t0

    outcome = provisioning_outcome(stack, settings)
    dup = outcome["duplicate_sources"] + outcome["duplicate_connections"]
    print(f"  drained in {elapsed:.1f} s: {totals['received']} deliveries, "
          f"{totals['retried']} returned for retry; statuses {outcome['statuses']}")
    print(f"  duplicates: {outcome['duplicate_sources']} sources, "
          f"{outcome['duplicate_connections']} connections; losses: {outcome['losses']}; "
          f"dead letters: {outcome['dlq']} (poison sent: {len(POISON)})")
    for hub, history in outcome["lost"]:
        print(f"    lost {hub}: last steps {history}")
    ok = dup == 0 and outcome["losses"] == 0 and outcome["dlq"] == len(POISON)
    print("OK: nothing duplicated, nothing lost, exactly the poison dead-lettered" if ok
          else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
