"""The association-label reader on fakes: in-process moto (S3, SQS, DynamoDB, KMS), a fake
HubSpot (its HTTP session) and a fake OAuth client. What lands in S3 (chunks, manifest),
continuation across invocations, duplicate deliveries, pairs skipped for scopes, 429s, a
revoked token, no token in the logs, and every AWS call judged against the worker's policy."""
from __future__ import annotations

import gzip
import json
from urllib.parse import urlparse

import pytest
from moto import mock_aws

from deploy import iam_check, infra
from hubspot_app import config, runtime
from hubspot_app.associations import queue as labels_queue
from hubspot_app.associations.pairs import PAIRS, pair_name
from hubspot_app.associations.queue import Budget, start_message
from hubspot_app.hubspot_oauth import InvalidGrant, TokenSet

HUB = 4242
REFRESH = "refresh-token-that-must-never-be-logged-5c1b"
ACCESS = "access-token-that-must-never-be-logged-9f2e"
ALL_SCOPES = ["oauth", "crm.objects.contacts.read", "crm.objects.companies.read",
              "crm.objects.deals.read", "tickets"]
SNAPSHOT = "20261207T050000Z-0123abcd"


# -- a fake HubSpot ----------------------------------------------------------------------------
class Response:
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        self.status_code, self._body, self.headers = status, body, headers or {}

    def json(self):
        return self._body


class FakeHubSpot:
    """CRM v3 list + v4 batch read over `n` records per type. Record k of a from-type is
    associated with record k % 7 of the to-type; every association is unlabelled, every third
    also "Decision maker" (USER_DEFINED). `refuse`: object types answered 403 MISSING_SCOPES;
    `throttle`: that many 429s first; `assoc_page`: to-objects per batch-read result page."""

    def __init__(self, n: int = 25, refuse=(), throttle: int = 0, assoc_page: int = 0):
        self.n, self.refuse, self.throttle, self.assoc_page = n, set(refuse), throttle, assoc_page
        self.calls: list[tuple[str, str]] = []
        self.tokens_seen: set[str] = set()

    def request(self, method, url, headers=None, timeout=None, params=None, json=None):
        path = urlparse(url).path
        self.calls.append((method, path))
        self.tokens_seen.add((headers or {}).get("Authorization", ""))
        if self.throttle:
            self.throttle -= 1
            return Response(429, {"status": "error", "category": "RATE_LIMITS"},
                            {"Retry-After": "1"})
        parts = path.strip("/").split("/")
        if method == "GET" and parts[:3] == ["crm", "v3", "objects"]:
            return self._list(parts[3], params or {})
        if method == "POST" and parts[:3] == ["crm", "v4", "associations"]:
            return self._batch(parts[3], parts[4], json["inputs"])
        return Response(404, {"category": "OBJECT_NOT_FOUND"})

    def _denied(self, *types):
        if self.refuse & set(types):
            return Response(403, {"status": "error", "category": "MISSING_SCOPES"})
        return None

    def _list(self, object_type, params):
        denied = self._denied(object_type)
        if denied:
            return denied
        start = int(params.get("after") or 0)
        limit = int(params["limit"])
        ids = [str(1000 + k) for k in range(start, min(self.n, start + limit))]
        body: dict = {"results": [{"id": i, "properties": {}} for i in ids]}
        if start + limit < self.n:
            body["paging"] = {"next": {"after": str(start + limit)}}
        return Response(200, body)

    def types(self, k: int) -> list[dict]:
        out = [{"category": "HUBSPOT_DEFINED", "typeId": 279}]
        if k % 3 == 0:
            out.append({"category": "USER_DEFINED", "typeId": 11, "label": "Decision maker"})
        return out

    def _batch(self, from_type, to_type, inputs):
        denied = self._denied(from_type, to_type)
        if denied:
            return denied
        assert len(inputs) <= 1000
        results = []
        for inp in inputs:
            k = int(inp["id"]) - 1000
            to = [{"toObjectId": str(5000 + k % 7), "associationTypes": self.types(k)},
                  {"toObjectId": str(6000 + k), "associationTypes": self.types(k + 1)}]
            offset = int(inp.get("after") or 0)
            page = self.assoc_page or len(to)
            result: dict = {"from": {"id": inp["id"]}, "to": to[offset:offset + page]}
            if offset + page < len(to):
                result["paging"] = {"next": {"after": str(offset + page)}}
            results.append(result)
        return Response(200, {"status": "COMPLETE", "results": results,
                              "startedAt": "2026-12-07T05:00:00Z",
                              "completedAt": "2026-12-07T05:00:01Z"})

    def expected_lines(self, pairs) -> int:
        return len(pairs) * sum(len(self.types(k)) + len(self.types(k + 1)) for k in range(self.n))


class FakeOAuth:
    def __init__(self, refused: bool = False):
        self.refused, self.refreshed = refused, []

    def refresh(self, refresh_token):
        self.refreshed.append(refresh_token)
        if self.refused:
            raise InvalidGrant("refresh token is invalid", "BAD_REFRESH_TOKEN", 400)
        return TokenSet(ACCESS, refresh_token, 1800)


class Clock:
    """Remaining Lambda time that shrinks by `per_call` ms each time it is asked."""

    def __init__(self, start_ms: int, per_call: int):
        self.left, self.per_call = start_ms, per_call

    def __call__(self) -> int:
        self.left -= self.per_call
        return self.left


# -- the stage on moto -------------------------------------------------------------------------
@pytest.fixture
def aws(monkeypatch):
    env = infra.stage_env("local")
    env.pop("AWS_ENDPOINT_URL", None)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("ASSOCIATION_LABELS_IDS_PER_CHUNK", "10")  # several chunks per pair
    config.reset_settings()
    runtime.forget_services()
    with mock_aws():
        s = config.get_settings()
        import boto3

        from hubspot_app.models import Account
        kms = boto3.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=s.kms_key_id, TargetKeyId=key)
        boto3.client("s3").create_bucket(Bucket=s.lake.bucket)
        sqs = boto3.client("sqs")
        for name in (s.associations.queue_name, s.associations.dlq_name):
            sqs.create_queue(QueueName=name)
        svc = runtime.services()
        Account.create_table(read_capacity_units=1, write_capacity_units=1, wait=True)
        yield svc
    runtime.forget_services()
    config.reset_settings()


def add_account(svc, hub_id=HUB, scopes=ALL_SCOPES, status="active"):
    from hubspot_app.models import Account
    from hubspot_app.token_crypto import encrypt_token

    Account(hub_id, scopes=list(scopes), status=status,
            refresh_token_encrypted=encrypt_token(REFRESH, hub_id, svc.settings.kms_key_id,
                                                  kms=svc.kms)).save()


def make_reader(svc, hubspot, oauth=None):
    from hubspot_app.handlers import associations

    svc.hubspot_oauth = lambda: oauth or FakeOAuth()  # the app secret is not read in these tests
    reader = associations.reader(svc)
    reader.session = hubspot
    # Virtual time: the rate limiter and the 429 backoff still wait, on a clock their sleeps
    # advance, so the tests do not spend real seconds at 4 calls per second.
    clock = [0.0]
    reader.monotonic = lambda: clock[0]
    reader.sleep = lambda seconds: clock.__setitem__(0, clock[0] + seconds)
    return reader


def deliver(svc, reader, body: dict, remaining=None, receive_count=1, message_id="m1"):
    """One SQS delivery through the worker's batch handling, judged as the worker's calls."""
    from hubspot_app.messaging.consumer import Consumer

    a = svc.settings.associations
    record = {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": json.dumps(body),
              "attributes": {"ApproximateReceiveCount": str(receive_count)},
              "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{a.queue_name}"}
    with iam_check.acting_as("association_labels_worker"):
        consumer = Consumer(labels_queue.queue_spec(svc.queue_url(a.dlq_name)), sqs=svc.sqs,
                            source_url=svc.queue_url)
        response, outcomes = labels_queue.process_batch({"Records": [record]}, reader, consumer,
                                                         Budget(remaining))
    return response, outcomes, consumer


def queued(svc, name=None) -> list[dict]:
    url = svc.queue_url(name or svc.settings.associations.queue_name)
    out = []
    while True:
        got = svc.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            svc.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def objects(svc) -> dict[str, bytes]:
    s3, bucket = svc.s3, svc.settings.lake.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def manifest_key(hub=HUB, snap=SNAPSHOT):
    return f"raw/{hub}/association_labels/{snap}.manifest.json"


def run_to_end(svc, reader, first: dict, remaining_factory=lambda: None, limit=200):
    outcomes = []
    body = first
    for _ in range(limit):
        response, [outcome], _ = deliver(svc, reader, body, remaining_factory())
        assert response == {"batchItemFailures": []}
        outcomes.append(outcome.outcome)
        if outcome.outcome != "continued":
            return outcomes
        [body] = queued(svc)
    raise AssertionError("the snapshot never completed")


# -- tests -------------------------------------------------------------------------------------
def test_one_invocation_writes_every_chunk_then_the_manifest(aws):
    add_account(aws)
    hubspot = FakeHubSpot(n=25)
    reader = make_reader(aws, hubspot)
    puts: list[str] = []
    real_put = aws.s3.put_object

    def recording_put(**kw):
        puts.append(kw["Key"])
        return real_put(**kw)
    reader.s3 = type("S3", (), {"put_object": staticmethod(recording_put),
                                "list_objects_v2": staticmethod(aws.s3.list_objects_v2)})()

    assert run_to_end(aws, reader, start_message(HUB, SNAPSHOT)) == ["complete"]
    files = objects(aws)
    manifest = json.loads(files[manifest_key()])
    assert puts[-1] == manifest_key() and puts.count(manifest_key()) == 1
    assert manifest["format"] == "association_labels/v1" and manifest["hub_id"] == str(HUB)
    assert manifest["snapshot_id"] == SNAPSHOT
    assert manifest["started_at"].endswith("Z") and manifest["completed_at"] >= manifest["started_at"]
    assert [(p["from"], p["to"]) for p in manifest["pairs"]] == list(PAIRS)
    total = 0
    for pair in manifest["pairs"]:
        # 25 ids in chunks of 10: three chunks, keys numbered per pair, all listed and present.
        prefix = f"raw/{HUB}/association_labels/{SNAPSHOT}/{pair_name(pair['from'], pair['to'])}/"
        assert pair["chunks"] == [f"{prefix}{n:05d}.jsonl.gz" for n in range(3)]
        lines = [json.loads(line) for key in pair["chunks"]
                 for line in gzip.decompress(files[key]).splitlines()]
        assert len(lines) == pair["records"]
        total += len(lines)
    assert total == hubspot.expected_lines(PAIRS)
    first = json.loads(gzip.decompress(files[manifest["pairs"][0]["chunks"][0]]).splitlines()[0])
    assert first == {"from_object_type": "contacts", "from_id": "1000",
                     "to_object_type": "companies", "to_id": "5000",
                     "category": "HUBSPOT_DEFINED", "type_id": 279, "label": None}
    labelled = [json.loads(line) for line in gzip.decompress(files[manifest["pairs"][0]["chunks"][0]])
                .splitlines() if b"USER_DEFINED" in line]
    assert labelled and all(x["label"] == "Decision maker" and x["type_id"] == 11 for x in labelled)
    assert set(files) == {manifest_key(), *(k for p in manifest["pairs"] for k in p["chunks"])}
    from hubspot_app.models import Account
    account = Account.get(HUB)
    assert (account.labels_outcome, account.labels_snapshot_id) == ("complete", SNAPSHOT)


def test_a_short_lambda_continues_through_messages_to_the_same_files(aws):
    add_account(aws)
    whole = make_reader(aws, FakeHubSpot(n=25))
    assert run_to_end(aws, whole, start_message(HUB, "20261207T050000Z-aaaaaaaa")) == ["complete"]
    reference = objects(aws)

    short = make_reader(aws, FakeHubSpot(n=25))
    # 200 s of Lambda time, 60 s gone per look: a chunk or two per invocation.
    steps = run_to_end(aws, short, start_message(HUB, SNAPSHOT),
                       remaining_factory=lambda: Clock(200_000, 60_000))
    assert len(steps) > 10 and steps[-1] == "complete" and set(steps[:-1]) == {"continued"}
    files = objects(aws)

    def chunks(snap):
        return {k.split(snap)[1]: gzip.decompress(v) for k, v in files.items()
                if snap in k and k.endswith(".gz")}
    assert chunks(SNAPSHOT) == {k.split("aaaaaaaa")[1]: gzip.decompress(v)
                                for k, v in reference.items() if k.endswith(".gz")}
    short_manifest = json.loads(files[manifest_key()])
    whole_manifest = json.loads(files[manifest_key(snap="20261207T050000Z-aaaaaaaa")])
    assert [p["records"] for p in short_manifest["pairs"]] == \
        [p["records"] for p in whole_manifest["pairs"]]


def test_duplicate_deliveries_write_one_manifest(aws):
    add_account(aws)
    reader = make_reader(aws, FakeHubSpot(n=25))
    first = start_message(HUB, SNAPSHOT)
    # The first step is delivered twice (SQS at-least-once): two continuation chains.
    _, [a], _ = deliver(aws, reader, first, Clock(200_000, 60_000))
    _, [b], _ = deliver(aws, reader, first, Clock(200_000, 60_000), message_id="m1-again")
    assert (a.outcome, b.outcome) == ("continued", "continued")
    chain_a, chain_b = queued(aws)
    assert chain_a["after"] == chain_b["after"] and chain_a["counts"] == chain_b["counts"]
    assert run_to_end(aws, reader, chain_a)[-1] == "complete"
    written = objects(aws)
    assert run_to_end(aws, reader, chain_b) == ["already_complete"]
    assert objects(aws) == written  # nothing rewritten: same chunks, same one manifest
    # A late redelivery of the schedule's message: nothing written, no dead letter.
    response, [late], _ = deliver(aws, reader, first, message_id="m1-late")
    assert late.outcome == "already_complete" and response == {"batchItemFailures": []}
    assert objects(aws) == written and queued(aws, aws.settings.associations.dlq_name) == []


def test_pairs_the_scopes_do_not_allow_are_skipped_and_left_out_of_the_manifest(aws):
    add_account(aws, scopes=[s for s in ALL_SCOPES if s != "tickets"])
    # HubSpot also refuses deals now (scopes changed after the install): skipped as it happens.
    hubspot = FakeHubSpot(n=5, refuse={"deals"})
    reader = make_reader(aws, hubspot)
    assert run_to_end(aws, reader, start_message(HUB, SNAPSHOT)) == ["complete"]
    manifest = json.loads(objects(aws)[manifest_key()])
    listed = [(p["from"], p["to"]) for p in manifest["pairs"]]
    assert listed == [p for p in PAIRS if "tickets" not in p and "deals" not in p]
    assert not any("/tickets" in path for _, path in hubspot.calls)  # never asked for
    assert all(p["records"] > 0 and p["chunks"] for p in manifest["pairs"])


def test_pairs_with_no_records_are_listed_with_no_chunks(aws):
    add_account(aws)
    reader = make_reader(aws, FakeHubSpot(n=0))
    assert run_to_end(aws, reader, start_message(HUB, SNAPSHOT)) == ["complete"]
    files = objects(aws)
    manifest = json.loads(files[manifest_key()])
    assert len(manifest["pairs"]) == len(PAIRS)
    assert all(p == {"from": p["from"], "to": p["to"], "records": 0, "chunks": []}
               for p in manifest["pairs"])
    assert list(files) == [manifest_key()]


def test_associations_paged_within_a_result_are_all_read(aws):
    add_account(aws)
    hubspot = FakeHubSpot(n=4, assoc_page=1)  # one to-object per page: `after` per id
    reader = make_reader(aws, hubspot)
    assert run_to_end(aws, reader, start_message(HUB, SNAPSHOT)) == ["complete"]
    manifest = json.loads(objects(aws)[manifest_key()])
    assert sum(p["records"] for p in manifest["pairs"]) == hubspot.expected_lines(PAIRS)
    batch_calls = [p for m, p in hubspot.calls if m == "POST"]
    assert len(batch_calls) == 2 * len(PAIRS)  # the first page, then the rest by `after`


def test_429s_wait_for_retry_after_and_then_succeed(aws):
    add_account(aws)
    hubspot = FakeHubSpot(n=3, throttle=2)
    reader = make_reader(aws, hubspot)
    waited: list[float] = []
    from hubspot_app.messaging import rate_limit
    original = rate_limit.RateLimiter.cool_down

    def cool_down(self, seconds):
        waited.append(seconds)
        self._blocked_until = 0.0  # the fake clock: no real waiting in a unit test
    rate_limit.RateLimiter.cool_down = cool_down
    try:
        assert run_to_end(aws, reader, start_message(HUB, SNAPSHOT)) == ["complete"]
    finally:
        rate_limit.RateLimiter.cool_down = original
    assert waited == [1.0, 1.0]  # HubSpot's Retry-After, for every caller of the account


def test_429s_that_do_not_stop_return_the_message_later(aws):
    add_account(aws)
    reader = make_reader(aws, FakeHubSpot(n=3, throttle=1000))
    from hubspot_app.messaging import rate_limit
    original = rate_limit.RateLimiter.cool_down
    rate_limit.RateLimiter.cool_down = lambda self, seconds: None
    try:
        response, outcomes, consumer = deliver(aws, reader, start_message(HUB, SNAPSHOT))
    finally:
        rate_limit.RateLimiter.cool_down = original
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]} and outcomes == []
    assert consumer.report["retrying"] == 1 and consumer.report["dead_lettered"] == 0
    assert manifest_key() not in objects(aws)


def test_a_revoked_token_is_recorded_not_retried_or_dead_lettered(aws, captured_logs):
    add_account(aws)
    hubspot = FakeHubSpot(n=3)
    reader = make_reader(aws, hubspot, oauth=FakeOAuth(refused=True))
    response, [outcome], consumer = deliver(aws, reader, start_message(HUB, SNAPSHOT))
    assert outcome.outcome == "token_revoked" and response == {"batchItemFailures": []}
    assert consumer.report == {"done": 1, "retrying": 0, "dead_lettered": 0, "not_started": 0}
    assert hubspot.calls == [] and objects(aws) == {}
    assert queued(aws) == [] and queued(aws, aws.settings.associations.dlq_name) == []
    from hubspot_app.models import Account
    account = Account.get(HUB)
    assert (account.labels_outcome, account.labels_snapshot_id) == ("token_revoked", SNAPSHOT)
    assert "HubSpot refused the refresh token" in captured_logs.text()


def test_no_token_reaches_a_log_line(aws, captured_logs):
    add_account(aws)
    hubspot = FakeHubSpot(n=12, throttle=1)
    reader = make_reader(aws, hubspot)
    from hubspot_app.messaging import rate_limit
    original = rate_limit.RateLimiter.cool_down
    rate_limit.RateLimiter.cool_down = lambda self, seconds: None
    try:
        run_to_end(aws, reader, start_message(HUB, SNAPSHOT),
                   remaining_factory=lambda: Clock(200_000, 60_000))
    finally:
        rate_limit.RateLimiter.cool_down = original
    assert hubspot.tokens_seen == {f"Bearer {ACCESS}"}
    text = captured_logs.text()
    assert "association labels snapshot complete" in text and "rate limit" in text
    assert ACCESS not in text and REFRESH not in text


def test_uninstalled_and_unknown_accounts_end_quietly(aws):
    add_account(aws, status="uninstalled")
    reader = make_reader(aws, FakeHubSpot(n=3))
    _, [gone], _ = deliver(aws, reader, start_message(HUB, SNAPSHOT))
    _, [unknown], _ = deliver(aws, reader, start_message(777, SNAPSHOT))
    assert (gone.outcome, unknown.outcome) == ("skipped", "no_account")
    assert objects(aws) == {} and queued(aws, aws.settings.associations.dlq_name) == []


def test_a_malformed_message_is_dead_lettered_once(aws):
    add_account(aws)
    reader = make_reader(aws, FakeHubSpot(n=3))
    response, outcomes, consumer = deliver(aws, reader, {"type": "association_labels", "hub_id": "x"})
    assert response == {"batchItemFailures": []} and consumer.report["dead_lettered"] == 1
    [letter] = queued(aws, aws.settings.associations.dlq_name)
    assert letter["hub_id"] == "x"


def test_the_daily_fan_out_sends_one_message_per_active_account(aws):
    from hubspot_app.handlers import associations

    for hub, status in ((11, "active"), (12, "active"), (13, "uninstalled"), (14, "needs_reauth")):
        add_account(aws, hub_id=hub, status=status)
    event = {"time": "2026-12-07T05:00:00Z", "id": "evt-1"}
    with iam_check.acting_as("association_labels_schedule"):
        summary = associations.association_labels_schedule(event, aws)
    assert summary["accounts"] == 2 and summary["messages"] == 2
    sent = queued(aws)
    assert sorted(m["hub_id"] for m in sent) == [11, 12]
    assert all(m["snapshot_id"].startswith("20261207T050000Z-") for m in sent)
    # A redelivered schedule event names the same snapshots (so no second manifest).
    with iam_check.acting_as("association_labels_schedule"):
        associations.association_labels_schedule(event, aws)
    assert sorted(m["snapshot_id"] for m in queued(aws)) == sorted(m["snapshot_id"] for m in sent)


def test_the_manifest_is_written_once_even_when_two_chains_finish_together(aws):
    from datetime import UTC, datetime

    from hubspot_app.associations.snapshot import Layout, SnapshotState, write_manifest

    layout = Layout(aws.settings.lake.bucket)
    state = SnapshotState(HUB, SNAPSHOT, "2026-12-07T05:00:00Z", [["contacts", "companies"]],
                          counts={"contacts__companies": [1, 3]})
    with iam_check.acting_as("association_labels_worker"):
        assert write_manifest(aws.s3, layout, state, datetime(2026, 12, 7, 5, 1, tzinfo=UTC))
    first = objects(aws)[manifest_key()]
    state.counts["contacts__companies"] = [2, 9]  # the other chain's view
    with iam_check.acting_as("association_labels_worker"):
        assert not write_manifest(aws.s3, layout, state, datetime(2026, 12, 7, 5, 2, tzinfo=UTC))
    assert objects(aws)[manifest_key()] == first
    assert json.loads(first)["pairs"][0]["records"] == 3
