"""The retry policy: one formula (exponential, jittered, capped) and one table of its settings.

Queues count attempts with SQS's ApproximateReceiveCount: the consumer dead-letters a record
itself on its last allowed receive, so `max_attempts` is read from the same variable the deploy
templates use for the queue's RedrivePolicy maxReceiveCount (deploy/infra.py QUEUES). SQS's own
redrive then only moves a record whose last receive crashed the function: either way it reaches
the DLQ once.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SQS_MAX_VISIBILITY = 43_200  # ChangeMessageVisibility's maximum (12 h)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float     # the first retry's delay
    max_seconds: float      # no delay is longer
    max_attempts: int       # tries (HTTP) or receives (SQS) before giving up
    jitter: float = 0.2     # +-20 %, so retries of many records do not arrive together

    def delay(self, attempt: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first try)."""
        raw = min(self.max_seconds, self.base_seconds * 2 ** max(0, min(attempt - 1, 30)))
        return max(0.0, min(self.max_seconds, raw * uniform(1 - self.jitter, 1 + self.jitter)))

    def visibility(self, attempt: int) -> int:
        """The delay as an SQS visibility timeout (whole seconds, at least 1)."""
        return max(1, min(SQS_MAX_VISIBILITY, round(self.delay(attempt))))

    def last(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


# label -> (base seconds var, default; max seconds var, default; attempts var, default)
QUEUE_SETTINGS: dict[str, tuple[str, int, str | None, int, str, int]] = {
    "provision": ("PROVISION_RETRY_BASE_SECONDS", 30, "PROVISION_RETRY_MAX_SECONDS", 900,
                  "PROVISION_MAX_RECEIVES", 5),
    "lifecycle": ("TOKEN_HEALTH_RETRY_BASE_SECONDS", 60, None, 900,
                  "LIFECYCLE_MAX_RECEIVES", 5),
    "glue": ("GLUE_TRIGGER_RETRY_BASE_SECONDS", 60, "GLUE_TRIGGER_RETRY_MAX_SECONDS", 900,
             "GLUE_TRIGGER_MAX_RECEIVES", 5),
    "association_labels": ("ASSOCIATION_LABELS_RETRY_BASE_SECONDS", 60,
                           "ASSOCIATION_LABELS_RETRY_MAX_SECONDS", 900,
                           "ASSOCIATION_LABELS_MAX_RECEIVES", 5),
}

# Airbyte API calls retried inside one request (429, and 5xx on calls safe to repeat):
# 3 retries after 0.5, 1, 2 s (+-50 %), Retry-After honoured, never longer than 8 s.
AIRBYTE_HTTP = RetryPolicy(base_seconds=0.5, max_seconds=8.0, max_attempts=3, jitter=0.5)


def queue_policy(label: str, env: Mapping[str, str] | None = None) -> RetryPolicy:
    # The environment is looked up at call time: a default bound at import would keep the object
    # `os.environ` was then, which a test client may since have swapped for the function's own.
    env = os.environ if env is None else env
    if label not in QUEUE_SETTINGS:
        raise ValueError(f"no retry policy for queue {label!r}: one of {', '.join(QUEUE_SETTINGS)}")
    base_var, base, max_var, cap, attempts_var, attempts = QUEUE_SETTINGS[label]

    def number(var: str | None, default: int) -> int:
        raw = (env.get(var) if var else None) or str(default)
        if not raw.isdigit():
            raise ValueError(f"{var}={raw!r}: a whole number of seconds or receives is needed")
        return int(raw)

    return RetryPolicy(number(base_var, base), number(max_var, cap),
                       max(1, number(attempts_var, attempts)))
