"""Fixtures for the install flow: one local stack (moto + sandbox + Chalice app) per module."""
from __future__ import annotations

import pytest

from tests.harness import fake_sync, local_stack


@pytest.fixture(scope="module")
def stack():
    # Provisioning here runs the connector's real discover (the connection's catalog), but the
    # first sync it starts is faked: no install test reads synced data, and real syncs in the
    # background (a connector discover + read per account) only took CPU from the tests.
    yield from local_stack(accounts=3, seed=11, airbyte_options={
        "sync_runner": fake_sync, "discovery": "connector"})


@pytest.fixture
def sandbox_accounts(stack):
    import requests

    body = requests.get(f"{stack.hubspot_url}/_sandbox/accounts", timeout=10).json()
    return body.get("accounts", body) if isinstance(body, dict) else body


@pytest.fixture
def app_client(stack):
    """chalice.test.Client running the app's handlers in this process on the stack."""
    from contextlib import contextmanager

    from hubspot_app.config import reset_settings

    @contextmanager
    def make(**overrides):
        reset_settings()
        try:
            yield stack.chalice_client(**overrides)
        finally:
            reset_settings()
    return make
