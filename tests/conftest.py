"""Fixtures every suite can use."""
from __future__ import annotations

import logging
import os

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


def reset_process_caches() -> None:
    """Forget what the app keeps per container (settings, and the Services with its clients,
    secrets, shared Airbyte ids, queue URLs): in the test process one "container" serves many
    stacks one after another."""
    from hubspot_app import config, runtime

    config.reset_settings()
    runtime.forget_services()


@pytest.fixture(scope="module", autouse=True)
def _isolated_module():
    """Every test module starts from the same process state. pytest-xdist (--dist loadfile)
    runs any modules one after another in a worker, in an order that changes with timing, so
    what one module leaves behind (environment variables, caches) must not reach the next."""
    import os

    saved = dict(os.environ)
    reset_process_caches()
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_process_caches()


_PROCESS_ENVIRON = os.environ  # the object whose writes reach subprocesses and every module


@pytest.fixture(autouse=True)
def _environ_kept():
    """A test must leave `os.environ` the process's own mapping: chalice.test.Client swaps it
    during a call, and two overlapping calls leave a plain dict behind (local_stack/
    lambda_client.py), after which later writes miss subprocesses and earlier references."""
    yield
    if os.environ is not _PROCESS_ENVIRON:
        os.environ = _PROCESS_ENVIRON  # noqa: B003 - the session gets the real one back
        pytest.fail("os.environ was left swapped for a copy: call chalice.test.Client from one "
                    "thread at a time, or use local_stack.lambda_client.ThreadSafeClient")


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
    # The files are handed to the workers in the order pytest_collection_modifyitems leaves
    # (below, HEAVY_FIRST), not re-sorted by their number of tests.
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False


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


# ---- scheduling: with `-n 2 --dist loadfile` each file runs whole on one worker, so a run ends
# when its last long file does. The files that take minutes (from a full run's --durations,
# docs/team-notes.md) are handed out first, longest first; the rest follow in collection order
# and fill in around them. pytest-xdist would otherwise reorder files by their number of tests,
# which sends one-test files such as the main job's last. Only the order changes, never what
# runs. Keep the list to files that exist (tests/unit/quality/test_heavy_first.py).
HEAVY_FIRST = (
    "tests/integration/local_stack/test_main_job.py",
    "tests/integration/glue/test_curate.py",
    "tests/integration/provisioning/test_ambiguous_creates.py",
    "tests/integration/glue/test_iceberg.py",
    "tests/integration/glue/test_upsert.py",
    "tests/integration/glue/test_maintenance.py",
    "tests/integration/airbyte_emulator/test_sync_e2e.py",
    "tests/integration/associations/test_labels_on_sandbox.py",
    "tests/integration/sandbox/test_sandbox_connector.py",
    "tests/integration/airbyte_emulator/test_discovery.py",
    "tests/integration/provisioning/test_retries_dlq.py",
    "tests/integration/install/test_install_safety.py",
    "tests/integration/glue/test_bookkeeping.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable
