"""Uninstall and purge: an APP_UNINSTALL read from HubSpot's webhooks journal by the scheduled
poller, the operator path, what is deleted and what remains, refused later messages, a fresh
re-install, and the signed CRM webhooks HubSpot really sends (verified, acknowledged)."""
from __future__ import annotations

import json
import time

import boto3
import requests

from hubspot_app.lifecycle.token_health import check_message, uninstall_message
from hubspot_app.models import Account, AccountStatus, UninstallAudit
from hubspot_app.webhooks import sign_v3
from local_stack.stack import LOCAL_CLIENT_ID


def signed_post(hs, events, timestamp_ms=None, secret=None, raw=None):
    url = f"{hs.stack.app_url}/webhooks/hubspot"
    body = raw if raw is not None else json.dumps(events)
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = sign_v3(secret or hs.stack.client_secret, "POST", url, body, ts)
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": ts})


def put_lake_objects(hs, hub_ids):
    s3 = boto3.client("s3")
    bucket = hs.env["LAKE_BUCKET"]
    for hub_id in hub_ids:
        for key in (f"raw/{hub_id}/contacts/2026_01_01_1_0.parquet",
                    f"raw/{hub_id}/deals/2026_01_01_1_0.parquet",
                    f"curated/contacts/hub_id={hub_id}/part-0.parquet",
                    f"curated/deals/hub_id={hub_id}/part-0.parquet"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    return s3, bucket


def keys(s3, bucket, hub_id):
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return [o["Key"] for o in listed if f"/{hub_id}/" in o["Key"] or f"hub_id={hub_id}/" in o["Key"]]


def test_journal_uninstall_offboards_the_account(hs):
    hub_id, other = hs.hub_ids()[0], hs.hub_ids()[1]
    before = hs.account(hub_id)
    connection_id, source_id = before.airbyte_connection_id, before.airbyte_source_id
    assert connection_id and source_id
    s3, bucket = put_lake_objects(hs, [hub_id, other])

    started = before.installed_at.isoformat(timespec="milliseconds")
    assert hs.uninstall_in_hubspot(hub_id)["journaled"] == [LOCAL_CLIENT_ID]
    summary = hs.poll_journal()
    assert (summary["entries"], summary["handed_over"], summary["skipped"]) == (1, 1, "")

    account = hs.account(hub_id)
    assert account.status == AccountStatus.UNINSTALLED and account.uninstalled_at
    # Token and personal data are gone from the item.
    assert account.refresh_token_encrypted is None and account.user is None
    assert account.hub_domain is None and account.user_id is None
    assert account.airbyte_connection_id is None and account.airbyte_source_id is None
    # Airbyte: connection and source deleted.
    with hs.emu.store.lock:
        assert hs.emu.store.connections[connection_id]["deleted"]
        assert hs.emu.store.sources[source_id]["deleted"]
    # HubSpot: the refresh token was revoked.
    st = hs.stack.sandbox.state
    assert all(r["revoked"] for r in st.refresh_tokens.values() if r["hub_id"] == hub_id)
    assert not all(r["revoked"] for r in st.refresh_tokens.values() if r["hub_id"] == other)
    # S3: this account's raw folder and curated partitions purged, the other account's kept.
    assert keys(s3, bucket, hub_id) == []
    assert len(keys(s3, bucket, other)) == 4
    # The curated Iceberg tables change only by commits: a curate job run purges the account.
    runs = [r for r in hs.stack.glue.runs.values()
            if r["Arguments"].get("--purge_hub_ids") == str(hub_id)]
    assert len(runs) == 1
    hs.stack.glue.wait()
    assert runs[0]["JobRunState"] == "SUCCEEDED", runs[0].get("ErrorMessage")
    # The audit record says what happened, without personal data.
    audits = list(UninstallAudit.query(hub_id, UninstallAudit.at >= started))
    assert len(audits) == 1
    audit = audits[0]
    assert audit.source == "journal" and audit.purged_objects == 4
    assert {"marked_uninstalled", "connection_deleted", "source_deleted", "token_deleted",
            "lake_purged"} <= set(audit.steps)
    assert {"token_revoked", "token_revoke_skipped"} & set(audit.steps)
    raw = json.dumps(audit.attribute_values, default=str)
    assert st.user["email"] not in raw and before.hub_domain not in raw and before.user not in raw
    # Operators were told.
    assert [(a["event"], a["hub_id"]) for a in hs.alerts()] == [("uninstalled", hub_id)]


def test_later_messages_for_the_account_are_refused(hs):
    hub_id = hs.hub_ids()[0]
    assert hs.account(hub_id).status == AccountStatus.UNINSTALLED
    sqs = boto3.client("sqs")
    calls = len(hs.proxy.seen)
    sqs.send_message(QueueUrl=hs.health_route.queue_url,
                     MessageBody=json.dumps(check_message([hub_id], force=True)))
    hs.health_route.run_until_idle(timeout=30)
    assert len(hs.proxy.seen) == calls  # no HubSpot call was made for it
    from hubspot_app.messaging.queues import provision_message

    sqs.send_message(QueueUrl=hs.provision_route.queue_url,
                     MessageBody=json.dumps(provision_message(hub_id, "late:1", "late")))
    hs.provision()
    account = hs.account(hub_id)
    assert account.status == AccountStatus.UNINSTALLED and account.airbyte_connection_id is None
    with hs.emu.store.lock:
        live = [c for c in hs.emu.store.connections.values()
                if c.get("namespaceFormat") == str(hub_id) and not c["deleted"]]
    assert live == []
    # The same uninstall handed over again (a poller re-reading after a crash) is harmless.
    sqs.send_message(QueueUrl=hs.health_route.queue_url, MessageBody=json.dumps(
        uninstall_message(hub_id, "journal", "again")))
    hs.health_route.run_until_idle(timeout=30)
    assert hs.account(hub_id).status == AccountStatus.UNINSTALLED
    assert len(list(UninstallAudit.query(hub_id))) == 1
    assert hs.poll_journal()["entries"] == 0        # the position is past the entry


def test_reinstall_starts_fresh(hs):
    hub_id = hs.hub_ids()[0]
    old_installs = hs.account(hub_id).install_count
    hs.install(hub_id)
    hs.provision()
    account = hs.account(hub_id)
    assert account.status == AccountStatus.ACTIVE and account.install_count == old_installs + 1
    assert account.user and account.refresh_token_encrypted and account.airbyte_connection_id
    assert not account.open_alerts and account.token_health == "ok"
    hs.run_health()
    assert hs.account(hub_id).token_health == "ok"
    assert hs.alerts() == []


def test_uninstall_event_older_than_the_latest_install_is_ignored(hs):
    hub_id = hs.hub_ids()[2]
    installed_ms = int(hs.account(hub_id).installed_at.timestamp() * 1000)
    boto3.client("sqs").send_message(QueueUrl=hs.health_route.queue_url, MessageBody=json.dumps(
        uninstall_message(hub_id, "journal", "late", occurred_at_ms=installed_ms - 60_000)))
    hs.health_route.run_until_idle(timeout=30)
    assert hs.account(hub_id).status == AccountStatus.ACTIVE


def test_operator_uninstall_without_purge_keeps_the_lake(hs):
    from hubspot_app.handlers.lifecycle import lifecycle_parts

    hub_id = hs.hub_ids()[3]
    s3, bucket = put_lake_objects(hs, [hub_id])
    report = lifecycle_parts().uninstaller().uninstall(hub_id, source="operator", reason="contract ended",
                                               purge=False)
    assert report.done and "lake_purged" not in report.steps
    assert "hubspot_uninstalled" in report.steps
    # HubSpot agrees: the app is no longer installed in the account, its tokens are refused.
    st = hs.stack.sandbox.state
    assert hs.stack.sandbox.state.accounts[hub_id].installs == {}
    assert all(r["revoked"] for r in st.refresh_tokens.values() if r["hub_id"] == hub_id)
    assert len(keys(s3, bucket, hub_id)) == 4
    assert hs.account(hub_id).status == AccountStatus.UNINSTALLED
    assert list(UninstallAudit.query(hub_id))[0].source == "operator"
    hs.alerts()


def test_fan_out_skips_uninstalled_accounts(hs):
    from hubspot_app.handlers.lifecycle import token_health_schedule

    summary = token_health_schedule({})
    uninstalled = sum(1 for a in Account.scan() if a.status == AccountStatus.UNINSTALLED)
    assert summary["uninstalled_skipped"] == uninstalled >= 1
    assert summary["accounts"] == len(hs.hub_ids()) - uninstalled
    hs.health_route.run_until_idle(timeout=60)


def test_crm_webhooks_hubspot_sends_are_verified_and_acknowledged(hs):
    """The sandbox signs and sends a CRM webhook itself (its own v3 signer), as HubSpot does:
    the app verifies and acknowledges it; no webhook offboards anyone."""
    hub_id = next(h for h in hs.hub_ids() if hs.account(h).status == AccountStatus.ACTIVE)
    answer = requests.post(f"{hs.stack.hubspot_url}/_sandbox/accounts/{hub_id}/webhook",
                           json={"subscriptionType": "contact.creation"}, timeout=30).json()
    assert answer["webhooks"] == [{"url": f"{hs.stack.app_url}/webhooks/hubspot", "status": 200}]
    hs.health_route.run_until_idle(timeout=30)
    assert hs.account(hub_id).status == AccountStatus.ACTIVE


def test_an_unparseable_signed_body_is_a_400_with_a_json_error(hs):
    """Nesting deep enough to exhaust the parser, through the real route (issue 14)."""
    depth = 200_000
    answer = signed_post(hs, None, raw="[" * depth + "]" * depth)
    assert answer.status_code == 400 and answer.json() == {"error": "body_not_json"}
    assert signed_post(hs, None, raw='{"a": ').json() == {"error": "body_not_json"}
