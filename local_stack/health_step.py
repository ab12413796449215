"""Main-job step: the accounts' lives after install, through the channels HubSpot really has.
One account uninstalls the app in HubSpot (an APP_UNINSTALL entry in the app's webhooks journal,
read by the scheduled journal poller); another's refresh token is revoked at HubSpot with no
journal entry (the token-health check's refused refresh is the fallback signal). Each account's
state is printed with the alerts operators received."""
from __future__ import annotations

import json

import boto3
import requests

from hubspot_app.models import Account

from .dispatcher import Scheduler, SqsRoute, describe
from .stack import LocalStack


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def _inbox(stack: LocalStack) -> list[dict]:
    """Alerts that reached the operators' subscription (an SQS queue on the alert topic)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.env["ALERTS_INBOX_QUEUE_NAME"])["QueueUrl"]
    alerts = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            body = json.loads(message["Body"])
            alerts.append(json.loads(body["Message"]) if "TopicArn" in body else body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return alerts


def _objects_per_hub(bucket: str) -> dict[int, int]:
    """Objects under raw/<hub_id>/ and curated/<table>/hub_id=<hub_id>/, per hub."""
    counts: dict[int, int] = {}
    for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            hub = parts[1] if parts[0] == "raw" and len(parts) > 2 else next(
                (p.removeprefix("hub_id=") for p in parts if p.startswith("hub_id=")), None)
            if hub and hub.isdigit():
                counts[int(hub)] = counts.get(int(hub), 0) + 1
    return counts


def subscribe_lifecycle(hubspot_url: str, client_id: str, client_secret: str) -> dict:
    """What an operator does once per app (README, "Uninstall channels"): an APP_LIFECYCLE_EVENT
    journal subscription (webhooksJournal.json 2026-03, AppLifecycleEventSubscriptionUpsertRequest)
    with a client-credentials token carrying the subscriptions.write scope."""
    token = requests.post(f"{hubspot_url}/oauth/2026-03/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
        "scope": "developer.webhooks_journal.subscriptions.write"})
    token.raise_for_status()
    answer = requests.post(f"{hubspot_url}/webhooks-journal/subscriptions/2026-03", timeout=10,
                           headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                           json={"subscriptionType": "APP_LIFECYCLE_EVENT",
                                 "eventTypeId": "app_lifecycle", "properties": []})
    answer.raise_for_status()
    return answer.json()


def lifecycle(stack: LocalStack, hub_ids: list[int], step: str = "9") -> dict[int, str]:
    """Returns each account's status after the check."""
    _heading(f"{step}. Token health and offboarding")
    hubs = sorted(hub_ids)
    client = stack.chalice_client()
    worker = SqsRoute(client, stack.env["LIFECYCLE_QUEUE_NAME"], "lifecycle_worker",
                      batch_size=4)
    if len(hubs) >= 2:
        from .stack import LOCAL_CLIENT_ID

        subscribe_lifecycle(stack.hubspot_url, LOCAL_CLIENT_ID, stack.client_secret)
        uninstalled = hubs[-1]
        answer = requests.post(f"{stack.hubspot_url}/_sandbox/accounts/{uninstalled}/uninstall",
                               json={}, timeout=30).json()
        print(f"  hub {uninstalled:>10}  uninstalled in HubSpot; journaled for "
              f"{len(answer.get('journaled', []))} app(s)")
    if len(hubs) >= 3:
        revoked = hubs[-2]
        requests.post(f"{stack.hubspot_url}/_sandbox/accounts/{revoked}/uninstall",
                      json={"journal": False}, timeout=30).raise_for_status()
        print(f"  hub {revoked:>10}  refresh token revoked at HubSpot, no journal entry: the "
              f"check must notice")
    polled = Scheduler(client, "journal_poller").fire({})
    print(f"  journal poller: {polled.get('entries', '?')} entr(y/ies) read, "
          f"{polled.get('handed_over', '?')} uninstall(s) handed to offboarding")
    summary = Scheduler(client, "token_health_schedule").fire({"force": True})
    print(f"  schedule: {summary.get('accounts', '?')} account(s) fanned out in "
          f"{summary.get('messages', '?')} message(s)")
    print(f"  worker delivery: {describe(worker.run_until_idle(timeout=300))}")
    states = {}
    stack.glue.wait()  # the uninstall's curated purge run (hubspot_app/lifecycle/uninstall.py)
    lake = _objects_per_hub(stack.env["LAKE_BUCKET"])
    for hub in hubs:
        account = Account.get(hub, consistent_read=True)
        states[hub] = account.status
        connection = "deleted" if not account.airbyte_connection_id else (
            "paused" if account.paused_by_health else "active")
        print(f"  hub {hub:>10}  status={account.status:<12} token_health={account.token_health}"
              f"  connection={connection:<7}  lake objects={lake.get(hub, 0)}")
    for alert in _inbox(stack):
        print(f"  alert: [{alert.get('severity')}] {alert.get('event')} hub {alert.get('hub_id')}: "
              f"{alert.get('summary')} -> {alert.get('action')}")
    return states
