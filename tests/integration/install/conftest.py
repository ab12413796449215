"""Fixtures for the install flow: one local stack (moto + sandbox + Chalice app) per module."""
from __future__ import annotations

import pytest

from tests.harness import local_stack


@pytest.fixture(scope="module")
def stack():
    yield from local_stack(accounts=3, seed=11)


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
