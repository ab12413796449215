"""The security suite runs against the same local stack as the token-health suite: moto, the
HubSpot sandbox (behind a fault proxy), the Airbyte emulator and the Chalice app, with every
sandbox account installed and provisioned (`hs`, tests/harness/stack.py)."""
from tests.harness.stack import _clean, hs  # noqa: F401 - pytest fixtures
