"""Ambiguous creates (issue 15.1): Airbyte completes a create after the client gave up (its answer
is dropped, comes after the client's timeout, or is replaced by a gateway 5xx), and its lists
show the new resource only a while later. The provisioner looks again over a settle window
before creating; a duplicate that still slips through is converged by reconcile's repair (the
recorded one is kept, else the oldest) with a history entry and an alert. Exact counts: the
emulator's own store is the ground truth."""
from __future__ import annotations

import json

import pytest
import requests

from hubspot_app.models import Account, AccountStatus, utcnow
from local_stack.dispatcher import Scheduler
from tests.harness import run_cli

CLIENT_TIMEOUT = 3  # conftest FAST: AIRBYTE_TIMEOUT_SECONDS


def _late(harness, kind: str, answer: str, visible_after_s: float) -> None:
    # "timeout": Airbyte answers one second after the client gave up.
    harness.fault(mode="late_create", path_prefix=f"/v1/{kind}", answer=answer,
                  visible_after_s=visible_after_s, delay_s=CLIENT_TIMEOUT + 1)


def _reveal(harness) -> int:
    return requests.post(f"{harness.emu.url}/_emulator/late_creates/reveal",
                         timeout=10).json()["revealed"]


def _created(harness) -> dict:
    requests_ = harness.emu.store.requests
    return {k: requests_[f"created {k}"] for k in ("source", "connection")}


def _alerts(harness) -> list[dict]:
    url = harness.sqs.get_queue_url(QueueName=harness.env["ALERTS_INBOX_QUEUE_NAME"])["QueueUrl"]
    out = []
    while True:
        got = harness.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            harness.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _exactly_one_each(harness, hub: int) -> Account:
    account = harness.account(hub)
    assert account.status == AccountStatus.ACTIVE
    [source] = harness.live("sources", hub)
    [connection] = harness.live("connections", hub)
    assert account.airbyte_source_id == source["sourceId"]
    assert account.airbyte_connection_id == connection["connectionId"]
    assert connection["sourceId"] == source["sourceId"]
    return account


@pytest.mark.parametrize("kind", ["sources", "connections"])
@pytest.mark.parametrize("answer", ["drop", "timeout", "5xx"])
def test_late_answer_is_found_within_the_settle_window(harness, configured, kind, answer):
    hub = 6000 + 10 * ["drop", "timeout", "5xx"].index(answer) + (kind == "connections")
    harness.install(hub, send=False)
    before = _created(harness)
    # Listed 6 s after the create: later than the message's first retry (about 1 s after the
    # failure, 4 s for the timeout answer), well within a 30 s settle window.
    _late(harness, kind, answer, visible_after_s=6)
    with configured(AIRBYTE_CREATE_SETTLE_SECONDS="30"):
        harness.send(hub)
        harness.deliver()
    account = _exactly_one_each(harness, hub)
    after = _created(harness)
    assert after["source"] - before["source"] == 1           # one create each, no second try
    assert after["connection"] - before["connection"] == 1
    events = [e.event for e in account.provisioning_history]
    assert events[-1] == "provisioned" and "retrying" not in events
    assert "adopted after an ambiguous create" in account.provisioning_history[-1].detail
    assert "duplicates-converged" not in events


def test_late_workspace_and_destination_are_found_not_created_twice(harness, configured):
    hub = 6101
    harness.install(hub, send=False)
    _late(harness, "workspaces", "drop", visible_after_s=4)
    _late(harness, "destinations", "5xx", visible_after_s=4)
    with configured(AIRBYTE_WORKSPACE_PER_ACCOUNT="true", AIRBYTE_CREATE_SETTLE_SECONDS="30"):
        harness.send(hub)
        harness.deliver()
    account = _exactly_one_each(harness, hub)
    store = harness.emu.store
    with store.lock:
        workspaces = [w for w in store.workspaces.values()
                      if w["name"] == f"hubspot-pipeline-local-hub-{hub}" and not w["deleted"]]
        destinations = [d for d in store.destinations.values()
                        if d["workspaceId"] == account.airbyte_workspace_id and not d["deleted"]]
    assert [w["workspaceId"] for w in workspaces] == [account.airbyte_workspace_id]
    assert [d["destinationId"] for d in destinations] == [account.airbyte_destination_id]


def test_duplicates_that_slip_through_are_converged_by_reconcile(harness, configured):
    """Both creates answer late and show up only after the settle window: the retries create
    a second source and a second connection. Reconcile sees the pairs once they are listed and
    its repair keeps the recorded ones and deletes the late ones, with history and alert."""
    hub = 6201
    harness.install(hub, send=False)
    _alerts(harness)  # start from an empty inbox
    _late(harness, "sources", "drop", visible_after_s=3600)       # until revealed
    _late(harness, "connections", "timeout", visible_after_s=3600)
    with configured(AIRBYTE_CREATE_SETTLE_SECONDS="1"):
        harness.send(hub)
        harness.deliver()
        account = harness.account(hub)
        assert account.status == AccountStatus.ACTIVE
        # The slip: two of each exist in Airbyte (one of each not listed yet).
        assert len(harness.live("sources", hub)) == 2
        assert len(harness.live("connections", hub)) == 2
        late_source = next(s["sourceId"] for s in harness.live("sources", hub)
                           if s["sourceId"] != account.airbyte_source_id)
        late_connection = next(c["connectionId"] for c in harness.live("connections", hub)
                               if c["connectionId"] != account.airbyte_connection_id)
        assert _reveal(harness) == 2

        code, out, _ = run_cli("reconcile", "--dry-run", "--json")
        assert code == 0
        mine = [f for f in json.loads(out)["findings"] if f["hub_id"] == hub]
        assert [f["action"] for f in mine] == ["provision"]     # a repair, not an orphan report
        assert "2 sources named" in mine[0]["problem"]
        assert "2 connections named" in mine[0]["problem"]

        Scheduler(harness.client, "reconcile").fire()
        harness.deliver()
    account = _exactly_one_each(harness, hub)
    assert late_source not in {s["sourceId"] for s in harness.live("sources", hub)}
    assert late_connection not in {c["connectionId"] for c in harness.live("connections", hub)}
    converged = [e for e in account.provisioning_history if e.event == "duplicates-converged"]
    assert len(converged) == 2
    assert late_source in converged[0].detail and "recorded on the account" in converged[0].detail
    assert late_connection in converged[1].detail
    alerts = [a for a in _alerts(harness) if a["event"] == "duplicates_converged"]
    assert [(a["hub_id"], a["details"]["kind"]) for a in alerts] == [(hub, "source"),
                                                                     (hub, "connection")]
    assert alerts[0]["details"]["deleted"] == [f"source {late_source}"]
    # Converged: the next reconcile has nothing to repair for this account.
    code, out, _ = run_cli("reconcile", "--dry-run", "--json")
    assert [f for f in json.loads(out)["findings"] if f["hub_id"] == hub] == []


def test_without_a_recorded_id_the_oldest_duplicate_is_kept(harness):
    """Two sources with the account's name, neither recorded (e.g. the worker died before it
    could record either): the oldest by createdAt is adopted, whatever the list order."""
    from datetime import timedelta

    from hubspot_app.airbyte.spec import source_configuration
    from hubspot_app.lifecycle.provisioner import ensure_workspace
    from hubspot_app.runtime import services

    hub = 6301
    harness.install(hub, send=False)
    svc = services()
    settings, client = svc.settings, svc.airbyte()
    config = source_configuration(settings, svc.app_credentials(), "rt")
    name = f"hubspot-pipeline-local-hub-{hub}"
    workspace = ensure_workspace(svc, client, "test", hub)
    first = client.create_source(workspace, name, config)["sourceId"]
    second = client.create_source(workspace, name, config)["sourceId"]
    with harness.emu.store.lock:  # listed first, but created later than the second one
        harness.emu.store.sources[first]["createdAt"] -= 60
        harness.emu.store.sources[second]["createdAt"] -= 120
    # A create was intended a minute ago (past the settle window: one look, no waiting).
    Account(hub_id=hub).update(actions=[
        Account.airbyte_source_intent_at.set(utcnow() - timedelta(minutes=1))])
    harness.send(hub)
    harness.deliver()
    account = _exactly_one_each(harness, hub)
    assert account.airbyte_source_id == second
    [converged] = [e for e in account.provisioning_history if e.event == "duplicates-converged"]
    assert f"kept {second} (oldest)" in converged.detail and f"source {first}" in converged.detail
