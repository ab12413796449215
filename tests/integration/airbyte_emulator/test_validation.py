"""Airbyte's error answers: status codes and problem JSON for bad requests."""
import uuid

import pytest

from .conftest import HUBSPOT_CONFIG, S3_CONFIG, raw

PROBLEM_KEYS = {"status", "type", "title", "detail"}


def _problem(res, status, title):
    assert res.status_code == status, res.text
    body = res.json()
    assert PROBLEM_KEYS <= body.keys() and body["status"] == status and body["title"] == title
    return body


def _source(emu, **over):
    body = {"name": "hub", "workspaceId": emu.default_workspace_id, "configuration": HUBSPOT_CONFIG}
    return raw(emu, "POST", "/sources", {**body, **over})


def _pair(emu):
    src = _source(emu).json()["sourceId"]
    dst = raw(emu, "POST", "/destinations", {"name": "lake", "workspaceId": emu.default_workspace_id,
                                              "configuration": S3_CONFIG}).json()["destinationId"]
    return src, dst


def test_missing_or_bad_token_is_401(emu):
    _problem(raw(emu, "GET", "/sources", token=None), 401, "invalid-api-key")
    _problem(raw(emu, "GET", "/sources", token="nope"), 401, "invalid-api-key")


def test_source_body_errors(emu):
    _problem(raw(emu, "POST", "/sources", {"name": "x"}), 400, "bad-request")
    _problem(_source(emu, workspaceId="not-a-uuid"), 400, "bad-request")
    body = _problem(_source(emu, configuration={**HUBSPOT_CONFIG, "sourceType": "salesforce"}),
                    400, "value-not-found")
    assert body["data"] == {"value": "salesforce"}
    no_type = {k: v for k, v in HUBSPOT_CONFIG.items() if k != "sourceType"}
    _problem(_source(emu, configuration=no_type), 422, "unprocessable-entity")
    missing = {**HUBSPOT_CONFIG, "credentials": {"credentials_title": "OAuth Credentials",
                                                 "client_id": "a", "client_secret": "b"}}
    body = _problem(_source(emu, configuration=missing), 422, "unprocessable-entity")
    assert "required property 'refresh_token' not found" in body["data"]["message"]
    bad_date = {**HUBSPOT_CONFIG, "start_date": "2024-01-01"}
    assert "start_date" in _problem(_source(emu, configuration=bad_date), 422,
                                    "unprocessable-entity")["data"]["message"]
    body = _problem(_source(emu, workspaceId=str(uuid.uuid4())), 404, "resource-not-found")
    assert body["data"]["resourceType"] == "workspace"
    assert emu.state()["totals"]["sources"] == 0


def test_destination_config_errors(emu):
    cfg = {**S3_CONFIG, "format": {"format_type": "ORC"}}
    res = raw(emu, "POST", "/destinations", {"name": "d", "workspaceId": emu.default_workspace_id,
                                             "configuration": cfg})
    _problem(res, 422, "unprocessable-entity")


@pytest.mark.parametrize("path", ["/sources/", "/destinations/", "/connections/", "/workspaces/"])
def test_unknown_ids_are_404(emu, path):
    rid = str(uuid.uuid4())
    body = _problem(raw(emu, "GET", path + rid), 404, "resource-not-found")
    assert body["data"]["resourceId"] == rid
    _problem(raw(emu, "DELETE", path + rid), 404, "resource-not-found")
    _problem(raw(emu, "GET", "/jobs/999"), 404, "resource-not-found")


def test_connection_errors(emu):
    src, dst = _pair(emu)
    base = {"sourceId": src, "destinationId": dst}
    body = _problem(raw(emu, "POST", "/connections", {**base, "sourceId": str(uuid.uuid4())}),
                    404, "resource-not-found")
    assert body["data"]["resourceType"] == "source"
    body = _problem(raw(emu, "POST", "/connections", {
        **base, "configurations": {"streams": [{"name": "nope"}]}}), 400, "bad-request")
    assert "No streams found with name [nope]" in body["data"]["message"]
    body = _problem(raw(emu, "POST", "/connections", {**base, "configurations": {"streams": [
        {"name": "marketing_emails", "syncMode": "incremental_append"}]}}), 400, "bad-request")
    assert "Cannot set sync mode to incremental_append" in body["data"]["message"]
    _problem(raw(emu, "POST", "/connections", {**base, "configurations": {"streams": [
        {"name": "contacts"}, {"name": "contacts"}]}}), 400, "bad-request")
    _problem(raw(emu, "POST", "/connections", {**base, "namespaceDefinition": "customformat"}),
             400, "bad-request")
    for cron in ("0 * * * *", "* 0 * * * ?", "0 0 * * * * ?"):
        _problem(raw(emu, "POST", "/connections", {**base, "schedule": {
            "scheduleType": "cron", "cronExpression": cron}}), 400, "bad-request")
    _problem(raw(emu, "POST", "/connections", {**base, "schedule": {"scheduleType": "cron"}}),
             400, "bad-request")
    ok = raw(emu, "POST", "/connections", {**base, "schedule": {
        "scheduleType": "cron", "cronExpression": "0 15 2 * * ? UTC"}})
    assert ok.status_code == 200 and ok.json()["schedule"]["cronExpression"] == "0 15 2 * * ? UTC"
    assert emu.state()["totals"]["connections"] == 1


def test_job_errors(emu):
    src, dst = _pair(emu)
    cid = raw(emu, "POST", "/connections", {"sourceId": src, "destinationId": dst}).json()["connectionId"]
    _problem(raw(emu, "POST", "/jobs", {"connectionId": cid, "jobType": "backfill"}), 400, "bad-request")
    _problem(raw(emu, "POST", "/jobs", {"connectionId": str(uuid.uuid4()), "jobType": "sync"}),
             404, "resource-not-found")
    emu.fake.release.clear()
    job = raw(emu, "POST", "/jobs", {"connectionId": cid, "jobType": "sync"}).json()
    body = _problem(raw(emu, "POST", "/jobs", {"connectionId": cid, "jobType": "sync"}),
                    409, "try-again-later")
    assert body["data"]["message"] == f"A sync is already running for: {cid}"
    emu.fake.release.set()
    emu.wait_for_job(job["jobId"])
    _problem(raw(emu, "DELETE", f"/jobs/{job['jobId']}"), 409, "state-conflict")
    raw(emu, "DELETE", f"/connections/{cid}")
    _problem(raw(emu, "POST", "/jobs", {"connectionId": cid, "jobType": "sync"}), 409, "state-conflict")


def test_self_managed_path_prefix_works_too(emu):
    import requests

    res = requests.get(f"{emu.url}/api/public/v1/workspaces",
                       headers={"Authorization": f"Bearer {emu.api_token}"}, timeout=10)
    assert res.status_code == 200 and len(res.json()["data"]) == 1


def test_stream_properties(emu):
    src, dst = _pair(emu)
    # Airbyte names sync modes only for a destination (emulator: api_connections.py).
    bare = raw(emu, "GET", "/streams", params={"sourceId": src}).json()
    assert bare and all("syncModes" not in p for p in bare)
    props = {p["streamName"]: p for p in raw(emu, "GET", "/streams", params={
        "sourceId": src, "destinationId": dst}).json()}
    assert props["contacts"]["syncModes"][-1] == "incremental_append"
    assert "incremental_append" not in props["marketing_emails"]["syncModes"]
    _problem(raw(emu, "GET", "/streams"), 400, "bad-request")


# -- workspace OAuth override (issue 10 §3) ----------------------------------------------------
def _oauth_put(emu, body, wid=None):
    return raw(emu, "PUT", f"/workspaces/{wid or emu.default_workspace_id}/oauthCredentials", body)


def test_workspace_oauth_override_decides_which_app_a_sync_uses(emu):
    from local_stack.airbyte_emulator.server import AIRBYTE_OWN_HUBSPOT_APP

    seen = []
    fake = emu.fake
    emu.jobs.runner = lambda ctx: (seen.append(ctx.source["configuration"]["credentials"]),
                                   fake(ctx))[1]
    src, dst = _pair(emu)
    conn = raw(emu, "POST", "/connections", {"sourceId": src, "destinationId": dst}).json()

    def sync():
        job = raw(emu, "POST", "/jobs", {"connectionId": conn["connectionId"], "jobType": "sync"})
        assert emu.wait_for_job(job.json()["jobId"])["status"] == "succeeded"

    # Without an override, Airbyte's own app is injected (the account's token will be refused).
    sync()
    assert seen[-1]["client_id"] == AIRBYTE_OWN_HUBSPOT_APP["client_id"]
    assert seen[-1]["refresh_token"] == "refresh-123"
    r = _oauth_put(emu, {"actorType": "source", "name": "hubspot", "configuration": {
        "credentials": {"client_id": "app-client-id", "client_secret": "app-client-secret"}}})
    assert r.status_code == 200 and r.content == b""
    sync()
    assert seen[-1]["client_id"] == "app-client-id"
    assert seen[-1]["client_secret"] == "app-client-secret"
    # Private-app credentials do not match the advanced_auth predicate: nothing is injected.
    assert emu.source_as_run({"workspaceId": emu.default_workspace_id, "type": "hubspot",
                              "configuration": {"credentials": {
                                  "credentials_title": "Private App Credentials",
                                  "access_token": "t"}}})["configuration"]["credentials"] == {
        "credentials_title": "Private App Credentials", "access_token": "t"}


def test_workspace_oauth_override_refusals(emu):
    ok = {"credentials": {"client_id": "a", "client_secret": "b"}}
    _problem(_oauth_put(emu, {"actorType": "sourc", "name": "hubspot", "configuration": ok}),
             400, "bad-request")
    _problem(_oauth_put(emu, {"actorType": "source", "name": "salesforce", "configuration": ok}),
             400, "bad-request")
    _problem(_oauth_put(emu, {"actorType": "source", "name": "hubspot",
                              "configuration": {"client_id": "a"}}), 400, "bad-request")
    _problem(_oauth_put(emu, {"actorType": "source", "name": "hubspot",
                              "configuration": {**ok, "extra": "x"}}), 400, "bad-request")
    _problem(_oauth_put(emu, {"actorType": "source", "name": "hubspot", "configuration": ok},
                        wid=str(uuid.uuid4())), 404, "resource-not-found")
    assert emu.store.oauth_params == {}


def test_oauth_source_reads_mask_the_client_id(emu):
    src = _source(emu).json()
    assert src["configuration"]["credentials"]["client_id"] == "**********"
    assert emu.store.sources[src["sourceId"]]["configuration"]["credentials"][
        "client_id"] == "app-client-id"                                    # kept, only masked


# ---- what Airbyte refuses on the connectors' own specs (tests/contracts/airbyte/) and on the
# discovered catalog (airbyte-server AirbyteCatalogHelper; streams the connector does not
# discover for the granted scopes: tests/integration/airbyte_emulator/test_discovery.py)
def _destination(emu, cfg):
    return raw(emu, "POST", "/destinations", {"name": "d", "workspaceId": emu.default_workspace_id,
                                              "configuration": cfg})


def test_destination_without_bucket_region_is_refused(emu):
    cfg = {k: v for k, v in S3_CONFIG.items() if k != "s3_bucket_region"}
    body = _problem(_destination(emu, cfg), 422, "unprocessable-entity")
    assert "$: required property 's3_bucket_region' not found" in body["data"]["message"]
    assert emu.state()["totals"]["destinations"] == 0


@pytest.mark.parametrize("fmt, missing", [({"format_type": "CSV"}, "flattening"),
                                          ({"format_type": "Avro"}, "compression_codec")])
def test_format_settings_the_destination_spec_requires(emu, fmt, missing):
    body = _problem(_destination(emu, {**S3_CONFIG, "format": fmt}), 422, "unprocessable-entity")
    assert f"$.format: required property '{missing}' not found" in body["data"]["message"]
    ok = _destination(emu, {**S3_CONFIG, "format": {**fmt, missing: (
        "No flattening" if missing == "flattening" else {"codec": "no compression"})}})
    assert ok.status_code == 200, ok.text


def test_a_cursor_field_on_a_source_defined_cursor_is_refused(emu):
    src, dst = _pair(emu)
    base = {"sourceId": src, "destinationId": dst}
    body = _problem(raw(emu, "POST", "/connections", {**base, "configurations": {"streams": [
        {"name": "contacts", "syncMode": "incremental_append", "cursorField": ["createdAt"]}]}}),
        400, "bad-request")
    assert body["data"]["message"] == (
        "Cursor Field [createdAt] is already defined by source for stream: contacts. "
        "Do not include a cursor field configuration for this stream.")
    same = raw(emu, "POST", "/connections", {**base, "configurations": {"streams": [
        {"name": "contacts", "syncMode": "incremental_append", "cursorField": ["updatedAt"]}]}})
    assert same.status_code == 200, same.text  # the source's own cursor may be repeated
