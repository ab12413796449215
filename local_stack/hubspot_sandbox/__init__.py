"""HubSpot sandbox: an emulator of HubSpot's OAuth, CRM and marketing APIs for the local stack.

    from local_stack.hubspot_sandbox import SandboxServer, RegisteredApp
    srv = SandboxServer(port=0, seed=7, accounts=3,
                        apps=[RegisteredApp("id", "secret", ["http://127.0.0.1:8000/oauth/callback"])])
    srv.start(); srv.url; srv.stop()
"""
from .server import SandboxServer, create_app
from .state import RegisteredApp

__all__ = ["SandboxServer", "RegisteredApp", "create_app"]
