"""The main job: the whole flow on the local stack, printed step by step.

Today: install the app into every sandbox account through the real routes, then show the
accounts as stored (tokens masked) and the provision messages queued.
"""
from __future__ import annotations

import json

import boto3
import requests

from hubspot_app.config import get_settings
from hubspot_app.logs import mask_token
from hubspot_app.models import Account, bind_tables
from hubspot_app.runtime import services
from hubspot_app.token_crypto import decrypt_token

from .analyst_step import answer_examples
from .browser import install_account
from .curate_step import change_in_hubspot, curate_all
from .health_step import lifecycle
from .labels_step import read_labels
from .provision_step import provision_all, sync_all
from .stack import LocalStack


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def install_all(stack: LocalStack) -> list[int]:
    _heading("1. Installing the app into every sandbox account (browser flow)")
    accounts = requests.get(f"{stack.hubspot_url}/_sandbox/accounts", timeout=10).json()
    accounts = accounts.get("accounts", accounts) if isinstance(accounts, dict) else accounts
    installed = []
    for acct in accounts:
        page = install_account(stack.app_url, acct["hub_id"])
        ok = page.status_code == 200 and "HubSpot connected" in page.text
        print(f"  hub {acct['hub_id']:>10}  {acct.get('hub_domain', ''):<32} -> "
              f"HTTP {page.status_code} {'installed' if ok else 'FAILED'}")
        if not ok:
            raise SystemExit(f"install into hub {acct['hub_id']} failed: HTTP {page.status_code}")
        installed.append(int(acct["hub_id"]))
    return installed


def show_accounts() -> None:
    _heading("2. Accounts as stored in DynamoDB")
    settings = get_settings()
    bind_tables(settings.accounts_table, settings.states_table)
    for acct in sorted(Account.scan(), key=lambda a: a.hub_id):
        token = decrypt_token(acct.refresh_token_encrypted, acct.hub_id, kms=services().kms)
        print(f"  hub {acct.hub_id:>10}  user={acct.user:<28} domain={acct.hub_domain:<28} "
              f"status={acct.status:<12} installs={acct.install_count} scopes={len(acct.scopes)} "
              f"refresh_token={mask_token(token)} (stored KMS-encrypted, "
              f"{len(acct.refresh_token_encrypted)} chars)")


def show_provision_queue() -> None:
    _heading("3. Provision messages queued")
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().provisioning.queue_name)["QueueUrl"]
    seen = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        seen += batch
    for msg in seen:  # put them back for the provisioner
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"],
                                      VisibilityTimeout=0)
    for msg in sorted(seen, key=lambda m: json.loads(m["Body"])["hub_id"]):
        print(f"  {msg['Body']}")
    print(f"  {len(seen)} message(s) on {get_settings().provisioning.queue_name}")


def run(accounts: int = 3, seed: int = 7, streams: str = "",
        settings: dict[str, str] | None = None) -> int:
    """``settings``: the stage's environment variables this run overrides (``--set``)."""
    from hubspot_app import metrics

    emitted: list[str] = []
    metrics.set_sink(emitted.append)  # CloudWatch EMF lines: counted here, not printed
    overrides = {**(settings or {}), **({"AIRBYTE_STREAMS": streams} if streams else {})}
    with LocalStack(accounts=accounts, seed=seed, overrides=overrides) as stack:
        print(f"Local stack up: AWS (moto) {stack.aws_url}, HubSpot sandbox {stack.hubspot_url}, "
              f"app {stack.app_url}")
        hub_ids = install_all(stack)
        show_accounts()
        show_provision_queue()
        accounts = provision_all(stack, hub_ids)
        sync_all(stack, accounts)
        labels_ok = read_labels(stack, hub_ids)
        curated_ok = curate_all(stack, hub_ids)
        # A day later: HubSpot changed; the next (incremental) sync and Glue run pick it up.
        change_in_hubspot(stack, hub_ids, step="9")
        sync_all(stack, accounts, step="10", files_step=None, first=False)
        curated_ok &= curate_all(stack, hub_ids, step="11", table_step="12")
        lifecycle(stack, hub_ids, step="13")
        examples_ok = answer_examples(stack.glue.lake_root, step="14")
    names = sorted({name for line in emitted for name in _metric_names(line)})
    print(f"\n{len(emitted)} CloudWatch metric lines (EMF) emitted: {', '.join(names)}")
    if not labels_ok:
        print("\nMain job finished, but the association labels read do not match the sandbox "
              "(see step 6b).")
        return 1
    if not curated_ok:
        print("\nMain job finished, but the curated tables do not match the sandbox (see above).")
        return 1
    if not examples_ok:
        print("\nMain job finished, but an example question failed (see above).")
        return 1
    print("\nMain job finished: every account installed, provisioned in Airbyte, synced and "
          "curated; token health checked and an uninstall offboarded.")
    return 0


def _metric_names(line: str) -> list[str]:
    directives = json.loads(line)["_aws"]["CloudWatchMetrics"]
    return [m["Name"] for d in directives for m in d["Metrics"]]
