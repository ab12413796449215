"""The local stack's Chalice test client, invoked from several threads at once as the local
stack's concurrent consumers do (local_stack/lambda_client.py)."""
from __future__ import annotations

import os
import threading

from chalice import Chalice
from chalice.config import Config

from hubspot_app.messaging.retry import queue_policy
from local_stack.lambda_client import ThreadSafeClient

CALLERS = 4


def _app_and_barrier():
    app, barrier = Chalice(app_name="envcheck"), threading.Barrier(CALLERS, timeout=10)

    @app.lambda_function(name="reader")
    def reader(event, context):
        barrier.wait()  # every call is inside its environment at once
        seen = os.environ.get("FUNCTION_SETTING")
        barrier.wait()
        return {"seen": seen, "policy_base": queue_policy("lifecycle").base_seconds}

    return app


def test_overlapping_calls_keep_the_process_environment(monkeypatch):
    monkeypatch.delenv("FUNCTION_SETTING", raising=False)
    monkeypatch.delenv("TOKEN_HEALTH_RETRY_BASE_SECONDS", raising=False)
    process_environ = os.environ
    client = ThreadSafeClient(_app_and_barrier())
    client._chalice_config_obj = Config.create(chalice_stage="dev", environment_variables={
        "FUNCTION_SETTING": "from-config", "TOKEN_HEALTH_RETRY_BASE_SECONDS": "3"})
    answers: list = []

    def call():
        answers.append(client.lambda_.invoke("reader", {}).payload)

    threads = [threading.Thread(target=call) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    # Each call saw its function's variables, the retry policy included...
    assert answers == [{"seen": "from-config", "policy_base": 3}] * CALLERS
    # ...and afterwards the process has its own environment back, without them.
    assert os.environ is process_environ
    assert "FUNCTION_SETTING" not in os.environ
    assert "TOKEN_HEALTH_RETRY_BASE_SECONDS" not in os.environ


def test_a_retry_policy_reads_the_environment_of_the_call(monkeypatch):
    """Not the mapping `os.environ` was when the module was imported."""
    monkeypatch.setattr(os, "environ", {"TOKEN_HEALTH_RETRY_BASE_SECONDS": "7"})
    assert queue_policy("lifecycle").base_seconds == 7
