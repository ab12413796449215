"""Issue 15.5 on the provision queue: every malformed, unknown-account or oversized message is
in the DLQ exactly once, with the reason as attributes, and gone from the queue; redriving them
unchanged changes nothing else (each is back in the DLQ once, nothing written)."""
from __future__ import annotations

import json

from hubspot_app.models import Account
from tests.harness import run_cli

POISON = {  # body -> the error_kind it must be dead-lettered with
    "not json": "malformed",
    "[1, 2]": "malformed",
    json.dumps({"type": "provision"}): "malformed",
    json.dumps({"hub_id": "../etc"}): "malformed",
    json.dumps({"hub_id": 0}): "malformed",
    json.dumps({"type": "frobnicate", "hub_id": 42}): "malformed",
    json.dumps({"type": "provision", "hub_id": 987654}): "unknown_account",
    json.dumps({"hub_id": 42, "pad": "x" * 9000}): "oversized",
}


def _accounts() -> int:
    return sum(1 for _ in Account.scan())


def test_poison_messages_end_in_the_dlq_once_with_their_reason(queues):
    sent = {queues.send("provision", body, origin="test"): kind for body, kind in POISON.items()}
    before = _accounts()
    report = queues.deliver("provision")
    assert report.received == len(POISON) and not report.errors   # each read once, no retries
    letters = queues.letters("provision")
    assert queues.dlq_depth("provision") == len(POISON)
    by_original = {d["original_message_id"]: d for d in letters}
    assert set(by_original) == set(sent)                          # one copy of each
    for message_id, kind in sent.items():
        letter = by_original[message_id]
        assert letter["error_kind"] == kind, letter
        assert letter["receive_count"] == 1 and letter["failed_at"]
        assert letter["source_queue"] == queues.env["PROVISION_QUEUE_NAME"]
    unknown = next(d for d in letters if d["error_kind"] == "unknown_account")
    assert unknown["hub_ids"] == [987654] and "no account with hub_id 987654" in unknown["error"]
    assert _accounts() == before                                  # nothing written for them

    code, out, _ = run_cli("dlq", "--queue", "provision", "list")
    assert code == 0 and "unknown_account" in out and "oversized" in out
    assert queues.env["PROVISION_QUEUE_NAME"] in out

    # Redriven without a fix: each comes back to the DLQ once more, and only that.
    code, out, _ = run_cli("dlq", "--queue", "provision", "redrive", "--all")
    assert code == 0 and f"{len(POISON)} redriven" in out
    assert queues.dlq_depth("provision") == 0
    report = queues.deliver("provision")
    assert report.received == len(POISON)
    again = queues.letters("provision")
    assert sorted(d["error_kind"] for d in again) == sorted(POISON.values())
    assert queues.dlq_depth("provision") == len(POISON) and _accounts() == before
    raw = queues.sqs.receive_message(QueueUrl=queues.dlqs["provision"], MaxNumberOfMessages=10,
                                     VisibilityTimeout=0, MessageAttributeNames=["All"])
    for m in raw["Messages"]:   # bodies unchanged, the sender's attribute kept, redrives counted
        assert m["Body"] in POISON
        assert m["MessageAttributes"]["origin"]["StringValue"] == "test"
        assert m["MessageAttributes"]["redrive_count"]["StringValue"] == "1"


def test_a_record_that_fails_every_time_is_dead_lettered_once_by_the_consumer(queues):
    """A bug (any exception) is transient: retried with the backoff, then dead-lettered by the
    consumer on its last receive; SQS's redrive policy (same maxReceiveCount) adds no copy."""
    from hubspot_app.models import AccountStatus, utcnow

    hub = 555001
    Account(hub_id=hub, status=AccountStatus.INSTALLED, installed_at=utcnow(),
            updated_at=utcnow(), refresh_token_encrypted="v2:not-a-token").save()
    # No Airbyte is running on this port: every try fails with a connection error (transient).
    queues.send("provision", {"type": "provision", "hub_id": hub})
    report = queues.deliver("provision", timeout=120)
    assert report.received == 3                                   # PROVISION_MAX_RECEIVES
    [letter] = queues.letters("provision")
    assert letter["hub_ids"] == [hub] and letter["receive_count"] == 3
    assert letter["error_kind"] == "retries_exhausted", letter
    assert queues.dlq_depth("provision") == 1


def test_a_wait_on_a_shared_resource_is_never_dropped_at_the_last_receive(queues, monkeypatch):
    """Found by bench/storm.py: while another worker held the shared workspace's lease, an
    account's only message used up its receives waiting and was then dropped as a "duplicate
    covered by the running provisioning" (nothing else would ever provision the account). Only
    a wait on the account's lease held by *another* message may end that way; this one ends in
    the DLQ, where an operator sees it and redrives it."""
    from hubspot_app.lifecycle import provisioner
    from hubspot_app.models import AccountStatus, utcnow

    hub = 555002
    Account(hub_id=hub, status=AccountStatus.INSTALLED, installed_at=utcnow(),
            updated_at=utcnow(), refresh_token_encrypted="v2:not-a-token").save()

    def busy(*_args, **_kwargs):
        raise provisioner.Busy("workspace:w is being created by another worker", retry_after=1)

    monkeypatch.setattr(provisioner, "_acquire_lease", busy)
    queues.send("provision", {"type": "provision", "hub_id": hub})
    report = queues.deliver("provision", timeout=120)
    assert report.received == 3                                   # PROVISION_MAX_RECEIVES
    [letter] = queues.letters("provision")
    assert letter["hub_ids"] == [hub] and letter["error_kind"] == "retries_exhausted", letter
    assert "being created by another worker" in letter["error"]


def test_a_wait_on_a_shared_lease_never_returns_sooner_than_the_backoff(queues, monkeypatch):
    """Found by bench/storm.py (300 installs): while the shared workspace could not be created,
    every account's message waited on its lease, and a wait lasted only until that lease ended.
    A duplicate message came back after 2 s on its fourth receive, met the next holder's lease
    and was dead-lettered on its fifth (the workspace was created 4 s later, the account
    provisioned by its original message). Each wait spends a receive, so it must not be shorter
    than the backoff a failure at that receive would get."""
    from datetime import timedelta

    from hubspot_app.airbyte.spec import workspace_name
    from hubspot_app.config import get_settings, reset_settings
    from hubspot_app.lifecycle import provision_queue
    from hubspot_app.messaging.retry import RetryPolicy
    from hubspot_app.models import AccountStatus, SharedResource, utcnow
    from hubspot_app.runtime import Services

    monkeypatch.setenv("PROVISION_RETRY_BASE_SECONDS", "20")   # the stages' scale, not 1 s
    monkeypatch.setenv("PROVISION_RETRY_MAX_SECONDS", "900")
    monkeypatch.setenv("PROVISION_MAX_RECEIVES", "5")
    reset_settings()
    settings = get_settings()
    hub = 555003
    Account(hub_id=hub, status=AccountStatus.INSTALLED, installed_at=utcnow(),
            updated_at=utcnow(), refresh_token_encrypted="v2:not-a-token").save()
    key = f"workspace:{workspace_name(settings, hub)}"
    queue_arn = queues.sqs.get_queue_attributes(
        QueueUrl=queues.routes["provision"].queue_url,
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    class Sqs:  # what the consumer asks of SQS for this record
        def __init__(self):
            self.visibility: list[int] = []

        def change_message_visibility(self, **kw):
            self.visibility.append(kw["VisibilityTimeout"])

    low = RetryPolicy(20, 900, 5)
    try:
        for receive in (1, 2, 3, 4):
            # Another worker holds the workspace's lease, 10 s before it ends.
            SharedResource(key=key, lease_owner="other-worker", intent_at=utcnow(),
                           lease_until=utcnow() + timedelta(seconds=10)).save()
            sqs = Sqs()
            event = {"Records": [{
                "messageId": "m-555003", "receiptHandle": f"r{receive}",
                "body": json.dumps({"type": "provision", "hub_id": hub}),
                "attributes": {"ApproximateReceiveCount": str(receive),
                               "SentTimestamp": str(int(utcnow().timestamp() * 1000))},
                "eventSourceARN": queue_arn}]}
            # Only SQS is a fake: the consumer's calls for this record are what is checked.
            svc = Services(settings, clients={"sqs": sqs},
                           queue_urls={settings.provisioning.dlq_name: queues.dlqs["provision"],
                                       settings.provisioning.queue_name: queues.routes["provision"].queue_url})
            response = provision_queue.handle_batch(svc, event)
            assert response == {"batchItemFailures": [{"itemIdentifier": "m-555003"}]}
            [delay] = sqs.visibility
            assert delay >= low.delay(receive, lambda a, b: a), (receive, delay)  # 16, 32, 64, 128
        assert queues.dlq_depth("provision") == 0
        assert Account.get(hub).provision_lease_owner is None      # its own lease released
    finally:
        SharedResource(key=key).delete()
        monkeypatch.undo()
        reset_settings()


def test_an_account_changed_between_read_and_lease_is_read_again_not_retried(queues,
                                                                              monkeypatch):
    """Found by bench/storm.py: a duplicate message read its account just before the original's
    run made it active; its lease write (on the status it had read) failed with no lease held,
    and the message returned as "account changed while starting" (one receive spent; on the
    last one it is dead-lettered). It reads the account again at once and is done."""
    from hubspot_app.airbyte.spec import config_hash, token_fingerprint
    from hubspot_app.config import get_settings
    from hubspot_app.lifecycle import provision_queue, provisioner
    from hubspot_app.models import AccountStatus, utcnow
    from hubspot_app.runtime import Services

    settings = get_settings()
    hub = 555004
    Account(hub_id=hub, status=AccountStatus.INSTALLED, installed_at=utcnow(),
            updated_at=utcnow(), refresh_token_encrypted="v2:not-a-token").save()
    real_load = provisioner.load_account
    reads = []

    def load_then_the_original_finishes(hub_id):
        stale = real_load(hub_id)
        if not reads:   # the other message's run makes it active right after this read
            creds = svc.app_credentials()
            Account(hub_id=hub).update(actions=[
                Account.status.set(AccountStatus.ACTIVE),
                Account.airbyte_source_id.set("s-1"), Account.airbyte_connection_id.set("c-1"),
                Account.airbyte_config_hash.set(config_hash(settings, creds, hub)),
                Account.airbyte_token_fingerprint.set(token_fingerprint(stale, creds))])
        reads.append(stale.status)
        return stale

    monkeypatch.setattr(provisioner, "load_account", load_then_the_original_finishes)

    class Sqs:  # every call the consumer makes for this record
        def __init__(self):
            self.calls: list[str] = []

        def __getattr__(self, name):
            return lambda **kw: self.calls.append(name) or {"MessageId": "dlq-1"}

    sqs = Sqs()
    svc = Services(settings, clients={"sqs": sqs},
                   queue_urls={settings.provisioning.dlq_name: queues.dlqs["provision"],
                               settings.provisioning.queue_name: queues.routes["provision"].queue_url})
    last = settings.provisioning.max_receives
    event = {"Records": [{
        "messageId": "m-555004", "receiptHandle": "r", "eventSourceARN": "arn:aws:sqs:x:1:q",
        "body": json.dumps({"type": "provision", "hub_id": hub, "reason": "duplicate"}),
        "attributes": {"ApproximateReceiveCount": str(last),
                       "SentTimestamp": str(int(utcnow().timestamp() * 1000))}}]}
    assert provision_queue.handle_batch(svc, event) == {"batchItemFailures": []}
    assert sqs.calls == []                                      # not returned, not dead-lettered
    assert reads == [AccountStatus.INSTALLED, AccountStatus.ACTIVE]
    account = Account.get(hub)
    assert account.status == AccountStatus.ACTIVE and account.provision_lease_owner is None
