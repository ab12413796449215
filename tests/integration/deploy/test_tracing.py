"""Lazy X-Ray patching (hubspot_app/tracing.py): nothing loads at import, and the first call
through botocore or requests still becomes a subsegment, the trace header sent on with it."""
from __future__ import annotations

import json
import subprocess
import sys

from deploy.lambda_imports import probe_env

_SCRIPT = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import app  # configure_tracing() runs here, as in Lambda's init
out = {"sdk_at_import": "aws_xray_sdk" in sys.modules}
import boto3
from botocore.stub import Stubber
out["sdk_after_boto3_import"] = "aws_xray_sdk" in sys.modules
from aws_xray_sdk.core import xray_recorder
xray_recorder.configure(sampling=False, streaming_threshold=1_000_000)
seen = []
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        seen.append(self.headers.get("X-Amzn-Trace-Id"))
        self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
server = HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
segment = xray_recorder.begin_segment("lazy-test")
sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
with Stubber(sqs) as stub:
    stub.add_response("get_queue_url", {"QueueUrl": "https://sqs.example/q"})
    sqs.get_queue_url(QueueName="q")  # the first traced call: the SDK loads and patches here
import requests  # imported after the SDK loaded: patched on import
requests.get(f"http://127.0.0.1:{server.server_port}/x", timeout=5)
from hubspot_app.tracing import current_trace_header, subsegment
with subsegment("step", hub_id=7):
    out["header"] = current_trace_header()
xray_recorder.end_segment()
out["subsegments"] = [s.name for s in segment.subsegments]
out["step_hub_id"] = [s.annotations.get("hub_id") for s in segment.subsegments if s.name == "step"]
out["trace_id"] = segment.trace_id
out["sent_header"] = seen
print("@@" + json.dumps(out))
"""


def _run(**env) -> dict:
    res = subprocess.run([sys.executable, "-c", _SCRIPT], env={**probe_env("dev"), **env},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.split("@@")[-1])


def test_sdk_loads_at_the_first_traced_call_and_traces_botocore_and_requests():
    out = _run()
    assert out["sdk_at_import"] is False and out["sdk_after_boto3_import"] is False
    assert out["subsegments"] == ["sqs", "127.0.0.1", "step"], out
    assert out["step_hub_id"] == [7]
    assert out["header"].startswith(f"Root={out['trace_id']};Parent=")
    # requests carried the trace on (what HubSpot/Airbyte calls get)
    assert out["sent_header"][0] and f"Root={out['trace_id']}" in out["sent_header"][0]


def test_sdk_disabled_patches_nothing_but_spans_still_work():
    out = _run(AWS_XRAY_SDK_ENABLED="false")
    assert out["sdk_at_import"] is False
    # global SDK off: no segment is recorded at all, no header goes out, nothing raises
    assert out["subsegments"] == [] and out["header"] is None
