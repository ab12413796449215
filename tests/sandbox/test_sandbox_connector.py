"""The official Airbyte HubSpot connector (source-hubspot, own venv) against the sandbox."""
import pytest
import requests

from local_stack.connector import ensure_connector_venv, oauth_config, run_connector
from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from sandbox_helpers import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, install

pytestmark = pytest.mark.slow
SCOPES = ("oauth crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read "
          "tickets e-commerce crm.objects.owners.read crm.lists.read content forms automation "
          "crm.schemas.custom.read crm.objects.custom.read crm.objects.line_items.read")


@pytest.fixture(scope="module")
def conn():
    ensure_connector_venv()
    srv = SandboxServer(seed=11, accounts=2, records_per_object=30, rate_limits=False,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])]).start()
    hub = srv.state.accounts and list(srv.state.accounts)[0]
    tok = install(srv.url, hub, scope=SCOPES)
    yield srv, hub, oauth_config(CLIENT_ID, CLIENT_SECRET, tok["refresh_token"])
    srv.stop()


def _of(msgs, kind):
    return [m for m in msgs if m["type"] == kind]


def test_spec():
    ensure_connector_venv()
    spec = _of(list(run_connector("spec")), "SPEC")[0]["spec"]
    assert "credentials" in spec["connectionSpecification"]["properties"]


def test_check_succeeds_and_fails_after_uninstall(conn):
    srv, hub, cfg = conn
    status = _of(list(run_connector("check", cfg, sandbox_url=srv.url)), "CONNECTION_STATUS")
    assert status[0]["connectionStatus"]["status"] == "SUCCEEDED"
    bad = dict(cfg, credentials=dict(cfg["credentials"], refresh_token="not-a-token"))
    msgs = list(run_connector("check", bad, sandbox_url=srv.url, raise_on_error=False))
    failed = _of(msgs, "CONNECTION_STATUS")
    assert (failed and failed[0]["connectionStatus"]["status"] == "FAILED") or _of(msgs, "TRACE")
    assert requests.get(f"{srv.url}/_sandbox/unknown-paths").json()["unknown_paths"] == []
