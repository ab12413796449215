"""A real sync: sandbox account -> official HubSpot connector -> emulator -> Parquet in moto S3."""
import io

import boto3
import pyarrow.parquet as pq
import pytest
from airbyte_api import api, models

from local_stack.airbyte_emulator import AirbyteEmulator
from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer

from .conftest import actor_response

pytestmark = pytest.mark.slow
CLIENT_ID, CLIENT_SECRET = "e2e-client", "e2e-secret"
# The connector (5.7.0) crashes in discover when a stream's properties scope is missing
# ("'DefaultStream' object has no attribute 'properties_scopes'"), so grant all it asks for.
SCOPES = ("oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read "
          "tickets e-commerce crm.objects.owners.read crm.lists.read content forms automation "
          "crm.schemas.custom.read crm.objects.custom.read crm.objects.line_items.read "
          "crm.schemas.contacts.read crm.schemas.companies.read crm.schemas.deals.read").split()
AIRBYTE_COLUMNS = ["_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_generation_id",
                   "_airbyte_meta"]


@pytest.fixture(scope="module")
def stack():
    from local_stack.stack import free_port, start_moto

    moto = start_moto(free_port())
    host, port = moto.get_host_and_port()
    s3_url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="lake")
    sandbox = SandboxServer(seed=5, accounts=1, records_per_object=12, rate_limits=False,
                            apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET,
                                                ["http://127.0.0.1:9/cb"])]).start()
    hub_id = next(iter(sandbox.state.accounts))
    sandbox.state.install(hub_id, CLIENT_ID, SCOPES)
    refresh = sandbox.state.issue_tokens(hub_id, CLIENT_ID, SCOPES)["refresh_token"]
    # Own application credentials: the SDK caches access tokens per (client_id, secret) across
    # client instances and servers, so another test's emulator must not share them.
    emu = AirbyteEmulator(s3_endpoint_url=s3_url, hubspot_sandbox_url=sandbox.url,
                          client_id="e2e-airbyte-app", client_secret="e2e-airbyte-secret").start()
    # Our app as the workspace's OAuth override, as the provisioner sets it (without it the
    # emulator injects "Airbyte's own" app and the sandbox refuses the refresh).
    import requests
    requests.put(f"{emu.api_url}/workspaces/{emu.default_workspace_id}/oauthCredentials",
                 headers={"Authorization": f"Bearer {emu.api_token}"}, timeout=10, json={
                     "actorType": "source", "name": "hubspot", "configuration": {
                         "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}}
                 ).raise_for_status()
    yield emu, s3, hub_id, refresh
    emu.stop()
    sandbox.stop()
    moto.stop()


def _objects(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", []))


def test_sync_writes_airbyte_parquet_and_keeps_incremental_state(stack):
    emu, s3, hub_id, refresh = stack
    # The client trades application credentials for a short-lived token, as against Airbyte.
    sdk = __import__("airbyte_api").AirbyteAPI(
        server_url=emu.api_url, security=models.Security(client_credentials=models.SchemeClientCredentials(
            client_id=emu.client_id, client_secret=emu.client_secret)),
        # A connection create runs the real connector's discover (seconds on a busy machine).
        timeout_ms=180_000)
    src, _ = actor_response(lambda: sdk.sources.create_source(request=models.SourceCreateRequest(
        name=f"hubspot-{hub_id}", workspace_id=emu.default_workspace_id,
        configuration=models.SourceHubspot(credentials=models.SourceHubspotOAuth(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=refresh),
            start_date="2020-01-01T00:00:00Z"))), "source")
    dst, _ = actor_response(lambda: sdk.destinations.create_destination(
        request=models.DestinationCreateRequest(
            name="lake", workspace_id=emu.default_workspace_id, configuration=models.DestinationS3(
                s3_bucket_name="lake", s3_bucket_path="raw",
                format_=models.DestinationS3ParquetColumnarStorage()))), "destination")
    conn = sdk.connections.create_connection(request=models.ConnectionCreateRequest(
        source_id=src.source_id, destination_id=dst.destination_id, name=f"hubspot-{hub_id}",
        namespace_definition=models.NamespaceDefinitionEnum.CUSTOM_FORMAT, namespace_format=str(hub_id),
        configurations=models.StreamConfigurations(streams=[
            models.StreamConfiguration(name="contacts",
                                       sync_mode=models.ConnectionSyncModeEnum.INCREMENTAL_APPEND),
            models.StreamConfiguration(name="owners",
                                       sync_mode=models.ConnectionSyncModeEnum.FULL_REFRESH_OVERWRITE),
        ]))).connection_response

    job = sdk.jobs.create_job(request=models.JobCreateRequest(
        connection_id=conn.connection_id, job_type=models.JobTypeEnum.SYNC)).job_response
    detail = emu.wait_for_job(job.job_id, timeout_s=600)
    assert detail["status"] == "succeeded", detail["error"]
    got = sdk.jobs.get_job(request=api.GetJobRequest(job_id=job.job_id)).job_response
    assert got.rows_synced == sum(detail["streams"].values()) and got.rows_synced > 0
    assert detail["streams"]["contacts"] == 12

    files = emu.job_detail(job.job_id)["files"]
    contacts_key = files["contacts"][0]
    assert contacts_key.startswith(f"raw/{hub_id}/contacts/")
    assert contacts_key.rsplit("/", 1)[1].count("_") == 4 and contacts_key.endswith("_0.parquet")
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket="lake", Key=contacts_key)["Body"].read()))
    assert table.column_names[:4] == AIRBYTE_COLUMNS
    assert table.num_rows == 12 and "id" in table.column_names
    assert table.schema.field("_airbyte_meta").type.get_field_index("sync_id") == 0
    assert set(table.column("_airbyte_meta").combine_chunks().field("sync_id").to_pylist()) == {job.job_id}

    # Second sync: contacts resume from state (nothing new), owners are overwritten (one
    # generation left under its prefix).
    owners_before = _objects(s3, f"raw/{hub_id}/owners/")
    job2 = sdk.jobs.create_job(request=models.JobCreateRequest(
        connection_id=conn.connection_id, job_type=models.JobTypeEnum.SYNC)).job_response
    detail2 = emu.wait_for_job(job2.job_id, timeout_s=600)
    assert detail2["status"] == "succeeded", detail2["error"]
    assert detail2["streams"]["contacts"] < 12
    owners_after = _objects(s3, f"raw/{hub_id}/owners/")
    assert owners_after == detail2["files"]["owners"] and not set(owners_before) & set(owners_after)
    assert emu.state()["jobs_by_status"] == {"succeeded": 2}
