"""Issue 15, found by bench/storm.py: the access-token request (POST /applications/token).

While no token is held, every Airbyte call starts with it, so it takes every transient fault
Airbyte answers. It was the one request not retried in process (each 429 or 503 on it failed a
whole SQS message), and its failures were read as ambiguous: a create whose token request failed
was followed by the settle window's look-ups for a resource never asked for, holding the shared
workspace's lease meanwhile while every other account waited on it."""
from __future__ import annotations

import pytest
import requests

from hubspot_app.airbyte.client import AirbyteClient, AirbyteTransientError
from local_stack.airbyte_emulator import AirbyteEmulator
from local_stack.airbyte_emulator.sync import SyncResult

TOKEN = "/v1/applications/token"


@pytest.fixture
def emu():
    e = AirbyteEmulator(port=0, sync_runner=lambda ctx: SyncResult()).start()
    yield e
    e.stop()


def _client(emu, timeout: float = 10.0) -> AirbyteClient:
    return AirbyteClient(emu.api_url, client_id=emu.client_id, client_secret=emu.client_secret,
                         timeout=timeout)


def _fault(emu, **spec) -> None:
    requests.post(f"{emu.url}/_emulator/faults", json=spec, timeout=10).raise_for_status()


def _requests(emu) -> dict:
    return requests.get(f"{emu.url}/_emulator/state", timeout=10).json()["requests"]


def test_token_request_is_retried_in_process_on_429_and_5xx(emu):
    for spec in ({"mode": "5xx", "status": 503}, {"mode": "429"},
                 {"mode": "5xx", "status": 502}):
        _fault(emu, path_prefix=TOKEN, **spec)
    client = _client(emu)
    assert [w["name"] for w in client.list_workspaces()] == ["Default Workspace"]
    assert _requests(emu)["POST /v1/applications"] == 4   # three faults, then the token


def test_a_create_whose_token_request_failed_is_not_ambiguous(emu):
    """Nothing was sent to POST /workspaces: the provisioner must not wait for it to show up."""
    client = _client(emu)
    for _ in range(client.in_process_retries + 1):   # more 503s than the retries absorb
        _fault(emu, path_prefix=TOKEN, mode="5xx", status=503)
    with pytest.raises(AirbyteTransientError) as failed:
        client.create_workspace("storm-workspace")
    assert failed.value.status == 503 and not failed.value.ambiguous

    _fault(emu, path_prefix=TOKEN, mode="slow", delay_s=1.5)  # answered after the timeout
    with pytest.raises(AirbyteTransientError, match="timed out") as timed_out:
        _client(emu, timeout=0.5).create_workspace("storm-workspace")
    assert not timed_out.value.ambiguous
    assert "POST /v1/workspaces" not in _requests(emu)
    assert [w["name"] for w in client.list_workspaces()] == ["Default Workspace"]


def test_a_create_that_timed_out_is_still_ambiguous(emu):
    """The other side of the line: once the create itself was sent, a timeout may hide it."""
    client = _client(emu, timeout=0.5)
    client.list_workspaces()                                     # the token is held now
    _fault(emu, path_prefix="/v1/workspaces", method="POST", mode="slow", delay_s=1.5)
    with pytest.raises(AirbyteTransientError, match="timed out") as failed:
        client.create_workspace("storm-workspace")
    assert failed.value.ambiguous
