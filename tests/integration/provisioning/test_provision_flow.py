"""The provisioner through the queue: one source and one connection per account, whatever the
messages do; settings from the stage; ids and history on the account."""
from __future__ import annotations

import threading

from hubspot_app.models import AccountStatus, SharedResource
from local_stack.dispatcher import SqsRoute


def test_install_provisions_source_and_connection(harness):
    harness.install(1001)
    report = harness.deliver()
    assert report.succeeded >= 1 and not report.errors
    account = harness.account(1001)
    assert account.status == AccountStatus.ACTIVE
    [source] = harness.live("sources", 1001)
    [conn] = harness.live("connections", 1001)
    assert account.airbyte_source_id == source["sourceId"]
    assert account.airbyte_connection_id == conn["connectionId"]
    # The connection: namespace = hub_id, schedule from the stage config; every stream Airbyte
    # discovered for the source (AIRBYTE_STREAMS is empty), each in its best sync mode.
    assert conn["namespaceDefinition"] == "custom_format" and conn["namespaceFormat"] == "1001"
    settings = harness.settings
    want = {(n, "incremental_append" if info["incremental"] else "full_refresh_overwrite")
            for n, info in harness.emu.catalog.items()}
    assert {(s["name"], s["syncMode"]) for s in conn["streams"]} == want
    assert conn["schedule"] == {"scheduleType": "cron",
                                "cronExpression": settings.airbyte.schedule_cron}
    assert conn["destinationId"] == account.airbyte_destination_id
    # The source: the app's client id/secret from the secret store, the account's own token.
    creds = source["configuration"]["credentials"]
    assert creds["client_id"] == "local-hubspot-app"
    assert creds["client_secret"] == harness.stack.client_secret
    assert creds["refresh_token"].startswith("refresh-1001-")
    assert source["configuration"]["start_date"] == settings.airbyte.source_start_date
    # The shared destination: S3, Parquet, the lake bucket's raw prefix, namespace in the path.
    dest = harness.emu.store.destinations[account.airbyte_destination_id]["configuration"]
    assert dest["s3_bucket_name"] == settings.lake.bucket and dest["s3_bucket_path"] == "raw"
    assert dest["format"]["format_type"] == "Parquet"
    assert dest["s3_path_format"].startswith("${NAMESPACE}/${STREAM_NAME}/")
    assert [e.event for e in account.provisioning_history][-1] == "provisioned"


def test_duplicate_and_concurrent_messages_make_one_source_and_connection(harness):
    hubs = [2001, 2002, 2003, 2004, 2005]
    for hub in hubs:
        harness.install(hub)
    for _ in range(6):                    # duplicates of one account's message...
        harness.send(2001)
    for hub in hubs[1:]:                  # ...and of the others, out of order
        harness.send(hub, reason="duplicate")
    # Four concurrent consumers, as Lambda runs several batches at once.
    routes = [SqsRoute(harness.client, harness.env["PROVISION_QUEUE_NAME"], "provisioner",
                       batch_size=2) for _ in range(4)]
    errors = []

    def consume(route):
        try:
            route.run_until_idle(timeout=90)
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(r,)) for r in routes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for hub in hubs:
        assert len(harness.live("sources", hub)) == 1, hub
        assert len(harness.live("connections", hub)) == 1, hub
        account = harness.account(hub)
        assert account.status == AccountStatus.ACTIVE
        assert account.provision_lease_owner is None
    # A message for an account already provisioned changes nothing in Airbyte.
    creates = dict(harness.emu.store.requests)
    harness.send(2001)
    harness.deliver()
    assert harness.emu.store.requests.get("created source") == creates.get("created source")
    assert harness.emu.store.requests.get("created connection") == creates.get("created connection")
    # One shared destination and one workspace for all of them.
    assert harness.emu.state()["totals"]["destinations"] == 1
    assert len({harness.account(h).airbyte_destination_id for h in hubs}) == 1
    keys = sorted(item.key.split(":")[0] for item in SharedResource.scan())
    assert keys == ["destination", "oauth", "workspace"]  # oauth: the override's fingerprint


def test_lost_create_response_is_found_by_name_not_created_twice(harness):
    """The source is created but the response never arrives (connection dropped)."""
    harness.install(3001, send=False)
    harness.fault(mode="lose_response_after_create", path_prefix="/v1/sources", count=1)
    harness.fault(mode="lose_response_after_create", path_prefix="/v1/connections", count=1)
    harness.send(3001)
    harness.deliver()
    account = harness.account(3001)
    assert account.status == AccountStatus.ACTIVE
    assert len(harness.live("sources", 3001)) == 1
    assert len(harness.live("connections", 3001)) == 1
    events = [e.event for e in account.provisioning_history]
    # Both are found by the look-up after the ambiguous create, in the same run (issue 15.1).
    assert "retrying" not in events and events[-1] == "provisioned"
    detail = account.provisioning_history[-1].detail
    assert "source adopted after an ambiguous create" in detail
    assert "connection adopted after an ambiguous create" in detail


def test_crash_after_source_created_completes_without_duplicate(harness, monkeypatch):
    """The worker dies right after Airbyte created the source, before anything was recorded."""
    from hubspot_app.airbyte import client as airbyte_client

    original = airbyte_client.AirbyteClient.create_source
    crashed = []

    def create_then_crash(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if not crashed:
            crashed.append(result["sourceId"])
            raise RuntimeError("worker crashed")
        return result

    monkeypatch.setattr(airbyte_client.AirbyteClient, "create_source", create_then_crash)
    harness.install(3002)
    harness.deliver()
    account = harness.account(3002)
    assert crashed and account.airbyte_source_id == crashed[0]
    assert len(harness.live("sources", 3002)) == 1
    assert len(harness.live("connections", 3002)) == 1
    assert account.status == AccountStatus.ACTIVE


def test_workspace_per_account_when_configured(harness, configured):
    with configured(AIRBYTE_WORKSPACE_PER_ACCOUNT="true"):
        harness.install(3101)
        harness.install(3102)
        harness.deliver()
    a, b = harness.account(3101), harness.account(3102)
    assert a.status == b.status == AccountStatus.ACTIVE
    assert a.airbyte_workspace_id != b.airbyte_workspace_id
    assert a.airbyte_destination_id != b.airbyte_destination_id
    names = {w["name"] for w in harness.emu.store.workspaces.values() if not w["deleted"]}
    assert {"hubspot-pipeline-local-hub-3101", "hubspot-pipeline-local-hub-3102"} <= names
    [conn] = harness.live("connections", 3101)
    assert conn["workspaceId"] == a.airbyte_workspace_id
