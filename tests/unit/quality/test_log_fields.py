"""Every line a function logs carries its invocation's Lambda fields (request id, cold start,
X-Ray trace id), under Powertools' names, in every thread; lines outside an invocation do not."""
import json
import logging
import threading
from types import SimpleNamespace

from hubspot_app import logs

log = logging.getLogger("test.fields")
TRACE = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"


def _lines(captured_logs):
    return [json.loads(line) for line in captured_logs.lines if '"test.fields"' in line]


def test_lines_carry_the_invocation_fields_in_every_thread(captured_logs, monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    monkeypatch.setattr(logs, "_cold_start", True)
    context = SimpleNamespace(aws_request_id="req-1", function_name="hubspot-pipeline-dev-provisioner")
    with logs.invocation(context):
        log.info("in the handler")
        worker = threading.Thread(target=log.info, args=("in a worker thread",))
        worker.start()
        worker.join()
    with logs.invocation(SimpleNamespace(aws_request_id="req-2")):
        log.info("second invocation")
    log.info("outside")
    first, thread, second, outside = _lines(captured_logs)
    for line in (first, thread):
        assert line["function_request_id"] == "req-1" and line["cold_start"] is True
        assert line["function_name"] == "hubspot-pipeline-dev-provisioner"
        assert line["xray_trace_id"] == "1-67891233-abcdef012345678912345678"
    assert second["function_request_id"] == "req-2" and second["cold_start"] is False
    assert "function_request_id" not in outside and "cold_start" not in outside


def test_the_app_sets_them_for_routes(captured_logs, monkeypatch):
    """Through Chalice's own invocation path (the app's `all` middleware)."""
    from chalice.test import Client

    import app as chalice_app

    seen = []
    monkeypatch.setattr(chalice_app, "_page", lambda page: seen.append(dict(logs._invocation)) or
                        chalice_app.Response(body="ok", status_code=200))
    monkeypatch.setattr("hubspot_app.data_page.facts", lambda *a, **k: {})
    monkeypatch.setattr("hubspot_app.data_page.data_page", lambda facts: None)
    with Client(chalice_app.app) as client:
        assert client.http.get("/data").status_code == 200
    assert seen and seen[0].get("function_request_id") and "cold_start" in seen[0]
