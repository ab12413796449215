"""Pieces of the token-health check without servers: the limiter, the worker's batching and
time budget, classification, EMF lines, alert scrubbing."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from hubspot_app import alerts, logs, metrics
from hubspot_app.hubspot_oauth import (
    ClientConfigError,
    HubSpotOAuthError,
    HubSpotUnavailable,
    InvalidGrant,
    TokenInfo,
    TokenSet,
)
from hubspot_app.lifecycle import token_health
from hubspot_app.lifecycle.token_health import (
    BROKEN,
    CONFIG,
    OK,
    TRANSIENT,
    CheckResult,
    check_message,
    uninstall_message,
)
from hubspot_app.messaging.rate_limit import RateLimiter


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def test_limiter_holds_the_rate_and_stops_after_a_429():
    clock = FakeClock()
    limiter = RateLimiter(5.0, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(55):
        limiter.acquire()
    # 5 at once, then 50 more at 5 per second.
    assert clock.t == pytest.approx(10.0, rel=0.01)
    limiter.cool_down(10.0)
    start = clock.t
    limiter.acquire()
    assert clock.t - start >= 10.0


@dataclass
class Health:
    queue_name: str = "q"
    max_transient_retries: int = 2
    retry_base_seconds: int = 60
    check_scopes: bool = True
    confirm_delay_seconds: float = 0.0


class ScriptedChecker:
    def __init__(self, outcomes: dict):
        self.outcomes, self.calls = outcomes, []

    def check(self, hub_id, force=False):
        self.calls.append(hub_id)
        outcome = self.outcomes.get(hub_id, OK)
        if outcome == "crash":
            raise RuntimeError("boom")
        return CheckResult(hub_id, outcome)


class FakeSqs:
    """What the consumer calls on SQS, recorded."""

    def __init__(self):
        self.visibility, self.deleted, self.dead = [], [], []

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        self.visibility.append((ReceiptHandle, VisibilityTimeout))

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)

    def send_message(self, QueueUrl, MessageBody, MessageAttributes):
        self.dead.append((MessageBody, {k: v["StringValue"] for k, v in MessageAttributes.items()}))
        return {"MessageId": f"dlq-{len(self.dead)}"}


def _event(*bodies, receive_count=1):
    return {"Records": [{
        "messageId": f"m{i}", "receiptHandle": f"r{i}", "body": b if isinstance(b, str) else json.dumps(b),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lifecycle"}
        for i, b in enumerate(bodies)]}


def _run(*bodies, checker=None, receive_count=1, **kwargs):
    from hubspot_app.messaging.consumer import Consumer
    from hubspot_app.messaging.retry import RetryPolicy

    sqs, sent = FakeSqs(), []
    spec = token_health.queue_spec(Health(), dlq_url="https://dlq")
    spec = type(spec)(spec.label, spec.dlq_url, RetryPolicy(60, 900, 4), spec.max_body_bytes)
    consumer = Consumer(spec, sqs=sqs, source_url=lambda name: f"https://{name}")
    response, report = token_health.process_batch(
        _event(*bodies, receive_count=receive_count), checker or ScriptedChecker({}), Health(),
        consumer=consumer, send=lambda items: sent.extend(items) or len(items), **kwargs)
    return response, report, sqs, sent


def test_transient_accounts_return_with_the_record_by_the_retry_policy():
    checker = ScriptedChecker({2: TRANSIENT, 3: "crash"})
    response, report, sqs, sent = _run(check_message([1, 2, 3, 4]), check_message([5]),
                                       checker=checker, receive_count=2)
    assert checker.calls == [1, 2, 3, 4, 5]
    assert report.checked == {OK: 3, TRANSIENT: 2}
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}   # not m1
    [(handle, delay)] = sqs.visibility
    assert handle == "r0" and 96 <= delay <= 144                            # 60 s doubled, +-20 %
    assert sent == [] and sqs.dead == []                                    # no copies sent
    # On its last receive the record is let go: the next scheduled run checks them again.
    response, _, sqs, _ = _run(check_message([2]), checker=checker, receive_count=4)
    assert response == {"batchItemFailures": []} and sqs.dead == [] and sqs.visibility == []


def test_worker_stops_before_the_lambda_timeout_and_sends_the_rest_on():
    checker = ScriptedChecker({})
    budget = iter([300_000, 300_000, 300_000, 10_000, 10_000, 10_000])
    response, report, sqs, sent = _run(check_message([1, 2, 3, 4, 5]), check_message([6, 7]),
                                       checker=checker, remaining_ms=lambda: next(budget))
    # The first reading only tells whether a budget exists; accounts 1-3 fit, then time is short.
    assert checker.calls == [1, 2, 3]
    assert sent == [(check_message([4, 5]), 0)] and report.requeued == 1
    # The second record was not started: it returns at once, for the next invocation.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert sqs.visibility == [("r1", 0)]


def test_worker_always_makes_progress_even_without_time():
    checker = ScriptedChecker({})
    budget = iter([100, 10, 10])  # a quarter of the first reading is kept in reserve
    response, _, _, sent = _run(check_message([1, 2]), checker=checker,
                                remaining_ms=lambda: next(budget))
    assert checker.calls == [1]
    assert sent == [(check_message([2]), 0)] and response == {"batchItemFailures": []}


def test_uninstall_retries_by_visibility_then_dead_letters_once():
    def failing(message):
        raise RuntimeError("Airbyte answered 503")

    message = uninstall_message(123, "webhook")
    for receive in (1, 2, 3):
        response, _, sqs, sent = _run(message, uninstaller=failing, receive_count=receive)
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]} and not sqs.dead
        assert sent == [] and sqs.visibility[0][1] >= 48 * 2 ** (receive - 1)
    response, _, sqs, _ = _run(message, uninstaller=failing, receive_count=4)
    assert response == {"batchItemFailures": []} and sqs.deleted == ["r0"]
    [(body, attrs)] = sqs.dead
    assert json.loads(body) == message                       # the original, unchanged
    assert attrs["error"] == "RuntimeError: Airbyte answered 503"
    assert attrs["error_kind"] == "retries_exhausted" and attrs["hub_id"] == "123"
    assert attrs["receive_count"] == "4" and attrs["source_queue"] == "lifecycle"


def test_bad_messages_are_dead_lettered_at_once_not_retried():
    from types import SimpleNamespace

    bodies = ["not json", {"type": "nope"}, check_message([]) | {"hub_ids": ["../1", -5, True]},
              check_message([]), uninstall_message(1, "webhook") | {"hub_id": "1/../2"},
              uninstall_message(77, "webhook"), check_message(range(1, 20_000))]
    response, report, sqs, sent = _run(
        *bodies, uninstaller=lambda m: SimpleNamespace(steps=["no_account"]))
    assert response == {"batchItemFailures": []} and sent == [] and report.checked == {}
    kinds = [attrs["error_kind"] for _, attrs in sqs.dead]
    assert kinds == ["oversized"] + ["malformed"] * 5 + ["unknown_account"]
    assert sqs.dead[-1][1]["hub_id"] == "77" and sorted(sqs.deleted) == [f"r{i}" for i in range(7)]


class FakeOAuth:
    def __init__(self, refresh_answers, info=None):
        self.refresh_answers, self.info, self.refreshes = list(refresh_answers), info, 0

    def refresh(self, token):
        self.refreshes += 1
        answer = self.refresh_answers.pop(0) if self.refresh_answers else None
        if isinstance(answer, Exception):
            raise answer
        return TokenSet("access-" + token, token, 1800)

    def introspect(self, access):
        return self.info


@dataclass
class HubSpot:
    scopes: tuple = ("oauth", "crm.objects.contacts.read")


@dataclass
class Settings:
    hubspot: HubSpot = field(default_factory=HubSpot)


def make_checker(oauth, monkeypatch):
    monkeypatch.setattr("hubspot_app.token_crypto.decrypt_token", lambda enc, hub, kms=None: "rt-" + enc)
    limiter = RateLimiter(0)
    return token_health.TokenHealthChecker(Settings(), Health(), oauth, limiter=limiter,
                                           sleep=lambda s: None, alert=lambda *a, **k: None)


INFO = TokenInfo(7, "u@x", 1, "x.com", ("oauth", "crm.objects.contacts.read"))


@pytest.mark.parametrize("answer,outcome,code", [
    (None, OK, ""),
    (InvalidGrant("x", "BAD_REFRESH_TOKEN", 400), BROKEN, "BAD_REFRESH_TOKEN"),
    (HubSpotUnavailable("x", "", 429), TRANSIENT, "429"),
    (HubSpotUnavailable("x", "", 502), TRANSIENT, "502"),
    (HubSpotUnavailable("HubSpot unreachable (ReadTimeout)"), TRANSIENT, "unreachable"),
    (ClientConfigError("x", "BAD_CLIENT_SECRET", 400), CONFIG, "BAD_CLIENT_SECRET"),
    (HubSpotOAuthError("x", "WEIRD", 418), TRANSIENT, "WEIRD"),
])
def test_probe_classifies(answer, outcome, code, monkeypatch):
    checker = make_checker(FakeOAuth([answer], INFO), monkeypatch)
    verdict = checker.probe(7, "enc")
    assert (verdict.outcome, verdict.code) == (outcome, code)


def test_probe_refuses_a_token_of_another_hub_or_missing_scopes(monkeypatch):
    other = TokenInfo(8, "u@x", 1, "x.com", INFO.scopes)
    assert make_checker(FakeOAuth([None], other), monkeypatch).probe(7, "e").code == "hub_mismatch"
    narrow = TokenInfo(7, "u@x", 1, "x.com", ("oauth",))
    verdict = make_checker(FakeOAuth([None], narrow), monkeypatch).probe(7, "e")
    assert verdict.code == "missing_scope" and "crm.objects.contacts.read" in verdict.detail


def test_emf_line_shape_and_hub_id_is_never_a_dimension(monkeypatch):
    monkeypatch.setenv("STAGE", "dev")
    line = json.loads(metrics.metric_line("TokenBroken", 1, "Count", Reason="BAD", hub_id=42))
    block = line["_aws"]["CloudWatchMetrics"][0]
    assert block["Namespace"] == "HubSpotPipeline"
    assert block["Dimensions"] == [["Reason", "Stage"]]
    assert block["Metrics"] == [{"Name": "TokenBroken", "Unit": "Count"}]
    assert line["TokenBroken"] == 1.0 and line["hub_id"] == "42" and line["Reason"] == "BAD"
    assert isinstance(line["_aws"]["Timestamp"], int)
    with pytest.raises(ValueError):
        metrics.metric_line("X", 1, "Parsecs")
    lines = []
    metrics.set_sink(lines.append)
    try:
        metrics.emit_metric("X", 1, "Parsecs")  # never raises into business code
        metrics.emit_metric("DlqDepth", 3, "Count", Queue="provision")
    finally:
        metrics.set_sink(None)
    assert len(lines) == 1 and json.loads(lines[0])["DlqDepth"] == 3.0


def test_alerts_never_carry_a_token():
    logs.register_secret("super-secret-refresh-token-123")
    payload = alerts.build_alert(
        "token_broken", 7, "error", "refused super-secret-refresh-token-123", "re-install",
        refresh_token="abc", client_secret="def", authorization="Bearer x", reason="BAD")
    text = json.dumps(payload)
    assert "super-secret-refresh-token-123" not in text
    assert set(payload["details"]) == {"reason"}
    assert payload["hub_id"] == 7 and payload["action"] == "re-install"
    with pytest.raises(ValueError):
        alerts.build_alert("made_up", 1, "info", "s", "a")
