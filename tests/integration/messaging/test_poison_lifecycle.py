"""Issue 15.5 on the lifecycle queue: malformed, unknown-account and oversized
messages are in its DLQ exactly once with the reason as attributes (today's worker dropped them,
or re-sent copies); redriving them unchanged changes nothing; after the fix a redrive does the
work once."""
from __future__ import annotations

import json

from hubspot_app.lifecycle.token_health import check_message, uninstall_message
from hubspot_app.models import Account, AccountStatus, utcnow
from tests.harness import run_cli

POISON = {
    "not json": "malformed",
    json.dumps({"type": "nope"}): "malformed",
    json.dumps(check_message([]) | {"hub_ids": ["../1", -5, True]}): "malformed",
    json.dumps(uninstall_message(1, "webhook") | {"hub_id": "1/../2"}): "malformed",
    json.dumps(check_message([880_101, 880_102])): "unknown_account",
    json.dumps(uninstall_message(880_002, "someone")): "malformed",
    json.dumps(uninstall_message(880_001, "webhook")): "unknown_account",
    json.dumps(check_message(range(1, 20_000))): "oversized",
}


def test_poison_messages_end_in_the_lifecycle_dlq_once(queues):
    sent = {queues.send("lifecycle", body): kind for body, kind in POISON.items()}
    report = queues.deliver("lifecycle")
    assert report.received == len(POISON) and not report.errors
    letters = queues.letters("lifecycle")
    assert queues.dlq_depth("lifecycle") == len(POISON)
    by_original = {d["original_message_id"]: d for d in letters}
    assert {m: by_original[m]["error_kind"] for m in sent} == sent
    assert all(d["source_queue"] == queues.env["LIFECYCLE_QUEUE_NAME"] and
               d["receive_count"] == 1 for d in letters)
    uninstall = next(d for d in letters if d["hub_ids"] == [880_001])
    assert "no account with hub_id 880001" in uninstall["error"]

    # Redriven before any fix: back in the DLQ once each, nothing else.
    code, out, _ = run_cli("dlq", "--queue", "lifecycle", "redrive", "--all")
    assert code == 0 and f"{len(POISON)} redriven" in out
    queues.deliver("lifecycle")
    assert queues.dlq_depth("lifecycle") == len(POISON)

    # The fix: the account exists now. Its redriven uninstall runs once; the rest stay put.
    Account(hub_id=880_001, status=AccountStatus.INSTALLED, installed_at=utcnow(),
            updated_at=utcnow(), refresh_token_encrypted="v2:undecryptable").save()
    [letter] = [d for d in queues.letters("lifecycle") if d["hub_ids"] == [880_001]]
    code, out, _ = run_cli("dlq", "--queue", "lifecycle", "redrive", letter["message_id"])
    assert code == 0 and "1 redriven" in out
    report = queues.deliver("lifecycle")
    assert report.received == 1 and report.succeeded == 1
    assert Account.get(880_001, consistent_read=True).status == AccountStatus.UNINSTALLED
    assert queues.dlq_depth("lifecycle") == len(POISON) - 1
