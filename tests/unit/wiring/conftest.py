"""The local stage's settings, as a function would read them, with the container's Services
forgotten before and after (shared by the wiring tests)."""
import pytest

from deploy import infra
from hubspot_app import config, runtime


@pytest.fixture
def stage(monkeypatch):
    for name, value in infra.stage_env("local").items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    runtime.forget_services()
    yield config.get_settings()
    monkeypatch.undo()
    config.reset_settings()
    runtime.forget_services()


@pytest.fixture
def settings(stage):
    """The same, under the name the adapter tests read best with."""
    return stage
