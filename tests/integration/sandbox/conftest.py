import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:      # tests may run without `python -m pytest` from the root
    sys.path.insert(0, str(ROOT))

from sandbox_helpers import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI  # noqa: E402 - after the sys.path set-up above

from local_stack.hubspot_sandbox import RegisteredApp, SandboxServer  # noqa: E402 - after the sys.path set-up above


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
