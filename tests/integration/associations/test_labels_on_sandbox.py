"""The association-label reader against the HubSpot sandbox over real HTTP (its OAuth refresh,
CRM v3 lists and v4 batch reads, contract-checked against the vendored documents), with AWS in
process (moto): what lands in S3 equals the sandbox's ground truth, the labels come through,
pairs the scopes exclude are left out, 429s are waited out, a revoked install is recorded."""
from __future__ import annotations

import gzip
import json

import pytest
import requests
from moto import mock_aws

from deploy import iam_check, infra
from hubspot_app import config, runtime
from hubspot_app.associations import queue as labels_queue
from hubspot_app.associations.pairs import PAIRS
from hubspot_app.associations.queue import Budget, start_message
from hubspot_app.hubspot_oauth import HubSpotOAuthClient
from hubspot_app.secrets_store import AppCredentials
from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from tests.harness.sandbox_oauth import APP_SCOPES, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, install

SNAPSHOT = "20261207T050000Z-00c0ffee"


@pytest.fixture(scope="module")
def sandbox():
    srv = SandboxServer(seed=5, accounts=3, records_per_object=40, rate_limits=True,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    yield srv
    srv.stop()


@pytest.fixture
def aws(monkeypatch, sandbox):
    env = infra.stage_env("local")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("HUBSPOT_API_URL", sandbox.url)
    monkeypatch.setenv("ASSOCIATION_LABELS_IDS_PER_CHUNK", "15")
    # The reader's own pace (production: 4 per second, leaving HubSpot's 110 per 10 s to share
    # with Airbyte's syncs). Here nothing else calls the account: 9 per second (a burst of 9,
    # then 90 per 10 s) still keeps under the sandbox's enforced 110 per 10 s, so the only 429s
    # are the ones a test injects.
    monkeypatch.setenv("ASSOCIATION_LABELS_REQUESTS_PER_SECOND", "9")
    config.reset_settings()
    runtime.forget_services()
    with mock_aws():
        import boto3

        from hubspot_app.models import Account
        s = config.get_settings()
        kms = boto3.client("kms")
        kms.create_alias(AliasName=s.kms_key_id, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        boto3.client("s3").create_bucket(Bucket=s.lake.bucket)
        for name in (s.associations.queue_name, s.associations.dlq_name):
            boto3.client("sqs").create_queue(QueueName=name)
        svc = runtime.services()
        Account.create_table(read_capacity_units=1, write_capacity_units=1, wait=True)
        oauth = HubSpotOAuthClient(sandbox.url, AppCredentials(CLIENT_ID, CLIENT_SECRET))
        svc.hubspot_oauth = lambda: oauth
        yield svc
    runtime.forget_services()
    config.reset_settings()


def add_account(svc, sandbox, hub_id, scope=None):
    from hubspot_app.models import Account
    from hubspot_app.token_crypto import encrypt_token

    tokens = install(sandbox.url, hub_id, scope=scope)
    info = requests.get(f"{sandbox.url}/oauth/v1/access-tokens/{tokens['access_token']}",
                        timeout=10).json()
    Account(hub_id, scopes=info["scopes"], status="active",
            refresh_token_encrypted=encrypt_token(tokens["refresh_token"], hub_id,
                                                  svc.settings.kms_key_id, kms=svc.kms)).save()
    return tokens


def run(svc, body, remaining=None, limit=100):
    from hubspot_app.handlers import associations
    from hubspot_app.messaging.consumer import Consumer

    a = svc.settings.associations
    outcomes = []
    for n in range(limit):
        record = {"messageId": f"m{n}", "receiptHandle": f"rh{n}", "body": json.dumps(body),
                  "attributes": {"ApproximateReceiveCount": "1"},
                  "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{a.queue_name}"}
        with iam_check.acting_as("association_labels_worker"):
            consumer = Consumer(labels_queue.queue_spec(svc.queue_url(a.dlq_name)), sqs=svc.sqs,
                                source_url=svc.queue_url)
            response, [outcome] = labels_queue.process_batch(
                {"Records": [record]}, associations.reader(svc), consumer,
                Budget(remaining() if remaining else None))
        assert response == {"batchItemFailures": []}
        outcomes.append(outcome.outcome)
        if outcome.outcome != "continued":
            return outcomes
        url = svc.queue_url(a.queue_name)
        [m] = svc.sqs.receive_message(QueueUrl=url)["Messages"]
        svc.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        body = json.loads(m["Body"])
    raise AssertionError("never completed")


def read(svc, key):
    return svc.s3.get_object(Bucket=svc.settings.lake.bucket, Key=key)["Body"].read()


def test_a_snapshot_equals_the_sandbox_and_carries_its_labels(aws, sandbox):
    hub = list(sandbox.state.accounts)[0]
    add_account(aws, sandbox, hub)
    left = [600_000]

    def remaining():  # a Lambda whose time runs out every few chunks
        def tick():
            left[0] -= 45_000
            return left[0]
        left[0] = 200_000
        return tick
    steps = run(aws, start_message(hub, SNAPSHOT), remaining)
    assert steps[-1] == "complete" and "continued" in steps
    manifest = json.loads(read(aws, f"raw/{hub}/association_labels/{SNAPSHOT}.manifest.json"))
    truth = requests.get(f"{sandbox.url}/_sandbox/accounts/{hub}/streams",
                         timeout=10).json()["association_labels"]
    assert {f"{p['from']}__{p['to']}": p["records"] for p in manifest["pairs"]} == truth
    assert [(p["from"], p["to"]) for p in manifest["pairs"]] == list(PAIRS)
    lines = [json.loads(x) for p in manifest["pairs"] if p["from"] == "contacts"
             for key in p["chunks"] for x in gzip.decompress(read(aws, key)).splitlines()]
    kinds = {(x["category"], x["type_id"], x["label"]) for x in lines}
    # HubSpot's contact -> company types: unlabelled 279 (no label), primary 1, and the
    # portal's own labels on some pairs.
    assert {("HUBSPOT_DEFINED", 279, None), ("HUBSPOT_DEFINED", 1, "Primary"),
            ("USER_DEFINED", 11, "Decision maker"), ("USER_DEFINED", 13, "Champion")} == kinds
    several = {}
    for x in lines:
        several.setdefault((x["from_id"], x["to_id"]), set()).add(x["type_id"])
    assert max(len(v) for v in several.values()) >= 3  # several types on one pair


def test_pairs_without_scopes_are_skipped(aws, sandbox):
    hub = list(sandbox.state.accounts)[1]
    add_account(aws, sandbox, hub, scope=APP_SCOPES)  # the required scopes only: no `tickets`
    assert run(aws, start_message(hub, SNAPSHOT)) == ["complete"]
    manifest = json.loads(read(aws, f"raw/{hub}/association_labels/{SNAPSHOT}.manifest.json"))
    assert [(p["from"], p["to"]) for p in manifest["pairs"]] == [p for p in PAIRS if p[1] != "tickets"]


def test_429s_from_hubspot_are_waited_out(aws, sandbox, captured_logs):
    hub = list(sandbox.state.accounts)[2]
    add_account(aws, sandbox, hub)
    requests.post(f"{sandbox.url}/_sandbox/accounts/{hub}/faults",
                  json={"kind": "429", "count": 2, "retry_after": 1,
                        "path": "/crm/v4/associations"}, timeout=10).raise_for_status()
    assert run(aws, start_message(hub, SNAPSHOT)) == ["complete"]
    waits = [json.loads(line) for line in captured_logs.lines
             if "HubSpot rate limit reached" in line]
    assert [w["retry_after"] for w in waits] == [1.0, 1.0]


def test_a_revoked_install_is_recorded(aws, sandbox, captured_logs):
    from hubspot_app.models import Account

    hub = list(sandbox.state.accounts)[2]
    tokens = add_account(aws, sandbox, hub)
    requests.post(f"{sandbox.url}/_sandbox/accounts/{hub}/uninstall", json={"journal": False},
                  timeout=10).raise_for_status()
    captured_logs.lines.clear()  # the test's own install and set-up calls carry the tokens
    assert run(aws, start_message(hub, "20261207T060000Z-0000beef")) == ["token_revoked"]
    assert Account.get(hub).labels_outcome == "token_revoked"
    text = captured_logs.text()
    assert tokens["refresh_token"] not in text and tokens["access_token"] not in text


def test_the_ops_command_reads_one_account_now_with_meaningful_exit_codes(aws, sandbox, capsys):
    from hubspot_app.ops import cli

    hub = list(sandbox.state.accounts)[0]
    add_account(aws, sandbox, hub)
    assert cli.main(["association-labels", "read", str(hub), "--json"]) == 0
    out = capsys.readouterr().out  # warnings (JSON log lines) may come first
    result = json.loads(out[out.index('{\n  "hub_id"'):])
    assert result["outcome"] == "complete" and result["records"] > 0
    manifest = json.loads(read(aws, result["manifest"]))
    assert sum(p["records"] for p in manifest["pairs"]) == result["records"]
    assert cli.main(["association-labels", "read", "999999"]) == 3  # no such account
    requests.post(f"{sandbox.url}/_sandbox/accounts/{hub}/uninstall", json={"journal": False},
                  timeout=10).raise_for_status()
    assert cli.main(["association-labels", "read", str(hub)]) == 4  # refresh token refused
    with pytest.raises(SystemExit) as usage:  # argparse: a bad hub_id is bad usage
        cli.main(["association-labels", "read", "not-a-hub"])
    assert usage.value.code == 2
