"""Fault injection and the rate limit, applied to /v1 requests before they reach the API.

Faults are one-shot rules consumed in order by matching requests, so a test can say "the next two
POST /v1/sources fail with 503" and know exactly which calls fail. `lose_response_after_create`
lets the create happen and then drops the connection before any response byte is sent: the
client sees a disconnect while the resource exists, the case an idempotent provisioner must
survive.

`late_create` is the general form of an ambiguous create: the create happens, its answer is lost
in one of three ways (`answer`: "drop" the connection, "timeout" = the answer comes `delay_s`
late, after the client gave up, or "5xx" = a gateway error with `status`, default 502, instead
of the answer), and the new resource shows in lists only `visible_after_s` later (a list lagging
behind a write; GET by id finds it at once). `POST /_emulator/late_creates/reveal` shows every
hidden resource at once, so a test can hold one back for as long as it needs.
"""
from __future__ import annotations

import threading
import time

from . import problems

MODES = ("5xx", "429", "slow", "lose_response_after_create", "late_create")
ANSWERS = ("drop", "timeout", "5xx")


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[dict] = []

    def add(self, spec: dict) -> dict:
        if not isinstance(spec, dict) or spec.get("mode") not in MODES:
            raise problems.bad_request(f"mode must be one of {list(MODES)}")
        rule = {
            "mode": spec["mode"],
            "count": int(spec.get("count", 1)),
            "path_prefix": spec.get("path_prefix") or "/v1/",
            "method": (spec.get("method") or "").upper() or None,
            "status": int(spec.get("status", {"5xx": 503, "late_create": 502}.get(spec["mode"],
                                                                                   429))),
            "delay_s": float(spec.get("delay_s", 2.0)),
        }
        if rule["mode"] == "late_create":
            rule["answer"] = spec.get("answer") or "drop"
            if rule["answer"] not in ANSWERS:
                raise problems.bad_request(f"answer must be one of {list(ANSWERS)}")
            rule["visible_after_s"] = float(spec.get("visible_after_s", 0.0))
            if rule["status"] < 500:
                raise problems.bad_request("status of a late_create 5xx answer must be 5xx")
        if rule["mode"] in ("lose_response_after_create", "late_create") and not rule["method"]:
            rule["method"] = "POST"  # creates are POSTs; a lost GET response is not interesting
        if rule["count"] < 1:
            raise problems.bad_request("count must be at least 1")
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for rule in self._rules:
                if path.startswith(rule["path_prefix"]) and rule["method"] in (None, method):
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self._rules.remove(rule)
                    return dict(rule)
        return None

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class RateLimiter:
    """Token bucket: `per_s` requests per second sustained, bursts up to `burst` (default per_s)."""

    def __init__(self, per_s: float | None = None, burst: float | None = None):
        self._lock = threading.Lock()
        self.configure(per_s, burst)

    def configure(self, per_s: float | None, burst: float | None = None) -> None:
        with self._lock:
            self.per_s = per_s
            self.burst = burst or (max(1.0, per_s) if per_s else None)
            self._tokens = self.burst or 0.0
            self._at = time.monotonic()

    def allow(self) -> bool:
        with self._lock:
            if not self.per_s:
                return True
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
