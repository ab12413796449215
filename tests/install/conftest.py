"""Fixtures for the install flow: one local stack (moto + sandbox + Chalice app) per module."""
from __future__ import annotations

import logging

import pytest

from hubspot_app.config import get_settings
from hubspot_app.logs import JsonFormatter
from hubspot_app.models import Account, OAuthState, bind_tables
from local_stack.stack import LocalStack


class CapturedLogs(logging.Handler):
    """Every log record of the process, formatted exactly as it would reach CloudWatch."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def stack():
    with LocalStack(accounts=3, seed=11) as running:
        settings = get_settings()
        bind_tables(settings.accounts_table, settings.states_table)
        yield running


@pytest.fixture
def captured_logs():
    handler = CapturedLogs()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def sandbox_accounts(stack):
    import requests

    body = requests.get(f"{stack.hubspot_url}/_sandbox/accounts", timeout=10).json()
    return body.get("accounts", body) if isinstance(body, dict) else body


@pytest.fixture
def app_client(stack):
    """chalice.test.Client running the app's handlers in this process on the stack."""
    from hubspot_app.config import reset_settings

    from contextlib import contextmanager

    @contextmanager
    def make(**overrides):
        reset_settings()
        try:
            yield stack.chalice_client(**overrides)
        finally:
            reset_settings()
    return make
