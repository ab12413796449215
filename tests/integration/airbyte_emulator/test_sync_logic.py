"""Sync bookkeeping without the connector: a scripted connector feeds the real job runner,
destination writer and moto S3 (in-process), so paths, generations, state and failures are
checked in seconds."""
import io

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from local_stack.airbyte_emulator import AirbyteEmulator, connector_adapter

from .conftest import HUBSPOT_CONFIG, S3_CONFIG, raw

SCHEMA = {"type": "object", "properties": {"id": {"type": ["null", "string"]},
                                           "updatedAt": {"type": ["null", "string"],
                                                         "format": "date-time"}}}


class ScriptedConnector:
    def __init__(self):
        self.reads = []  # (catalog, state) per read
        self.records = {"contacts": 3, "owners": 2}
        self.fail = False

    def discover(self, config, sandbox_url, cancel=None):
        return {name: {"name": name, "json_schema": SCHEMA, "default_cursor_field": ["updatedAt"],
                       "source_defined_primary_key": [["id"]],
                       "supported_sync_modes": ["full_refresh", "incremental"]}
                for name in ("contacts", "owners")}

    def read(self, config, catalog, state, sandbox_url, cancel=None):
        self.reads.append((catalog, state))
        for c in catalog["streams"]:
            name = c["stream"]["name"]
            for i in range(self.records[name]):
                yield {"type": "RECORD", "record": {"stream": name, "emitted_at": 1714557600000 + i,
                       "data": {"id": str(i), "updatedAt": "2024-05-01T10:00:00Z"}}}
            yield {"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": name}, "stream_state": {"updatedAt": len(self.reads)}}}}
        if self.fail:
            yield {"type": "TRACE", "trace": {"type": "ERROR", "error": {"message": "boom"}}}


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # in-process moto, not a server
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        fake = ScriptedConnector()
        monkeypatch.setattr(connector_adapter, "discover", fake.discover)
        monkeypatch.setattr(connector_adapter, "read", fake.read)
        emu = AirbyteEmulator(hubspot_sandbox_url="http://sandbox.invalid").start()
        src = raw(emu, "POST", "/sources", {"name": "h", "workspaceId": emu.default_workspace_id,
                                            "configuration": HUBSPOT_CONFIG}).json()["sourceId"]
        dst = raw(emu, "POST", "/destinations", {"name": "d", "workspaceId": emu.default_workspace_id,
                                                 "configuration": S3_CONFIG}).json()["destinationId"]
        conn = raw(emu, "POST", "/connections", {
            "sourceId": src, "destinationId": dst, "namespaceDefinition": "custom_format",
            "namespaceFormat": "777", "prefix": "hs_",
            "configurations": {"streams": [
                {"name": "contacts", "syncMode": "incremental_append"},
                {"name": "owners", "syncMode": "full_refresh_overwrite"}]}}).json()
        yield emu, s3, fake, conn["connectionId"]
        emu.stop()


def _run(emu, cid, job_type="sync"):
    job = raw(emu, "POST", "/jobs", {"connectionId": cid, "jobType": job_type}).json()
    return emu.wait_for_job(job["jobId"], timeout_s=60)


def _keys(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", []))


def test_paths_state_and_overwrite_generations(env):
    emu, s3, fake, cid = env
    first = _run(emu, cid)
    assert first["status"] == "succeeded" and first["streams"] == {"contacts": 3, "owners": 2}
    key = first["files"]["contacts"][0]
    assert key.startswith("raw/777/hs_contacts/") and key.endswith("_0.parquet")
    date, epoch = key.split("/")[-1].split("_")[:3], key.split("_")[-2]
    assert len(date[0]) == 4 and epoch.isdigit() and len(epoch) == 13
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket="lake", Key=key)["Body"].read()))
    assert table.column_names == ["_airbyte_raw_id", "_airbyte_extracted_at",
                                  "_airbyte_generation_id", "_airbyte_meta", "id", "updatedAt"]
    assert fake.reads[0][1] is None  # first sync: no state

    second = _run(emu, cid)
    state_in = fake.reads[1][1]
    assert [m["stream"]["stream_descriptor"]["name"] for m in state_in] == ["contacts"]
    assert {c["stream"]["name"]: c["generation_id"] for c in fake.reads[1][0]["streams"]} == \
        {"contacts": 0, "owners": 1}
    # Overwrite: only the newest owners generation is left; appends accumulate.
    assert _keys(s3, "raw/777/hs_owners/") == second["files"]["owners"]
    assert len(_keys(s3, "raw/777/hs_contacts/")) == 2
    assert raw(emu, "GET", f"/jobs/{second['jobId']}").json()["rowsSynced"] == 5


def test_failed_sync_keeps_files_but_not_state(env):
    emu, s3, fake, cid = env
    _run(emu, cid)
    fake.fail = True
    failed = _run(emu, cid)
    assert failed["status"] == "failed" and "boom" in failed["error"]
    saved = raw(emu, "GET", "/jobs", params={"connectionId": cid}).json()["data"]
    assert [j["status"] for j in saved] == ["failed", "succeeded"]
    state = emu.store.connection_state[cid]["contacts"]
    assert state["stream"]["stream_state"] == {"updatedAt": 1}  # from the first sync only
    assert len(_keys(s3, "raw/777/hs_contacts/")) == 2  # at least once: the rows stay


def test_refresh_drops_state_and_clear_empties_the_prefix(env):
    emu, s3, fake, cid = env
    _run(emu, cid)
    assert _run(emu, cid, "refresh")["status"] == "succeeded"
    assert fake.reads[1][1] is None
    assert {c["stream"]["name"]: c["generation_id"] for c in fake.reads[1][0]["streams"]} == \
        {"contacts": 1, "owners": 1}
    cleared = _run(emu, cid, "clear")
    assert cleared["status"] == "succeeded" and cleared["rowsSynced"] == 0
    assert _keys(s3, "raw/777/") == [] and emu.store.connection_state[cid] == {}


def test_files_roll_over_at_rows_per_file(env):
    emu, s3, fake, cid = env
    emu.rows_per_file = 2
    done = _run(emu, cid)
    assert [k[-10:] for k in done["files"]["contacts"]] == ["_0.parquet", "_1.parquet"]
