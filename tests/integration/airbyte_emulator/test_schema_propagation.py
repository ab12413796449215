"""Airbyte's schema refresh before a sync (issue 12 §1): with `propagate_fully` a stream the
connector discovers for the first time (a new custom object) joins the connection in
full_refresh_overwrite (CatalogConverter's fallback for destination-s3), a deselected stream
does not, and `propagate_columns` adds none."""
import boto3
import pytest
from moto import mock_aws

from local_stack.airbyte_emulator import AirbyteEmulator, connector_adapter

from .conftest import HUBSPOT_CONFIG, S3_CONFIG, raw
from .test_sync_logic import ScriptedConnector


@pytest.fixture
def env(monkeypatch):
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lake")
        fake = ScriptedConnector()
        # Looked up at each call: a test swaps fake.discover to change what is discovered.
        monkeypatch.setattr(connector_adapter, "discover", lambda *a, **k: fake.discover(*a, **k))
        monkeypatch.setattr(connector_adapter, "read", fake.read)
        emu = AirbyteEmulator(hubspot_sandbox_url="http://sandbox.invalid").start()
        wid = emu.default_workspace_id
        src = raw(emu, "POST", "/sources", {"name": "h", "workspaceId": wid,
                                            "configuration": HUBSPOT_CONFIG}).json()["sourceId"]
        dst = raw(emu, "POST", "/destinations", {"name": "d", "workspaceId": wid,
                                                 "configuration": S3_CONFIG}).json()["destinationId"]
        yield emu, fake, src, dst
        emu.stop()


def _connection(emu, src, dst, behaviour):
    return raw(emu, "POST", "/connections", {
        "sourceId": src, "destinationId": dst, "name": behaviour,
        "nonBreakingSchemaUpdatesBehavior": behaviour,
        "configurations": {"streams": [{"name": "contacts",
                                        "syncMode": "incremental_append"}]}}).json()


def test_new_streams_join_only_with_propagate_fully(env):
    emu, fake, src, dst = env
    full = _connection(emu, src, dst, "propagate_fully")
    cols = _connection(emu, src, dst, "propagate_columns")
    # The account gets a custom object: the next discover finds it.
    discover = fake.discover
    fake.discover = lambda *a, **k: {**discover(*a, **k), "cars": {
        **discover(*a, **k)["contacts"], "name": "cars"}}
    fake.records["cars"] = 4
    for conn in (full, cols):
        job = raw(emu, "POST", "/jobs", {"connectionId": conn["connectionId"],
                                         "jobType": "sync"}).json()
        assert emu.wait_for_job(job["jobId"], timeout_s=60)["status"] == "succeeded"
    got = raw(emu, "GET", f"/connections/{full['connectionId']}").json()
    modes = {s["name"]: s["syncMode"] for s in got["configurations"]["streams"]}
    assert modes == {"contacts": "incremental_append", "cars": "full_refresh_overwrite"}
    assert emu.job_detail(job["jobId"] - 1)["streams"].get("cars") == 4  # synced at once
    got = raw(emu, "GET", f"/connections/{cols['connectionId']}").json()
    assert [s["name"] for s in got["configurations"]["streams"]] == ["contacts"]
