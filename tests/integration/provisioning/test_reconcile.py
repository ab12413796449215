"""Reconcile (command and scheduled function) finds drift between accounts and Airbyte and
repairs it through the provision queue; changed refresh tokens reach Airbyte."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3

from hubspot_app.models import Account, AccountStatus, utcnow
from hubspot_app.runtime import services
from hubspot_app.token_crypto import encrypt_token
from local_stack.dispatcher import Scheduler
from tests.harness import run_cli


def _provisioned(harness, hub: int) -> Account:
    harness.install(hub)
    harness.deliver()
    account = harness.account(hub)
    assert account.status == AccountStatus.ACTIVE
    return account


def _stored_token(harness, hub: int) -> str:
    [source] = harness.live("sources", hub)
    return source["configuration"]["credentials"]["refresh_token"]


def test_reinstall_pushes_the_new_refresh_token(harness):
    _provisioned(harness, 5001)
    old = _stored_token(harness, 5001)
    harness.install(5001, refresh_token="refresh-5001-after-reinstall")  # the callback's path
    harness.deliver()
    account = harness.account(5001)
    assert account.status == AccountStatus.ACTIVE and account.install_count == 2
    assert _stored_token(harness, 5001) == "refresh-5001-after-reinstall" != old
    assert len(harness.live("sources", 5001)) == 1 and len(harness.live("connections", 5001)) == 1
    assert "refresh_token" in account.provisioning_history[-1].detail


def test_reconcile_repairs_drift_through_the_queue(harness):
    settings = harness.settings
    client = services().airbyte()
    deleted = _provisioned(harness, 5101)          # connection deleted in Airbyte
    drifted = _provisioned(harness, 5102)          # connection settings changed by hand
    token = _provisioned(harness, 5103)            # token changed, provision message lost
    gone = _provisioned(harness, 5104)             # uninstalled: its connection must go
    harness.install(5105, send=False)              # provision message never sent
    client.delete_connection(deleted.airbyte_connection_id)
    client.update_connection(drifted.airbyte_connection_id, {
        "schedule": {"scheduleType": "manual"},
        "configurations": {"streams": [{"name": "contacts", "syncMode": "full_refresh_append"}]}})
    token.update(actions=[Account.refresh_token_encrypted.set(
        encrypt_token("refresh-5103-rotated", 5103, settings.kms_key_id, kms=services().kms))])
    gone.update(actions=[Account.status.set(AccountStatus.UNINSTALLED)])
    Account(hub_id=5105).update(actions=[
        Account.updated_at.set(utcnow() - timedelta(hours=2))])
    # Something made by hand with our naming scheme, for no account: reported, not touched.
    orphan = client.create_source(deleted.airbyte_workspace_id, "hubspot-pipeline-local-hub-5199", {
        "sourceType": "hubspot", "credentials": {"credentials_title": "OAuth Credentials",
                                                 "client_id": "x", "client_secret": "y",
                                                 "refresh_token": "z"}})

    code, out, _ = run_cli("reconcile", "--dry-run", "--json")
    assert code == 0
    plan = {f["hub_id"]: f for f in json.loads(out)["findings"]}
    assert plan[5101]["action"] == "provision" and "connection missing" in plan[5101]["problem"]
    assert plan[5102]["action"] == "provision" and "schedule" in plan[5102]["problem"]
    assert "streams" in plan[5102]["problem"]
    assert plan[5103]["action"] == "provision" and "refresh token" in plan[5103]["problem"]
    assert plan[5104]["action"] == "deprovision"
    assert plan[5105]["action"] == "provision" and "stuck in installed" in plan[5105]["problem"]
    assert plan[5199]["action"] == "report" and "orphan" in plan[5199]["problem"]
    assert harness.route.pending() == 0            # a dry run queues nothing

    # The scheduled function, as EventBridge would invoke it.
    result = Scheduler(harness.client, "reconcile").fire()
    assert result["queued"] == 5
    harness.deliver()

    assert len(harness.live("connections", 5101)) == 1
    assert harness.account(5101).airbyte_connection_id != deleted.airbyte_connection_id
    [conn] = harness.live("connections", 5102)
    assert conn["schedule"]["cronExpression"] == settings.airbyte.schedule_cron
    assert {s["name"] for s in conn["streams"]} == set(harness.emu.catalog)  # all discovered
    assert _stored_token(harness, 5103) == "refresh-5103-rotated"
    assert harness.live("connections", 5104) == [] and harness.live("sources", 5104) == []
    assert harness.account(5104).airbyte_connection_id is None
    assert harness.account(5104).provisioning_history[-1].event == "deprovisioned"
    assert harness.account(5105).status == AccountStatus.ACTIVE
    assert orphan["sourceId"] in harness.emu.store.sources  # reported only
    # Converged: a second run finds only the orphan.
    code, out, _ = run_cli("reconcile", "--json")
    findings = json.loads(out)["findings"]
    assert [f["hub_id"] for f in findings if f["action"] != "report"] == []
    client.delete_source(orphan["sourceId"])


def test_reconcile_can_pause_instead_of_delete(harness, configured):
    account = _provisioned(harness, 5201)
    account.update(actions=[Account.status.set(AccountStatus.UNINSTALLED)])
    with configured(RECONCILE_UNINSTALLED_ACTION="pause"):
        code, out, _ = run_cli("reconcile")
        assert code == 0 and "5201" in out
        harness.deliver()
    [conn] = harness.live("connections", 5201)
    assert conn["status"] == "inactive"
    assert harness.account(5201).provisioning_history[-1].event == "paused"


def test_no_token_or_secret_in_any_log_line(harness, captured_logs):
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId=harness.settings.airbyte.secret_name)["SecretString"])["client_secret"]
    harness.install(5301, refresh_token="refresh-5301-very-secret")
    harness.fault(mode="5xx", status=500, path_prefix="/v1/connections", count=1)
    harness.deliver()
    harness.install(5301, refresh_token="refresh-5301-second-secret")
    harness.deliver()
    assert harness.account(5301).status == AccountStatus.ACTIVE
    text = "\n".join(captured_logs.lines)
    issued = list(harness.emu.auth._issued)
    for value in ["refresh-5301-very-secret", "refresh-5301-second-secret",
                  harness.stack.client_secret, secret, *issued]:
        assert value not in text
    assert any('"message": "account provisioned"' in line and '"hub_id": "5301"' in line
               for line in captured_logs.lines)
    assert any('"message": "provisioning failed"' in line for line in captured_logs.lines)
