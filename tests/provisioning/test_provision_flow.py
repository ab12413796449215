"""The provisioner through the queue: one source and one connection per account, whatever the
messages do; settings from the stage; ids and history on the account."""
from __future__ import annotations

import threading

from hubspot_app.models import AccountStatus


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
    # The connection: namespace = hub_id, streams and modes and schedule from the stage config.
    assert conn["namespaceDefinition"] == "custom_format" and conn["namespaceFormat"] == "1001"
    settings = harness.settings
    want = {tuple(s.split(":")) for s in settings.airbyte_streams}
    assert {(s["name"], s["syncMode"]) for s in conn["streams"]} == want
    assert conn["schedule"] == {"scheduleType": "cron",
                                "cronExpression": settings.airbyte_schedule_cron}
    assert conn["destinationId"] == account.airbyte_destination_id
    # The source: the app's client id/secret from the secret store, the account's own token.
    creds = source["configuration"]["credentials"]
    assert creds["client_id"] == "local-hubspot-app"
    assert creds["client_secret"] == harness.stack.client_secret
    assert creds["refresh_token"].startswith("refresh-1001-")
    assert source["configuration"]["start_date"] == settings.airbyte_source_start_date
    assert [e.event for e in account.provisioning_history][-1] == "provisioned"
