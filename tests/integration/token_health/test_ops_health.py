"""`python -m hubspot_app.ops health ...` against the local stack."""
from __future__ import annotations

import json

from hubspot_app.ops import cli


def test_health_show_check_uninstall(hs, capsys):
    hub_id = hs.hub_ids()[0]
    assert cli.main(["health", "check", str(hub_id), "--json"]) == cli.OK
    assert json.loads(capsys.readouterr().out)[0]["result"] == "ok"
    assert cli.main(["health", "show", str(hub_id), "--json"]) == cli.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "active" and shown["token_health"] == "ok" and shown["audit"] == []

    assert cli.main(["health", "uninstall", str(hub_id)]) == cli.USAGE  # needs --yes
    capsys.readouterr()
    assert cli.main(["health", "uninstall", str(hub_id), "--yes", "--keep-data",
                     "--reason", "contract ended", "--json"]) == cli.OK
    done = json.loads(capsys.readouterr().out)
    assert done["done"] and "connection_deleted" in done["steps"] and done["purged_objects"] == 0
    assert cli.main(["health", "show", str(hub_id), "--json"]) == cli.OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "uninstalled" and shown["audit"][0]["source"] == "operator"
    assert "sandbox.user@example.com" not in json.dumps(shown)
    # The provisioning view of an offboarded account (its token deleted) still answers.
    assert cli.main(["account", "show", str(hub_id), "--json"]) == cli.OK
    assert "none (deleted at uninstall)" in capsys.readouterr().out
    assert cli.main(["health", "check", str(hub_id), "--json"]) == cli.OK
    assert json.loads(capsys.readouterr().out)[0]["result"] == "skipped"
    assert cli.main(["health", "show", "99"]) == cli.NOT_FOUND
    hs.alerts()


def test_health_run_queues_every_account(hs, capsys):
    assert cli.main(["health", "run", "--force"]) == cli.OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["accounts"] + summary["uninstalled_skipped"] == len(hs.hub_ids())
    delivered = hs.health_route.run_until_idle(timeout=60)
    errors = {h: hs.account(h).token_error for h in hs.hub_ids()}
    assert delivered.received == summary["messages"] and delivered.failed == 0, (delivered, errors)


def test_schedule_emits_dlq_depth(hs):
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=hs.env["LIFECYCLE_DLQ_NAME"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"type": "uninstall", "hub_id": 1, "error": "x"}')
    summary = hs.schedule.fire({})
    assert summary["dlq_depth"]["lifecycle"] >= 1
    assert {"provision", "glue_trigger", "association_labels"} <= set(summary["dlq_depth"])
    depths = {m["Queue"]: m["DlqDepth"] for m in hs.metric_values("DlqDepth")}
    assert depths["lifecycle"] >= 1
    hs.health_route.run_until_idle(timeout=30)
