"""Token health: accounts checked per second, against the token endpoint budget and HubSpot's limits.

    .venv/bin/python bench/token_health.py [--accounts 40] [--rate 5]

On the local stack (moto, the HubSpot sandbox, the Airbyte emulator), every sandbox account is
installed through the real routes, then, in the same run:
1. baseline: bare refresh + introspect calls against the sandbox, one after the other, no
   DynamoDB, no KMS: what the machine and the sandbox can do;
2. unthrottled: the worker's own code (`process_batch`: DynamoDB read, KMS decrypt, refresh,
   introspect, conditional write, metrics) with the limiter off;
3. throttled: the same with the limiter at `--rate` token-endpoint calls per second (the
   per-worker TOKEN_REFRESH_PER_SECOND), which is what keeps a 10,000-account run inside
   HubSpot's limits.
It prints the rates, their ratios (2/1: our overhead; 3 against the budget: how close the limiter
runs to the allowed rate without going over), the 429s seen (must be 0), the share of HubSpot's
per-account API window (110 requests / 10 s) a check uses (0: OAuth calls only), and what that
means for 10,000 accounts with the worker's maximum concurrency.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--rate", type=float, default=5.0, help="token-endpoint calls/s per worker")
    parser.add_argument("--concurrency", type=int, default=2, help="worker maximum concurrency")
    args = parser.parse_args()

    import logging

    import requests

    from hubspot_app import metrics
    from hubspot_app.config import reset_settings
    from hubspot_app.lifecycle.token_health import check_message, process_batch, queue_spec
    from hubspot_app.messaging.consumer import Consumer
    from hubspot_app.messaging.rate_limit import RateLimiter
    from hubspot_app.models import Account
    from hubspot_app.token_crypto import decrypt_token
    from local_stack.airbyte_emulator.sync import SyncResult
    from local_stack.stack import LocalStack
    from tests.harness import install_flow as flow

    logging.disable(logging.INFO)
    metric_lines: list[str] = []
    metrics.set_sink(metric_lines.append)
    fake_sync = lambda ctx: SyncResult(rows_by_stream={})  # noqa: E731 - a stand-in sync
    with LocalStack(accounts=args.accounts, seed=31, airbyte_options={"sync_runner": fake_sync}) as stack:
        os.environ.update({"TOKEN_CHECK_MIN_INTERVAL_SECONDS": "0", "TOKEN_CONFIRM_DELAY_SECONDS": "0"})
        reset_settings()
        hub_ids = sorted(a["hub_id"] for a in requests.get(
            f"{stack.hubspot_url}/_sandbox/accounts", timeout=10).json()["accounts"])
        for hub_id in hub_ids:
            browser = requests.Session()
            flow.finish(flow.consent(flow.begin(stack.app_url, browser), browser, hub_id=hub_id), browser)
        from hubspot_app.handlers.lifecycle import lifecycle_parts

        rt = lifecycle_parts(airbyte=None)
        svc = rt.services
        tokens = [decrypt_token(Account.get(h).refresh_token_encrypted, h, kms=svc.kms)
                  for h in hub_ids]

        # 1. baseline: bare OAuth calls
        start = time.perf_counter()
        for token in tokens:
            rt.oauth.introspect(rt.oauth.refresh(token).access_token)
        baseline = len(tokens) / (time.perf_counter() - start)

        def run(limiter: RateLimiter) -> tuple[float, dict]:
            checker = rt.checker(limiter=limiter, alert=lambda *a, **k: None)
            bodies = [json.dumps(check_message(hub_ids[i:i + 25], force=True))
                      for i in range(0, len(hub_ids), 25)]
            event = {"Records": [{"messageId": str(n), "receiptHandle": str(n), "body": b,
                                  "attributes": {"ApproximateReceiveCount": "1"},
                                  "eventSourceARN": f"arn:aws:sqs:local:0:{rt.health.queue_name}"}
                                 for n, b in enumerate(bodies)]}
            consumer = Consumer(queue_spec(rt.health, svc.queue_url(rt.health.dlq_name)),
                                svc.sqs, svc.queue_url)
            began = time.perf_counter()
            _, report = process_batch(event, checker, rt.health, consumer=consumer,
                                      send=lambda items: len(items))
            return len(hub_ids) / (time.perf_counter() - began), report.checked

        unthrottled, checked_u = run(RateLimiter(0))
        limiter = RateLimiter(args.rate, burst=1)
        throttled, checked_t = run(limiter)
        transient = sum(1 for line in metric_lines if '"Result":"transient"' in line)
    budget_accounts = args.rate / 2  # refresh + introspect per account
    per_run_10k = 10_000 / (throttled * args.concurrency)
    print(json.dumps({
        "accounts": len(hub_ids),
        "baseline_bare_oauth_accounts_per_s": round(baseline, 1),
        "unthrottled_accounts_per_s": round(unthrottled, 1),
        "ratio_unthrottled_to_baseline": round(unthrottled / baseline, 3),
        "throttled_accounts_per_s": round(throttled, 2),
        "budget_accounts_per_s": budget_accounts,
        "ratio_throttled_to_budget": round(throttled / budget_accounts, 3),
        "token_endpoint_calls_per_s": round(limiter.calls / (len(hub_ids) / throttled), 2),
        "results_unthrottled": checked_u, "results_throttled": checked_t,
        "transient_results_incl_429": transient,
        "share_of_per_account_api_window_110_per_10s": 0.0,
        "projected_minutes_for_10000_accounts": round(per_run_10k / 60, 1),
        "worker_concurrency": args.concurrency,
    }, indent=2))


if __name__ == "__main__":
    main()
