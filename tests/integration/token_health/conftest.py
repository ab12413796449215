"""One local stack per module (moto, sandbox, Airbyte emulator, the Chalice app), with every
sandbox account installed through the real routes and provisioned through the provisioner.

The token-health functions run as Lambda would run them: the schedule fired by the dispatcher's
Scheduler, the worker fed by an SqsRoute. HubSpot is reached through a FaultProxy so tests can
make the token endpoint slow, rate-limited or failing."""
from __future__ import annotations

import json
import os
import time
import zlib

import boto3
import pytest
import requests

from hubspot_app import metrics
from hubspot_app.config import get_settings, reset_settings
from hubspot_app.models import Account
from local_stack.airbyte_emulator.sync import SyncResult
from local_stack.dispatcher import Scheduler, SqsRoute
from local_stack.health_step import subscribe_lifecycle
from local_stack.stack import LOCAL_CLIENT_ID, LocalStack
from tests.integration.install import flow_helpers as flow
from tests.integration.token_health.fault_proxy import FaultProxy

FAST = {"TOKEN_CONFIRM_DELAY_SECONDS": "0.1", "TOKEN_CHECK_MIN_INTERVAL_SECONDS": "0",
        "TOKEN_HEALTH_RETRY_BASE_SECONDS": "1", "TOKEN_HEALTH_MAX_TRANSIENT_RETRIES": "1",
        "TOKEN_REFRESH_PER_SECOND": "50", "HTTP_TIMEOUT_SECONDS": "2",
        "PROVISION_RETRY_BASE_SECONDS": "1", "PROVISION_RETRY_MAX_SECONDS": "4",
        "AIRBYTE_TIMEOUT_SECONDS": "3"}


def fake_sync(ctx):
    return SyncResult(rows_by_stream={s["name"]: 0 for s in ctx.connection["streams"]})


class Harness:
    def __init__(self, stack: LocalStack, proxy: FaultProxy):
        self.stack, self.proxy = stack, proxy
        self.emu = stack.airbyte
        self.env = {**stack.env, **FAST, "HUBSPOT_API_URL": proxy.url}
        os.environ.update(self.env)
        self.reset()
        self.client = stack.chalice_client(**self.env)
        self.provision_route = SqsRoute(self.client, self.env["PROVISION_QUEUE_NAME"], "provisioner")
        self.health_route = SqsRoute(self.client, self.env["LIFECYCLE_QUEUE_NAME"],
                                     "lifecycle_worker", batch_size=4)
        self.schedule = Scheduler(self.client, "token_health_schedule")
        self.journal_schedule = Scheduler(self.client, "journal_poller")
        self.sqs = boto3.client("sqs")
        self.inbox = self.sqs.get_queue_url(QueueName=self.env["ALERTS_INBOX_QUEUE_NAME"])["QueueUrl"]
        self.metric_lines: list[str] = []
        metrics.set_sink(self.metric_lines.append)

    @staticmethod
    def reset():
        from hubspot_app.runtime import forget_services

        reset_settings()
        forget_services()

    @property
    def settings(self):
        return get_settings()

    @property
    def health(self):
        return get_settings().lifecycle

    # -- accounts -----------------------------------------------------------------------
    def hub_ids(self) -> list[int]:
        body = requests.get(f"{self.stack.hubspot_url}/_sandbox/accounts", timeout=10).json()
        return sorted(a["hub_id"] for a in body["accounts"])

    def install(self, hub_id: int) -> None:
        browser = requests.Session()
        authorize = flow.begin(self.stack.app_url, browser)
        callback = flow.consent(authorize, browser, hub_id=hub_id)
        answer = flow.finish(callback, browser)
        assert answer.status_code == 200, answer.text

    def provision(self) -> None:
        self.provision_route.run_until_idle(timeout=60)

    def account(self, hub_id: int) -> Account:
        return Account.get(hub_id, consistent_read=True)

    def connection(self, hub_id: int) -> dict | None:
        cid = self.account(hub_id).airbyte_connection_id
        if not cid:
            return None
        with self.emu.store.lock:
            return dict(self.emu.store.connections[cid])

    def uninstall_at_hubspot(self, hub_id: int) -> None:
        """Revoked at HubSpot with no journal entry for us: the health check's case."""
        requests.post(f"{self.stack.hubspot_url}/_sandbox/accounts/{hub_id}/uninstall",
                      json={"journal": False}, timeout=10).raise_for_status()

    def uninstall_in_hubspot(self, hub_id: int) -> dict:
        """A user uninstalls the app in HubSpot: an APP_UNINSTALL entry in our journal."""
        answer = requests.post(f"{self.stack.hubspot_url}/_sandbox/accounts/{hub_id}/uninstall",
                               json={}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def poll_journal(self) -> dict:
        """The scheduled journal poller, fired as EventBridge would, then the queue it feeds."""
        summary = self.journal_schedule.fire({})
        self.health_route.run_until_idle(timeout=60)
        return summary

    def forget_other_suites(self) -> None:
        """moto keeps its state per process: drop accounts and messages earlier suites left."""
        from hubspot_app.lifecycle.journal import JournalPosition

        for position in JournalPosition.scan():     # another sandbox's journal offsets
            position.delete()
        mine = set(self.hub_ids())
        for account in Account.scan():
            if account.hub_id not in mine:
                account.delete()
        for queue in ("LIFECYCLE_QUEUE_NAME", "LIFECYCLE_DLQ_NAME", "PROVISION_QUEUE_NAME",
                      "ALERTS_INBOX_QUEUE_NAME"):
            url = self.sqs.get_queue_url(QueueName=self.env[queue])["QueueUrl"]
            while True:
                got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=0).get("Messages", [])
                if not got:
                    break
                self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])

    # -- the functions ------------------------------------------------------------------
    def run_health(self, force: bool = True, timeout: float = 60):
        self.schedule.fire({"force": force})
        return self.health_route.run_until_idle(timeout=timeout)

    def alerts(self) -> list[dict]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=m["ReceiptHandle"])

    def metric_values(self, name: str) -> list[dict]:
        rows = [json.loads(line) for line in self.metric_lines]
        return [r for r in rows if name in r]


@pytest.fixture(scope="module")
def hs(request):
    # A seed per module: other hub_ids in every module, since moto keeps state per process.
    seed = zlib.crc32(request.module.__name__.encode()) % 10_000
    with LocalStack(accounts=4, seed=seed, airbyte_options={"sync_runner": fake_sync}) as stack:
        proxy = FaultProxy(stack.hubspot_url).start()
        harness = Harness(stack, proxy)
        harness.forget_other_suites()
        subscribe_lifecycle(stack.hubspot_url, LOCAL_CLIENT_ID, stack.client_secret)
        for hub_id in harness.hub_ids():
            harness.install(hub_id)
        harness.provision()
        harness.alerts()
        try:
            yield harness
        finally:
            metrics.set_sink(None)
            proxy.stop()
    for key in FAST:
        os.environ.pop(key, None)
    Harness.reset()


@pytest.fixture(autouse=True)
def _clean(request):
    yield
    if "hs" in request.fixturenames:
        request.getfixturevalue("hs").proxy.clear()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
