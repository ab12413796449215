"""Pieces of the token-health check without servers: the limiter, the worker's batching and
time budget, classification, EMF lines, alert scrubbing."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from hubspot_app import alerts, logs, metrics, token_health
from hubspot_app.hubspot_oauth import (
    ClientConfigError,
    HubSpotOAuthError,
    HubSpotUnavailable,
    InvalidGrant,
    TokenInfo,
    TokenSet,
)
from hubspot_app.token_health import (
    BROKEN,
    CONFIG,
    OK,
    TRANSIENT,
    CallLimiter,
    CheckResult,
    check_message,
    process_records,
    uninstall_message,
)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def test_limiter_holds_the_rate_and_stops_after_a_429():
    clock = FakeClock()
    limiter = CallLimiter(5.0, burst=5, clock=clock, sleep=clock.sleep)
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


def test_worker_requeues_transient_accounts_with_growing_delay():
    sent = []
    checker = ScriptedChecker({2: TRANSIENT, 3: "crash"})
    report = process_records([json.dumps(check_message([1, 2, 3, 4], attempt=1))], checker, Health(),
                             send=lambda items: sent.extend(items) or len(items))
    assert checker.calls == [1, 2, 3, 4]
    assert report.checked == {OK: 2, TRANSIENT: 2}
    assert sent == [(check_message([2, 3], attempt=2), 120)]
    # Out of retries: not re-queued (the next scheduled run checks them again).
    sent.clear()
    process_records([json.dumps(check_message([2], attempt=2))], checker, Health(),
                    send=lambda items: sent.extend(items) or len(items))
    assert sent == []


def test_worker_stops_before_the_lambda_timeout_and_requeues_the_rest():
    sent = []
    checker = ScriptedChecker({})
    budget = iter([300_000, 300_000, 300_000, 10_000, 10_000, 10_000])
    process_records([json.dumps(check_message([1, 2, 3, 4, 5])),
                     json.dumps(check_message([6, 7]))], checker, Health(),
                    remaining_ms=lambda: next(budget),
                    send=lambda items: sent.extend(items) or len(items))
    # The first reading only tells whether a budget exists; accounts 1-3 fit, then time is short.
    assert checker.calls == [1, 2, 3]
    assert sent == [(check_message([4, 5]), 0), (check_message([6, 7]), 0)]


def test_worker_always_makes_progress_even_without_time():
    checker = ScriptedChecker({})
    sent = []
    budget = iter([100, 10, 10])  # a quarter of the first reading is kept in reserve
    process_records([json.dumps(check_message([1, 2]))], checker, Health(),
                    remaining_ms=lambda: next(budget),
                    send=lambda items: sent.extend(items) or len(items))
    assert checker.calls == [1]
    assert sent == [(check_message([2]), 0)]


def test_uninstall_messages_retry_then_dead_letter():
    attempts, dead, sent = [], [], []

    def failing(message):
        attempts.append(message["attempt"])
        raise RuntimeError("Airbyte answered 503")

    message = uninstall_message(123, "webhook")
    for _ in range(5):
        sent.clear()
        process_records([json.dumps(message)], ScriptedChecker({}), Health(), uninstaller=failing,
                        send=lambda items: sent.extend(items) or len(items),
                        dead_letter=lambda m, reason: dead.append((m["hub_id"], reason)))
        if not sent:
            break
        message = sent[0][0]
    assert attempts == [0, 1, 2, 3]
    assert dead == [(123, "RuntimeError: Airbyte answered 503")]


def test_bad_messages_are_dropped_not_retried():
    sent = []
    report = process_records(["not json", json.dumps({"type": "nope"}),
                              json.dumps(check_message([]) | {"hub_ids": ["../1", -5, True]}),
                              json.dumps(uninstall_message(1, "webhook") | {"hub_id": "1/../2"})],
                             ScriptedChecker({}), Health(), uninstaller=lambda m: None,
                             send=lambda items: sent.extend(items) or len(items))
    assert sent == [] and report.checked == {} and report.uninstalled == 0


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
class Settings:
    hubspot_scopes: tuple = ("oauth", "crm.objects.contacts.read")


def make_checker(oauth, monkeypatch):
    monkeypatch.setattr("hubspot_app.token_crypto.decrypt_token", lambda enc, hub, kms=None: "rt-" + enc)
    limiter = CallLimiter(0)
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
