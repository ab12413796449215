"""A cancelled sync stops its connector at once, not at the connector's next message (the
provisioner now starts a real sync per new account; a stack shutting down must not wait on it)."""
from __future__ import annotations

import signal
import threading

import pytest

from local_stack.connector.runner import ConnectorError, run_connector


def _silent_connector(tmp_path):
    """A stand-in executable that prints one message, then says nothing for a minute."""
    exe = tmp_path / "bin" / "source-hubspot"
    exe.parent.mkdir()
    exe.write_text('#!/bin/sh\necho \'{"type": "LOG", "log": {"message": "starting"}}\'\n'
                   'exec sleep 60\n')
    exe.chmod(0o755)
    return tmp_path


def test_cancel_terminates_a_connector_that_prints_nothing(tmp_path):
    cancel = threading.Event()
    messages = run_connector("read", venv=_silent_connector(tmp_path), cancel=cancel)
    assert next(messages)["type"] == "LOG"
    cancel.set()
    with pytest.raises(ConnectorError) as stopped:
        list(messages)
    # Terminated (SIGTERM), not a 60 s sleep that ran out and exited 0.
    assert stopped.value.returncode == -signal.SIGTERM


def test_without_cancel_the_connector_runs_to_its_end(tmp_path):
    exe = tmp_path / "bin" / "source-hubspot"
    exe.parent.mkdir()
    exe.write_text('#!/bin/sh\necho \'{"type": "LOG", "log": {"message": "done"}}\'\n')
    exe.chmod(0o755)
    assert [m["log"]["message"] for m in run_connector("read", venv=tmp_path)] == ["done"]
