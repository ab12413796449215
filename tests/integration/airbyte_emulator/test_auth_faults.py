"""Tokens from application credentials, fault injection, the rate limit, admin state."""
import airbyte_api
import httpx
import pytest
import requests
from airbyte_api import api, errors, models

from local_stack.airbyte_emulator import AirbyteEmulator

from .conftest import HUBSPOT_CONFIG, fake_runner, raw


def _fault(emu, **spec):
    res = requests.post(f"{emu.url}/_emulator/faults", json=spec, timeout=10)
    assert res.status_code == 200, res.text


def _create_source(emu, name="hub"):
    return raw(emu, "POST", "/sources", {"name": name, "workspaceId": emu.default_workspace_id,
                                         "configuration": HUBSPOT_CONFIG})


def test_application_token_and_expiry(emu):
    res = requests.post(f"{emu.api_url}/applications/token", json={
        "client_id": emu.client_id, "client_secret": emu.client_secret,
        "grant_type": "client_credentials"}, timeout=10)
    body = res.json()
    assert res.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 180
    assert raw(emu, "GET", "/workspaces", token=body["access_token"]).status_code == 200
    emu.auth.expire_all()
    assert raw(emu, "GET", "/workspaces", token=body["access_token"]).status_code == 401
    bad = requests.post(f"{emu.api_url}/applications/token", json={
        "client_id": emu.client_id, "client_secret": "wrong"}, timeout=10)
    assert bad.status_code == 401


def test_sdk_client_credentials_flow(emu):
    # The SDK posts the form to /applications/token (its urljoin drops /v1) and caches the token;
    # after a server-side expiry the next call fails with 401 and the one after re-authenticates.
    sdk = airbyte_api.AirbyteAPI(server_url=emu.api_url, security=models.Security(
        client_credentials=models.SchemeClientCredentials(
            client_id=emu.client_id, client_secret=emu.client_secret)))
    assert len(sdk.workspaces.list_workspaces(
        request=api.ListWorkspacesRequest()).workspaces_response.data) == 1
    emu.auth.expire_all()
    with pytest.raises(errors.SDKError) as exc:
        sdk.workspaces.list_workspaces(request=api.ListWorkspacesRequest())
    assert exc.value.status_code == 401
    assert len(sdk.workspaces.list_workspaces(
        request=api.ListWorkspacesRequest()).workspaces_response.data) == 1
    assert emu.state()["requests"]["POST /applications/token"] == 2


def test_5xx_and_429_faults_are_consumed_in_order(emu):
    _fault(emu, mode="5xx", count=2, path_prefix="/v1/sources", method="POST")
    _fault(emu, mode="429", count=1, path_prefix="/v1/sources")
    assert _create_source(emu).status_code == 503
    assert _create_source(emu).status_code == 503
    res = _create_source(emu)
    assert res.status_code == 429 and res.json() == {"message": "You are being rate limited."}
    assert _create_source(emu).status_code == 200
    state = requests.get(f"{emu.url}/_emulator/state", timeout=10).json()
    assert state["sources"]["live"] == {"hub": 1}
    assert state["rejected"] == {"5xx": 2, "429": 1}


def test_sdk_retries_through_transient_faults(emu, sdk):
    _fault(emu, mode="5xx", count=2, path_prefix="/v1/workspaces", status=502)
    retry = airbyte_api.utils.RetryConfig("backoff", airbyte_api.utils.BackoffStrategy(
        10, 50, 1.5, 2000), retry_connection_errors=True)
    res = sdk.workspaces.list_workspaces(request=api.ListWorkspacesRequest(), retries=retry)
    assert len(res.workspaces_response.data) == 1


def test_lost_response_after_create(emu):
    _fault(emu, mode="lose_response_after_create", path_prefix="/v1/sources")
    with pytest.raises(requests.ConnectionError):
        _create_source(emu, name="hub-lost")
    # The source exists although its creator never heard back: a retry must look it up first.
    listed = raw(emu, "GET", "/sources").json()["data"]
    assert [s["name"] for s in listed] == ["hub-lost"]
    assert _create_source(emu, name="hub-next").status_code == 200


def test_slow_fault_delays_but_succeeds(emu):
    _fault(emu, mode="slow", delay_s=0.3, path_prefix="/v1/workspaces")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{emu.api_url}/workspaces", timeout=0.1,
                  headers={"Authorization": f"Bearer {emu.api_token}"})
    assert raw(emu, "GET", "/workspaces").status_code == 200
    assert requests.get(f"{emu.url}/_emulator/faults", timeout=10).json() == {"faults": []}


def test_rate_limit_answers_429_past_the_budget():
    emu = AirbyteEmulator(rate_limit_per_s=0.1, rate_limit_burst=3, sync_runner=fake_runner).start()
    try:
        codes = [raw(emu, "GET", "/workspaces").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        requests.post(f"{emu.url}/_emulator/rate_limit", json={"per_s": None}, timeout=10)
        assert raw(emu, "GET", "/workspaces").status_code == 200
        assert emu.state()["rejected"]["429_rate_limit"] >= 1
    finally:
        emu.stop()


def test_state_counts_duplicates_by_name(emu):
    for _ in range(2):
        _create_source(emu, name="hub-dup")
    _create_source(emu, name="hub-single")
    state = requests.get(f"{emu.url}/_emulator/state", timeout=10).json()
    assert state["sources"]["live"] == {"hub-dup": 2, "hub-single": 1}
    assert state["duplicates"]["sources"] == ["hub-dup"]
    assert state["requests"]["POST /v1/sources"] == 3


def test_cli_help():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "local_stack.airbyte_emulator", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--rate-limit-per-s" in out.stdout and "/v1" in out.stdout


def test_cli_serves_and_stops_on_sigterm():
    import json
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "local_stack.airbyte_emulator", "--port", "0",
                             "--api-token", "cli-token"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        res = requests.get(f"{info['api_url']}/workspaces/{info['default_workspace_id']}",
                           headers={"Authorization": "Bearer cli-token"}, timeout=10)
        assert res.status_code == 200 and res.json()["name"] == "Default Workspace"
    finally:
        proc.terminate()
    assert proc.wait(timeout=30) == 0
