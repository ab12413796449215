"""The official Airbyte HubSpot connector, run against the sandbox.

    from local_stack.connector import ensure_connector_venv, run_connector, oauth_config
    ensure_connector_venv()
    for msg in run_connector("check", oauth_config(cid, secret, refresh), sandbox_url=srv.url): ...
"""
from .runner import ConnectorError, oauth_config, run_connector
from .venv import VENV, connector_executable, ensure_connector_venv

__all__ = ["ensure_connector_venv", "run_connector", "oauth_config", "ConnectorError",
           "connector_executable", "VENV"]
