"""The one retry policy: exponential, jittered, capped; queues give up on the receive at which
the deploy templates' redrive policy would (so SQS never adds a second DLQ copy)."""
from __future__ import annotations

import pytest

from deploy import infra
from hubspot_app.errors import NotFound, Permanent, PipelineError, Transient
from hubspot_app.messaging.retry import AIRBYTE_HTTP, QUEUE_SETTINGS, RetryPolicy, queue_policy


def test_delays_double_with_jitter_and_never_pass_the_cap():
    policy = RetryPolicy(base_seconds=30, max_seconds=900, max_attempts=5)
    assert [policy.delay(n, lambda a, b: 1.0) for n in range(1, 7)] == [30, 60, 120, 240, 480, 900]
    low = [policy.delay(n, lambda a, b: a) for n in range(1, 8)]
    high = [policy.delay(n, lambda a, b: b) for n in range(1, 8)]
    assert low[0] == 24 and high[0] == 36 and max(high) == 900 and low[-1] == 720
    assert all(1 <= policy.visibility(n) <= 900 for n in range(1, 40))
    assert not policy.last(4) and policy.last(5) and policy.last(6)


def test_airbyte_http_retries_use_the_same_policy_object():
    from hubspot_app.airbyte import client as airbyte_client

    assert airbyte_client.AIRBYTE_HTTP is AIRBYTE_HTTP
    assert AIRBYTE_HTTP.max_attempts == 3 and AIRBYTE_HTTP.delay(10) <= 8.0


def test_queue_policies_read_the_templates_max_receive_variables():
    by_logical = {q.logical: q for q in infra.QUEUES}
    names = {"provision": "Provision", "lifecycle": "TokenHealth", "glue": "GlueTrigger"}
    for label, logical in names.items():
        assert QUEUE_SETTINGS[label][4] == by_logical[logical].max_receives_var
        assert QUEUE_SETTINGS[label][5] == by_logical[logical].max_receives
    assert queue_policy("glue", {"GLUE_TRIGGER_MAX_RECEIVES": "7"}).max_attempts == 7
    with pytest.raises(ValueError, match="GLUE_TRIGGER_MAX_RECEIVES='x'"):
        queue_policy("glue", {"GLUE_TRIGGER_MAX_RECEIVES": "x"})
    with pytest.raises(ValueError, match="no retry policy"):
        queue_policy("nope")


def test_existing_errors_join_the_tree():
    from hubspot_app.airbyte.client import AirbyteNotFound, AirbytePermanentError, AirbyteTransientError
    from hubspot_app.airbyte.spec import ProvisionFailed
    from hubspot_app.hubspot_oauth import HubSpotUnavailable
    from hubspot_app.lifecycle.provisioner import Busy
    from hubspot_app.secrets_store import SecretConfigError
    from hubspot_app.token_crypto import TokenDecryptError

    assert issubclass(AirbyteTransientError, Transient) and issubclass(HubSpotUnavailable, Transient)
    for cls in (AirbytePermanentError, ProvisionFailed, SecretConfigError, TokenDecryptError):
        assert issubclass(cls, Permanent)
    assert issubclass(AirbyteNotFound, NotFound) and issubclass(NotFound, PipelineError)
    assert Busy("held", retry_after=7).delay == 7
    assert AirbyteTransientError("503", status=503).status == 503   # old signatures still work
    assert ProvisionFailed("x", kind="unknown_account").kind == "unknown_account"
