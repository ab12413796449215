"""Harnesses over one local stack per module (moto, sandbox, Airbyte emulator, the Chalice app),
with the app's functions fed by the local dispatcher exactly as Lambda feeds them, and the
module fixtures built on them. An area's conftest imports the fixtures it uses:

    from tests.harness.stack import harness, configured  # noqa: F401 - pytest fixtures

- `harness` (ProvisioningHarness): accounts stored and queued directly, the provisioner fed by
  an SqsRoute, quick retries so "Airbyte is down" plays out in seconds (tests/integration/
  provisioning, tests/integration/messaging's CLI checks).
- `hs` (LifecycleHarness): every sandbox account installed through the real routes and
  provisioned; the token-health schedule fired by the dispatcher's Scheduler, the lifecycle
  worker fed by an SqsRoute, HubSpot reached through a FaultProxy so tests can make the token
  endpoint slow, rate-limited or failing (tests/integration/token_health, .../security).
"""
from __future__ import annotations

import json
import os
import time
import zlib
from contextlib import contextmanager

import boto3
import pytest
import requests

from hubspot_app import metrics
from hubspot_app.config import get_settings, reset_settings
from hubspot_app.hubspot_oauth import TokenInfo
from hubspot_app.models import Account
from hubspot_app.runtime import services
from local_stack.dispatcher import Scheduler, SqsRoute
from local_stack.stack import LOCAL_CLIENT_ID, LocalStack
from tests.harness import fake_sync
from tests.harness import install_flow as flow
from tests.harness.fault_proxy import FaultProxy


class StackHarness:
    """What every harness over a running LocalStack has: the stack, the environment the app's
    functions run with, the Airbyte emulator, the Chalice test client and SQS."""

    def __init__(self, stack: LocalStack, env: dict):
        self.stack, self.env = stack, env
        self.emu = stack.airbyte
        self.client = stack.chalice_client(**env)
        self.sqs = boto3.client("sqs")

    @property
    def settings(self):
        return get_settings()

    def account(self, hub_id: int) -> Account:
        return Account.get(hub_id, consistent_read=True)

    def queue(self, name_key: str) -> str:
        """The URL of the queue the stage setting `name_key` names."""
        return self.sqs.get_queue_url(QueueName=self.env[name_key])["QueueUrl"]

    def drain(self, url: str, **receive) -> list[dict]:
        """Receive and delete until the queue answers nothing; the messages received."""
        out: list[dict] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           **receive).get("Messages", [])
            if not got:
                return out
            out.extend(got)
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])


# ---- provisioning ----------------------------------------------------------------------------
# Quick retries so "Airbyte is down" plays out in seconds: delays 1, 2, 4 s, DLQ on receive 4.
PROVISIONING_FAST = {"PROVISION_RETRY_BASE_SECONDS": "1", "PROVISION_RETRY_MAX_SECONDS": "8",
                     "PROVISION_MAX_RECEIVES": "4", "PROVISION_LEASE_SECONDS": "20",
                     "AIRBYTE_TIMEOUT_SECONDS": "3"}


class ProvisioningHarness(StackHarness):
    def __init__(self, stack: LocalStack, env: dict):
        super().__init__(stack, env)
        self.route = SqsRoute(self.client, env["PROVISION_QUEUE_NAME"], "provisioner")
        self.dlq_url = self.queue("PROVISION_DLQ_NAME")

    # -- accounts -------------------------------------------------------------------------
    def install(self, hub_id: int, refresh_token: str | None = None, send: bool = True) -> Account:
        """What the OAuth callback does once HubSpot answered: store the account, queue it."""
        from hubspot_app.install import request_provisioning, upsert_account
        from hubspot_app.logs import register_secret
        from hubspot_app.token_crypto import encrypt_token

        token = refresh_token or f"refresh-{hub_id}-{time.time_ns()}"
        register_secret(token)
        info = TokenInfo(hub_id=hub_id, user=f"owner@hub{hub_id}.example", user_id=1,
                         hub_domain=f"hub{hub_id}.example", scopes=("oauth",))
        svc = services()
        account = upsert_account(info, encrypt_token(token, hub_id, self.settings.kms_key_id,
                                                     kms=svc.kms))
        if send:
            request_provisioning(svc, account, reason="install")
        return account

    def send(self, hub_id: int, **extra) -> None:
        from hubspot_app.messaging.queues import provision_message

        body = {**provision_message(hub_id, f"test:{hub_id}:{time.time_ns()}", "test"), **extra}
        self.sqs.send_message(QueueUrl=services().queue_url(self.settings.provisioning.queue_name),
                              MessageBody=json.dumps(body))

    def deliver(self, timeout: float = 300):
        return self.route.run_until_idle(timeout=timeout)

    # -- Airbyte (the emulator's own store is the ground truth) ---------------------------
    def live(self, kind: str, hub_id: int) -> list[dict]:
        table = getattr(self.emu.store, kind)
        name = f"hubspot-pipeline-local-hub-{hub_id}" + ("-to-s3" if kind == "connections" else "")
        with self.emu.store.lock:
            return [dict(r) for r in table.values() if r["name"] == name and not r["deleted"]]

    def fault(self, **spec) -> None:
        requests.post(f"{self.emu.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.emu.url}/_emulator/faults", timeout=5)

    def dlq_messages(self) -> list[dict]:
        from hubspot_app.ops.dlq import peek

        return peek(self.sqs, self.dlq_url)


@pytest.fixture(scope="module")
def harness():
    with LocalStack(accounts=2, seed=5, airbyte_options={"sync_runner": fake_sync}) as stack:
        os.environ.update(PROVISIONING_FAST)
        reset_settings()
        env = {**stack.env, **PROVISIONING_FAST}
        yield ProvisioningHarness(stack, env)
        # moto keeps its state per process, not per server: leave nothing for the next module.
        requests.post(f"{stack.aws_url}/moto-api/reset", timeout=10)
    for key in PROVISIONING_FAST:
        os.environ.pop(key, None)
    reset_settings()


@pytest.fixture(autouse=True)
def _clean_faults(request):
    yield
    if "harness" in request.fixturenames:
        request.getfixturevalue("harness").clear_faults()


@pytest.fixture
def configured(harness):
    """Run the provisioner with changed stage settings: `with configured(NAME=value): ...`."""
    @contextmanager
    def change(**env):
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        reset_settings()
        saved = harness.client, harness.route
        harness.client = harness.stack.chalice_client(**{**harness.env, **env})
        harness.route = SqsRoute(harness.client, harness.env["PROVISION_QUEUE_NAME"], "provisioner")
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            harness.client, harness.route = saved
            reset_settings()
    return change


# ---- the lifecycle: token health, the journal, offboarding ----------------------------------
LIFECYCLE_FAST = {"TOKEN_CONFIRM_DELAY_SECONDS": "0.1", "TOKEN_CHECK_MIN_INTERVAL_SECONDS": "0",
                  "TOKEN_HEALTH_RETRY_BASE_SECONDS": "1", "TOKEN_HEALTH_MAX_TRANSIENT_RETRIES": "1",
                  "TOKEN_REFRESH_PER_SECOND": "50", "HTTP_TIMEOUT_SECONDS": "2",
                  "PROVISION_RETRY_BASE_SECONDS": "1", "PROVISION_RETRY_MAX_SECONDS": "4",
                  "AIRBYTE_TIMEOUT_SECONDS": "3"}


class LifecycleHarness(StackHarness):
    def __init__(self, stack: LocalStack, proxy: FaultProxy):
        self.proxy = proxy
        env = {**stack.env, **LIFECYCLE_FAST, "HUBSPOT_API_URL": proxy.url}
        os.environ.update(env)
        self.reset()
        super().__init__(stack, env)
        self.provision_route = SqsRoute(self.client, self.env["PROVISION_QUEUE_NAME"], "provisioner")
        self.health_route = SqsRoute(self.client, self.env["LIFECYCLE_QUEUE_NAME"],
                                     "lifecycle_worker", batch_size=4)
        self.schedule = Scheduler(self.client, "token_health_schedule")
        self.journal_schedule = Scheduler(self.client, "journal_poller")
        self.inbox = self.queue("ALERTS_INBOX_QUEUE_NAME")
        self.metric_lines: list[str] = []
        metrics.set_sink(self.metric_lines.append)

    @staticmethod
    def reset():
        from hubspot_app.runtime import forget_services

        reset_settings()
        forget_services()

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
        # Purged, not drained: an earlier suite's in-flight or delayed messages are invisible
        # to a receive and would turn up in this suite's deliveries (SQS's PurgeQueue deletes
        # them all; moto's too, outside its strict mode).
        for queue in ("LIFECYCLE_QUEUE_NAME", "LIFECYCLE_DLQ_NAME", "PROVISION_QUEUE_NAME",
                      "ALERTS_INBOX_QUEUE_NAME"):
            self.sqs.purge_queue(QueueUrl=self.queue(queue))

    # -- the functions ------------------------------------------------------------------
    def run_health(self, force: bool = True, timeout: float = 60):
        self.schedule.fire({"force": force})
        return self.health_route.run_until_idle(timeout=timeout)

    def alerts(self) -> list[dict]:
        return [json.loads(m["Body"]) for m in self.drain(self.inbox, WaitTimeSeconds=0)]

    def metric_values(self, name: str) -> list[dict]:
        rows = [json.loads(line) for line in self.metric_lines]
        return [r for r in rows if name in r]


@pytest.fixture(scope="module")
def hs(request):
    # A seed per module: other hub_ids in every module, since moto keeps state per process.
    # Named as before the unit/integration split, so each module keeps the accounts it had.
    seed = zlib.crc32(request.module.__name__.removeprefix("integration.").encode()) % 10_000
    with LocalStack(accounts=4, seed=seed, airbyte_options={"sync_runner": fake_sync}) as stack:
        from local_stack.health_step import subscribe_lifecycle

        proxy = FaultProxy(stack.hubspot_url).start()
        harness = LifecycleHarness(stack, proxy)
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
    for key in LIFECYCLE_FAST:
        os.environ.pop(key, None)
    LifecycleHarness.reset()


@pytest.fixture(autouse=True)
def _clean(request):
    yield
    if "hs" in request.fixturenames:
        request.getfixturevalue("hs").proxy.clear()
