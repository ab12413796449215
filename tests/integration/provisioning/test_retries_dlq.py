"""Transient failures return with growing delays; permanent ones and exhausted retries land in
the DLQ with the reason; operators list, show, redrive and purge them with the CLI."""
from __future__ import annotations

import json
import re

from hubspot_app.models import AccountStatus
from tests.harness import run_cli


def test_airbyte_down_retries_then_dlq_then_redrive_after_recovery(harness):
    hub = 4001
    harness.install(hub, send=False)
    harness.fault(mode="5xx", status=503, path_prefix="/v1/", count=10_000)  # Airbyte is down
    harness.send(hub)
    # Returns as soon as the queue is empty (about 10 s); the margin is for a loaded machine.
    harness.deliver(timeout=300)
    account = harness.account(hub)
    assert account.status == AccountStatus.PROVISIONING_FAILED
    assert "HTTP 503" in account.provision_error
    events = [(e.event, e.receive_count) for e in account.provisioning_history]
    assert events == [("retrying", 1), ("retrying", 2), ("retrying", 3), ("dead-lettered", 4)]
    waits = [int(re.search(r"next try in (\d+)s", e.detail).group(1))
             for e in account.provisioning_history if e.event == "retrying"]
    assert waits == sorted(waits) and waits[-1] > waits[0]  # growing delay (1, 2, 4 s here)
    assert harness.live("sources", hub) == []

    code, out, _ = run_cli("dlq", "list", "--json")
    assert code == 0
    [letter] = [d for d in json.loads(out) if d["hub_id"] == hub]
    assert letter["receive_count"] == 4 and letter["error_kind"] == "retries_exhausted"
    assert "HTTP 503" in letter["error"]
    code, out, _ = run_cli("dlq", "list")
    assert code == 0 and str(hub) in out and "HTTP 503" in out
    code, out, _ = run_cli("dlq", "show", letter["message_id"])
    assert code == 0 and "dead-lettered" in out and "Redrive after the fix" in out

    harness.clear_faults()                    # Airbyte is back
    code, out, _ = run_cli("dlq", "redrive", letter["message_id"])
    assert code == 0 and "1 redriven" in out
    harness.deliver()
    account = harness.account(hub)
    assert account.status == AccountStatus.ACTIVE and account.provision_error is None
    assert len(harness.live("sources", hub)) == 1 and len(harness.live("connections", hub)) == 1
    assert [e.event for e in account.provisioning_history][-2:] == ["redriven", "provisioned"]
    assert hub not in [d["hub_id"] for d in harness.dlq_messages()]

    code, out, _ = run_cli("account", "show", str(hub))
    assert code == 0 and "dead-lettered" in out and "redriven" in out and "active" in out
    assert "refresh-4001" not in out  # the token never, only its encrypted length


def test_permanent_failure_goes_to_dlq_at_once_with_reason(harness, configured):
    hub = 4002
    harness.install(hub, send=False)
    with configured(AIRBYTE_SOURCE_START_DATE="last tuesday"):  # Airbyte answers 422
        harness.send(hub)
        report = harness.deliver()
    assert report.received == 1  # no retries: retrying cannot fix a bad configuration
    account = harness.account(hub)
    assert account.status == AccountStatus.PROVISIONING_FAILED
    assert account.provision_error.startswith("permanent:") and "422" in account.provision_error
    [letter] = [d for d in harness.dlq_messages() if d["hub_id"] == hub]
    assert letter["error_kind"] == "permanent" and letter["receive_count"] == 1
    assert "start_date" in letter["error"]
    # After the fix (settings back to normal), redrive all of that hub's messages.
    code, out, _ = run_cli("dlq", "redrive", "--all", "--hub", str(hub))
    assert code == 0
    harness.deliver()
    assert harness.account(hub).status == AccountStatus.ACTIVE


def test_unknown_account_and_malformed_message_are_dead_lettered(harness):
    harness.send(4999_0001)
    harness.sqs.send_message(QueueUrl=harness.route.queue_url, MessageBody="not json")
    harness.deliver()
    letters = harness.dlq_messages()
    assert any(d["hub_id"] == 4999_0001 and "no account" in d["error"] for d in letters)
    malformed = [d for d in letters if "malformed" in d["error"]]
    assert malformed
    code, out, _ = run_cli("dlq", "purge", malformed[0]["message_id"])
    assert code == 2  # purge wants --yes
    code, out, _ = run_cli("dlq", "purge", malformed[0]["message_id"], "--yes")
    assert code == 0 and "1 purged" in out
    assert malformed[0]["message_id"] not in [d["message_id"] for d in harness.dlq_messages()]


def test_cli_usage_and_exit_codes(harness):
    code, out, _ = run_cli("--help")
    assert code == 0 and "dlq" in out and "account" in out and "Exit codes" in out
    assert run_cli("account", "show", "987654321")[0] == 3
    assert run_cli("dlq", "show", "no-such-message")[0] == 3
    assert run_cli("dlq", "redrive")[0] == 2            # neither ids nor --all
    assert run_cli("dlq", "frobnicate")[0] == 2


def test_partial_batch_response_names_only_the_failed_message(harness):
    from datetime import timedelta

    from hubspot_app.models import Account, utcnow
    from local_stack.dispatcher import lambda_sqs_event

    harness.install(4101, send=False)
    harness.install(4102, send=False)
    # Another worker holds 4102's lease, taken before our message was sent (so it may not
    # have seen what the message is about: the message must come back, not be dropped).
    Account(hub_id=4102).update(actions=[
        Account.provision_lease_owner.set("someone-else"),
        Account.provision_lease_until.set(utcnow() + timedelta(seconds=10))])
    harness.send(4101)
    harness.send(4102)
    route = harness.route
    messages = route.sqs.receive_message(QueueUrl=route.queue_url, MaxNumberOfMessages=10,
                                         AttributeNames=["All"])["Messages"]
    assert len(messages) == 2
    by_hub = {json.loads(m["Body"])["hub_id"]: m["MessageId"] for m in messages}
    payload = harness.client.lambda_.invoke(
        "provisioner", lambda_sqs_event(messages, route.queue_arn, route.region)).payload
    assert payload == {"batchItemFailures": [{"itemIdentifier": by_hub[4102]}]}
    assert harness.account(4101).status == AccountStatus.ACTIVE
    assert harness.account(4102).status == AccountStatus.INSTALLED
    for m in messages:  # tidy: as the dispatcher would after the lease ends
        route.sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=m["ReceiptHandle"])
    Account(hub_id=4102).update(actions=[Account.provision_lease_owner.remove(),
                                         Account.provision_lease_until.remove()])
    harness.send(4102)
    harness.deliver()
    assert harness.account(4102).status == AccountStatus.ACTIVE
