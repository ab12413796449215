"""The HubSpot sandbox alone on a free port (tests/harness/sandbox_oauth.py drives its consent
page as a browser would)."""
import pytest

from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer
from tests.harness.sandbox_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (runs in CI too)")


@pytest.fixture(scope="module")
def sandbox():
    srv = SandboxServer(host="127.0.0.1", port=0, seed=7, accounts=3,
                        apps=[RegisteredApp(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])],
                        records_per_object=50)
    srv.start()
    yield srv
    srv.stop()
