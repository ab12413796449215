"""One local stack per module (moto, sandbox, Airbyte emulator, the Chalice app), the
provisioner fed by the dispatcher exactly as Lambda's SQS event source would feed it: the
`harness` and `configured` fixtures of tests/harness/stack.py."""
from tests.harness.stack import _clean_faults, configured, harness  # noqa: F401 - pytest fixtures
