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
