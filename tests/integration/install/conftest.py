"""Fixtures for the install flow: one local stack (moto + sandbox + Chalice app) per module."""
from __future__ import annotations

import pytest

from hubspot_app.config import get_settings
from hubspot_app.models import bind_tables
from local_stack.stack import LocalStack


@pytest.fixture(scope="module")
def stack():
    with LocalStack(accounts=3, seed=11) as running:
        settings = get_settings()
        bind_tables(settings.accounts_table, settings.states_table)
        yield running


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
