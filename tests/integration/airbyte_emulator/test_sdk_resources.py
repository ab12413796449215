"""The official SDK against the emulator: every call must pass its strict response parsing."""
import pytest
from airbyte_api import api, errors, models

from .conftest import actor_response, hubspot_source, raw, s3_destination


def _create_source(sdk, emu, name="hub-1", refresh_token="refresh-123"):
    req = models.SourceCreateRequest(name=name, workspace_id=emu.default_workspace_id,
                                     configuration=hubspot_source(refresh_token=refresh_token))
    return actor_response(lambda: sdk.sources.create_source(request=req), "source")[0]


def _create_destination(sdk, emu, name="lake"):
    req = models.DestinationCreateRequest(name=name, workspace_id=emu.default_workspace_id,
                                          configuration=s3_destination())
    return actor_response(lambda: sdk.destinations.create_destination(request=req), "destination")[0]


def _create_connection(sdk, src, dst, hub_id="12345", **kw):
    req = models.ConnectionCreateRequest(
        source_id=src.source_id, destination_id=dst.destination_id, name=f"hubspot-{hub_id}",
        namespace_definition=models.NamespaceDefinitionEnum.CUSTOM_FORMAT, namespace_format=hub_id,
        configurations=models.StreamConfigurations(streams=[
            models.StreamConfiguration(name="contacts",
                                       sync_mode=models.ConnectionSyncModeEnum.INCREMENTAL_APPEND),
            models.StreamConfiguration(name="owners",
                                       sync_mode=models.ConnectionSyncModeEnum.FULL_REFRESH_OVERWRITE),
        ]),
        schedule=models.AirbyteAPIConnectionSchedule(
            schedule_type=models.ScheduleTypeEnum.CRON, cron_expression="0 0 */6 * * ?"),
        non_breaking_schema_updates_behavior=models.NonBreakingSchemaUpdatesBehaviorEnum.PROPAGATE_COLUMNS,
        **kw)
    return sdk.connections.create_connection(request=req).connection_response


def test_workspaces_crud(sdk, emu):
    created = sdk.workspaces.create_workspace(
        request=models.WorkspaceCreateRequest(name="per-account")).workspace_response
    assert created.name == "per-account" and created.data_residency == "auto"
    got = sdk.workspaces.get_workspace(request=api.GetWorkspaceRequest(
        workspace_id=created.workspace_id)).workspace_response
    assert got.workspace_id == created.workspace_id
    upd = sdk.workspaces.update_workspace(request=api.UpdateWorkspaceRequest(
        workspace_id=created.workspace_id,
        workspace_update_request=models.WorkspaceUpdateRequest(name="renamed"))).workspace_response
    assert upd.name == "renamed"
    listed = sdk.workspaces.list_workspaces(request=api.ListWorkspacesRequest()).workspaces_response
    assert {w.workspace_id for w in listed.data} == {emu.default_workspace_id, created.workspace_id}
    sdk.workspaces.delete_workspace(request=api.DeleteWorkspaceRequest(
        workspace_id=created.workspace_id))
    with pytest.raises(errors.SDKError) as exc:
        sdk.workspaces.get_workspace(request=api.GetWorkspaceRequest(workspace_id=created.workspace_id))
    assert exc.value.status_code == 404


def test_sdk_cannot_parse_hubspot_source_responses_as_with_airbyte(sdk, emu):
    # Documents the SDK 1.0.1 bug the provisioner must work around: the create succeeds on the
    # server, yet the SDK raises (a naive retry would create a second source).
    with pytest.raises(errors.ResponseValidationError, match="discriminator"):
        sdk.sources.create_source(request=models.SourceCreateRequest(
            name="hub-x", workspace_id=emu.default_workspace_id, configuration=hubspot_source()))
    assert emu.state()["sources"]["live"] == {"hub-x": 1}


def test_source_crud_masks_secrets_and_patch_keeps_them(sdk, emu):
    src = _create_source(sdk, emu)
    assert src.source_type == "hubspot"
    assert src.definition_id == "36c891d9-4bd9-43ac-bad2-10e12756272c"
    creds = src.configuration["credentials"]
    assert "sourceType" not in src.configuration  # Airbyte strips it before storing
    # Masked as well: the connector's advanced_auth injects it (OAuthConfigSupplier).
    assert creds["client_id"] == "**********"
    assert creds["client_secret"] == "**********" and creds["refresh_token"] == "**********"

    # PATCH a new refresh token; masked values sent back keep what is stored.
    patched, _ = actor_response(lambda: sdk.sources.patch_source(request=api.PatchSourceRequest(
        source_id=src.source_id, source_patch_request=models.SourcePatchRequest(
            name="hub-1b", configuration=hubspot_source(refresh_token="refresh-456")))), "source")
    assert patched.name == "hub-1b"
    stored = emu.store.sources[src.source_id]["configuration"]
    assert stored["credentials"]["refresh_token"] == "refresh-456"
    # A partial configuration (the SDK's models cannot express one, so plain HTTP).
    res = raw(emu, "PATCH", f"/sources/{src.source_id}", {"configuration": {
        "credentials": {"refresh_token": "**********"}, "start_date": "2023-01-01T00:00:00Z"}})
    assert res.status_code == 200
    stored = emu.store.sources[src.source_id]["configuration"]
    assert stored["credentials"]["refresh_token"] == "refresh-456"
    assert stored["start_date"] == "2023-01-01T00:00:00Z"

    got, _ = actor_response(lambda: sdk.sources.get_source(
        request=api.GetSourceRequest(source_id=src.source_id)), "source")
    assert got.name == "hub-1b" and got.workspace_id == emu.default_workspace_id

    sdk.sources.delete_source(request=api.DeleteSourceRequest(source_id=src.source_id))
    with pytest.raises(errors.SDKError) as exc:
        sdk.sources.get_source(request=api.GetSourceRequest(source_id=src.source_id))
    assert exc.value.status_code == 404
    listed, _ = actor_response(lambda: sdk.sources.list_sources(
        request=api.ListSourcesRequest()), "source")
    assert listed == []
    deleted, _ = actor_response(lambda: sdk.sources.list_sources(
        request=api.ListSourcesRequest(include_deleted=True)), "source")
    assert [s.source_id for s in deleted] == [src.source_id]


def test_source_list_paging_and_workspace_filter(sdk, emu):
    other = sdk.workspaces.create_workspace(
        request=models.WorkspaceCreateRequest(name="other")).workspace_response
    ids = [_create_source(sdk, emu, name=f"hub-{i}").source_id for i in range(5)]
    emu_other = models.SourceCreateRequest(name="elsewhere", workspace_id=other.workspace_id,
                                           configuration=hubspot_source())
    actor_response(lambda: sdk.sources.create_source(request=emu_other), "source")
    seen, offset = [], 0
    while True:
        page, body = actor_response(lambda offset=offset: sdk.sources.list_sources(
            request=api.ListSourcesRequest(workspace_ids=[emu.default_workspace_id], limit=2,
                                           offset=offset)), "source")
        if not page:
            assert body["next"] == ""
            break
        assert body["next"].endswith(f"limit=2&offset={offset + 2}")
        seen += [s.source_id for s in page]
        offset += 2
    assert seen == ids
    everything, _ = actor_response(lambda: sdk.sources.list_sources(
        request=api.ListSourcesRequest(limit=100)), "source")
    assert len(everything) == 6


def test_destination_crud(sdk, emu):
    dst = _create_destination(sdk, emu)
    assert dst.destination_type == "s3"
    assert dst.definition_id == "4816b78f-1489-44c1-9060-4b19d5fa9362"
    assert dst.configuration["s3_bucket_name"] == "lake"
    patched, _ = actor_response(lambda: raw(emu, "PATCH", f"/destinations/{dst.destination_id}",
                                            {"configuration": {"s3_bucket_path": "raw2"}}),
                                "destination")
    assert patched.configuration["s3_bucket_path"] == "raw2"
    assert patched.configuration["format"]["format_type"] == "Parquet"
    listed, _ = actor_response(lambda: sdk.destinations.list_destinations(
        request=api.ListDestinationsRequest()), "destination")
    assert [d.destination_id for d in listed] == [dst.destination_id]
    sdk.destinations.delete_destination(request=api.DeleteDestinationRequest(
        destination_id=dst.destination_id))
    listed, _ = actor_response(lambda: sdk.destinations.list_destinations(
        request=api.ListDestinationsRequest()), "destination")
    assert listed == []


def test_connection_crud(sdk, emu):
    src, dst = _create_source(sdk, emu), _create_destination(sdk, emu)
    conn = _create_connection(sdk, src, dst)
    assert conn.name == "hubspot-12345" and conn.workspace_id == emu.default_workspace_id
    assert conn.namespace_definition == models.NamespaceDefinitionEnum.CUSTOM_FORMAT
    assert conn.namespace_format == "12345" and conn.prefix == ""
    assert conn.status == models.ConnectionStatusEnum.ACTIVE
    assert conn.schedule.schedule_type == models.ScheduleTypeWithBasicEnum.CRON
    assert conn.schedule.cron_expression == "0 0 */6 * * ? UTC"  # Airbyte appends the zone
    streams = {s.name: s for s in conn.configurations.streams}
    assert streams["contacts"].sync_mode == models.ConnectionSyncModeEnum.INCREMENTAL_APPEND
    assert streams["contacts"].cursor_field == ["updatedAt"]
    assert streams["contacts"].primary_key == [["id"]]

    patched = sdk.connections.patch_connection(request=api.PatchConnectionRequest(
        connection_id=conn.connection_id, connection_patch_request=models.ConnectionPatchRequest(
            status=models.ConnectionStatusEnum.INACTIVE,
            schedule=models.AirbyteAPIConnectionSchedule(
                schedule_type=models.ScheduleTypeEnum.MANUAL)))).connection_response
    assert patched.status == models.ConnectionStatusEnum.INACTIVE
    assert patched.schedule.schedule_type == models.ScheduleTypeWithBasicEnum.MANUAL
    assert len(patched.configurations.streams) == 2  # untouched by the patch

    listed = sdk.connections.list_connections(request=api.ListConnectionsRequest(
        workspace_ids=[emu.default_workspace_id])).connections_response
    assert [c.connection_id for c in listed.data] == [conn.connection_id]

    sdk.connections.delete_connection(request=api.DeleteConnectionRequest(
        connection_id=conn.connection_id))
    # Airbyte keeps deleted connections readable, with status "deprecated".
    got = sdk.connections.get_connection(request=api.GetConnectionRequest(
        connection_id=conn.connection_id)).connection_response
    assert got.status == models.ConnectionStatusEnum.DEPRECATED
    assert sdk.connections.list_connections(
        request=api.ListConnectionsRequest()).connections_response.data == []


def test_connection_without_streams_selects_all_full_refresh(sdk, emu):
    src, dst = _create_source(sdk, emu), _create_destination(sdk, emu)
    conn = sdk.connections.create_connection(request=models.ConnectionCreateRequest(
        source_id=src.source_id, destination_id=dst.destination_id)).connection_response
    assert conn.name == "hub-1 → lake"
    assert conn.namespace_definition == models.NamespaceDefinitionEnum.DESTINATION
    assert conn.schedule.schedule_type == models.ScheduleTypeWithBasicEnum.MANUAL
    assert len(conn.configurations.streams) == len(emu.catalog)
    assert {s.sync_mode for s in conn.configurations.streams} == {
        models.ConnectionSyncModeEnum.FULL_REFRESH_OVERWRITE}


def test_deleting_a_source_deletes_its_connections(sdk, emu):
    src, dst = _create_source(sdk, emu), _create_destination(sdk, emu)
    conn = _create_connection(sdk, src, dst)
    sdk.sources.delete_source(request=api.DeleteSourceRequest(source_id=src.source_id))
    got = sdk.connections.get_connection(request=api.GetConnectionRequest(
        connection_id=conn.connection_id)).connection_response
    assert got.status == models.ConnectionStatusEnum.DEPRECATED


def test_jobs_lifecycle(sdk, emu):
    conn = _create_connection(sdk, _create_source(sdk, emu), _create_destination(sdk, emu))
    emu.fake.release.clear()  # keep the job running until the 409 is seen
    job = sdk.jobs.create_job(request=models.JobCreateRequest(
        connection_id=conn.connection_id, job_type=models.JobTypeEnum.SYNC)).job_response
    assert job.status in (models.JobStatusEnum.PENDING, models.JobStatusEnum.RUNNING)
    assert job.connection_id == conn.connection_id and job.job_type == models.JobTypeEnum.SYNC
    with pytest.raises(errors.SDKError) as exc:  # one sync at a time per connection
        sdk.jobs.create_job(request=models.JobCreateRequest(
            connection_id=conn.connection_id, job_type=models.JobTypeEnum.SYNC))
    assert exc.value.status_code == 409
    emu.fake.release.set()
    emu.wait_for_job(job.job_id)
    done = sdk.jobs.get_job(request=api.GetJobRequest(job_id=job.job_id)).job_response
    assert done.status == models.JobStatusEnum.SUCCEEDED
    assert done.rows_synced == 2 and done.bytes_synced == 10
    assert done.last_updated_at and done.duration.startswith("PT")

    emu.fake.release.clear()
    second = sdk.jobs.create_job(request=models.JobCreateRequest(
        connection_id=conn.connection_id, job_type=models.JobTypeEnum.SYNC)).job_response
    cancelled = sdk.jobs.cancel_job(request=api.CancelJobRequest(job_id=second.job_id)).job_response
    assert cancelled.job_id == second.job_id
    assert emu.wait_for_job(second.job_id)["status"] == "cancelled"

    listed = sdk.jobs.list_jobs(request=api.ListJobsRequest(
        connection_id=conn.connection_id)).jobs_response
    assert [j.job_id for j in listed.data] == [second.job_id, job.job_id]  # newest first
    only_ok = sdk.jobs.list_jobs(request=api.ListJobsRequest(
        workspace_ids=[emu.default_workspace_id],
        status=models.JobStatusEnum.SUCCEEDED)).jobs_response
    assert [j.job_id for j in only_ok.data] == [job.job_id]
