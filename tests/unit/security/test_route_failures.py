"""Every route answers the project's own page or JSON error when something fails inside it, never
Chalice's generic 500, and Chalice's own logger writes the project's redacted JSON lines."""
from __future__ import annotations

import json
import logging

import pytest
from chalice.test import Client

import app as chalice_app


@pytest.fixture
def client(monkeypatch):
    for name, value in {"HUBSPOT_REDIRECT_URI": "https://h.example/oauth/callback",
                        "APP_SECRET_NAME": "s", "ACCOUNTS_TABLE": "a", "STATES_TABLE": "b",
                        "KMS_KEY_ID": "k", "PROVISION_QUEUE_NAME": "q",
                        # the lifecycle section's required names (hubspot_app.config)
                        "LIFECYCLE_QUEUE_NAME": "t", "UNINSTALL_AUDIT_TABLE": "u",
                        "WEBHOOK_RECEIPTS_TABLE": "w"}.items():
        monkeypatch.setenv(name, value)
    with Client(chalice_app.app) as c:
        yield c


@pytest.mark.parametrize("path,module,function", [
    ("/install", "hubspot_app.handlers.install", "install_link"),
    ("/oauth/callback?code=c&state=s", "hubspot_app.handlers.install", "oauth_callback"),
])
def test_a_failing_page_route_answers_the_project_page(client, monkeypatch, captured_logs,
                                                        path, module, function):
    import importlib

    def boom(*args, **kwargs):
        raise RuntimeError("DynamoDB said no; refresh_token=abcdefgh12345")

    monkeypatch.setattr(importlib.import_module(module), function, boom)
    answer = client.http.get(path)
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Something went wrong on our side" in answer.body
    assert b"InternalServerError" not in answer.body and b"DynamoDB" not in answer.body
    chalice_lines = [json.loads(line) for line in captured_logs.lines
                     if '"logger": "hubspot-pipeline"' in line]
    assert chalice_lines and chalice_lines[-1]["level"] == "ERROR"
    assert "RuntimeError" in chalice_lines[-1]["error"]
    assert "abcdefgh12345" not in "\n".join(captured_logs.lines)


def test_a_failing_webhook_answers_json(client, monkeypatch):
    import hubspot_app.handlers.webhooks as webhooks

    monkeypatch.setattr(webhooks, "webhook_response", lambda *a, **k: 1 / 0)
    answer = client.http.post("/webhooks/hubspot", body=b"[]",
                              headers={"Content-Type": "application/json"})
    assert answer.status_code == 503
    assert json.loads(answer.body) == {"error": "try_again_later"}


def test_chalice_logger_has_no_plain_text_handler():
    log = logging.getLogger("hubspot-pipeline")
    assert log.propagate and not log.handlers
