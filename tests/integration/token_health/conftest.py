"""One local stack per module with every sandbox account installed through the real routes and
provisioned; the token-health functions run as Lambda would run them, HubSpot behind a
FaultProxy: the `hs` fixture of tests/harness/stack.py."""
from tests.harness.stack import _clean, hs  # noqa: F401 - pytest fixtures
