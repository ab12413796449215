"""`python -m local_stack up`: one command serves the stack; a browser install flows on to
provisioning because the queues are delivered to their functions in the background."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from local_stack.browser import install_account

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_up_serves_the_stack_and_provisions_a_browser_install():
    proc = subprocess.Popen([sys.executable, "-m", "local_stack", "up", "--free-ports",
                             "--accounts", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        urls = {}
        while "App" not in urls:
            line = proc.stdout.readline()
            assert line, "up exited before serving"
            match = re.match(r"(AWS \(moto\)|HubSpot sandbox|Airbyte API|App):\s+(\S+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        app_url = urls["App"].removesuffix("/install")
        page = install_account(app_url)
        assert page.status_code == 200 and "HubSpot connected" in page.text
        hub_id = re.search(r'data-hub-id="(\d+)"', page.text).group(1)
        table = boto3.resource(
            "dynamodb", endpoint_url=urls["AWS (moto)"], region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x").Table(
            "hubspot-pipeline-local-accounts")
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and status != "active":
            status = table.get_item(Key={"hub_id": int(hub_id)}).get("Item", {}).get("status")
            time.sleep(0.5)
        assert status == "active"  # provisioned by the background dispatcher, nobody else
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)  # a dispatcher mid-delivery finishes its batch first
    assert proc.returncode == 0
