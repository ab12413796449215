"""Issue 10 §3: the workspace's OAuth override is our HubSpot app, set once before the first
source, set again when the app secret rotates; masked secrets are never read as drift."""
from __future__ import annotations

import json

import boto3

from hubspot_app.lifecycle.reconcile import plan
from hubspot_app.models import AccountStatus, SharedResource
from hubspot_app.runtime import forget_services, services


def _puts(harness) -> int:
    return harness.emu.store.requests.get("PUT /v1/workspaces", 0)


def test_override_set_once_then_again_after_rotation_and_no_drift(harness):
    harness.install(7001)
    harness.install(7002)
    harness.deliver()
    a = harness.account(7001)
    assert a.status == harness.account(7002).status == AccountStatus.ACTIVE
    params = harness.emu.store.oauth_params[(a.airbyte_workspace_id, "source", "hubspot")]
    assert params == {"client_id": "local-hubspot-app",
                      "client_secret": harness.stack.client_secret}
    assert _puts(harness) == 1                     # once for the workspace, not per account
    item = SharedResource.get(f"oauth:{a.airbyte_workspace_id}")
    assert item.fingerprint and harness.stack.client_secret not in item.fingerprint
    # Airbyte answers the source with its client id and secret masked ...
    got = services().airbyte().get_source(a.airbyte_source_id)
    assert got["configuration"]["credentials"]["client_id"] == "**********"
    assert got["configuration"]["credentials"]["client_secret"] == "**********"
    # ... which reconcile must not read as drift.
    findings = [f for f in plan(services()).findings if f.hub_id in (7001, 7002)]
    assert findings == []

    # The app secret rotates: the next provisioning sets the override again.
    sm = boto3.client("secretsmanager")
    name = harness.settings.hubspot.app_secret_name
    old = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({**old,
                                                                "client_secret": "rotated-secret"}))
    try:
        forget_services()  # the secret is read again
        harness.send(7001, verify=True)
        harness.deliver()
        assert _puts(harness) == 2
        assert harness.emu.store.oauth_params[(a.airbyte_workspace_id, "source", "hubspot")][
            "client_secret"] == "rotated-secret"
        assert SharedResource.get(f"oauth:{a.airbyte_workspace_id}").fingerprint != item.fingerprint
    finally:
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(old))
        forget_services()  # the secret is read again
