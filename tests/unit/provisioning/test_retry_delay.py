"""The provisioner's retry delay (retries and dead letters on the local stack:
tests/integration/provisioning/test_retries_dlq.py)."""
from __future__ import annotations

from hubspot_app.lifecycle.provision_queue import policy


def test_retry_delay_grows_and_is_capped():
    from types import SimpleNamespace

    from hubspot_app.config import ProvisioningSettings

    settings = SimpleNamespace(provisioning=ProvisioningSettings(
        "q", retry_base_seconds=30, retry_max_seconds=900, max_receives=5))
    delays = [policy(settings).visibility(n) for n in range(1, 8)]
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72 and 96 <= delays[2] <= 144
    assert max(delays) <= 900 and delays[-1] >= 900 * 0.8
