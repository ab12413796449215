"""Fixtures every suite can use."""
from __future__ import annotations

import logging

import pytest

from hubspot_app.logs import JsonFormatter

# Every AWS call a function makes is judged against its deployed IAM policy (deploy/iam_check.py).
pytest_plugins = ("deploy.iam_pytest",)


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


# ---- vendor contracts: every call a stand-in served during a test is judged against the
# vendored OpenAPI documents (local_stack/contract_check.py); a violation fails that test.
def pytest_configure(config):
    import os
    import tempfile

    from local_stack import contract_check

    # One file per pytest process (each xdist worker too): stand-ins that tests start in child
    # processes append their violations to it; this process keeps its own in memory.
    fd, path = tempfile.mkstemp(prefix="contract-violations-", suffix=".jsonl")
    os.close(fd)
    os.environ[contract_check.LOG_ENV] = path
    os.environ[contract_check.OWNER_ENV] = str(os.getpid())


def _contract_failure(when: str):
    from local_stack.contract_check import RECORDER

    found = RECORDER.drain()
    if found:
        lines = "\n".join(f"  - {v}" for v in found[:20])
        more = f"\n  … and {len(found) - 20} more" if len(found) > 20 else ""
        return AssertionError(f"vendor contract violated {when} ({len(found)}; fix the stand-in or "
                              f"the product, or record a reviewed exception in "
                              f"tests/contracts/allowlist.yaml):\n{lines}{more}")
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        result = yield
    finally:
        failure = _contract_failure("by this test")
    if failure is not None:
        raise failure
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    failure = _contract_failure("during this test's teardown")
    if failure is not None:
        raise failure
    return result
