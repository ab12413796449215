"""Fixtures: one local stack per module (moto, sandbox, Airbyte emulator, the Chalice app), the
provisioner fed by the lead's dispatcher exactly as Lambda's SQS event source would feed it."""
from __future__ import annotations

import json
import os
import time

import boto3
import pytest
import requests

from hubspot_app.config import get_settings, reset_settings
from hubspot_app.hubspot_oauth import TokenInfo
from hubspot_app.models import Account
from hubspot_app.runtime import services
from local_stack.airbyte_emulator.sync import SyncResult
from local_stack.dispatcher import SqsRoute
from local_stack.stack import LocalStack

# Quick retries so "Airbyte is down" plays out in seconds: delays 1, 2, 4 s, DLQ on receive 4.
FAST = {"PROVISION_RETRY_BASE_SECONDS": "1", "PROVISION_RETRY_MAX_SECONDS": "8",
        "PROVISION_MAX_RECEIVES": "4", "PROVISION_LEASE_SECONDS": "20",
        "AIRBYTE_TIMEOUT_SECONDS": "3"}


def fake_sync(ctx):
    """Syncs are the emulator's business (tests/integration/airbyte_emulator); these tests never wait on one."""
    return SyncResult(rows_by_stream={s["name"]: 0 for s in ctx.connection["streams"]})


class Harness:
    def __init__(self, stack: LocalStack, env: dict):
        self.stack, self.env = stack, env
        self.emu = stack.airbyte
        self.client = stack.chalice_client(**env)
        self.route = SqsRoute(self.client, env["PROVISION_QUEUE_NAME"], "provisioner")
        self.sqs = boto3.client("sqs")
        self.dlq_url = self.sqs.get_queue_url(QueueName=env["PROVISION_DLQ_NAME"])["QueueUrl"]

    @property
    def settings(self):
        return get_settings()

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

    def account(self, hub_id: int) -> Account:
        return Account.get(hub_id, consistent_read=True)

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
        os.environ.update(FAST)
        reset_settings()
        env = {**stack.env, **FAST}
        yield Harness(stack, env)
        # moto keeps its state per process, not per server: leave nothing for the next module.
        requests.post(f"{stack.aws_url}/moto-api/reset", timeout=10)
    for key in FAST:
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
    from contextlib import contextmanager

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


def run_cli(*argv) -> tuple[int, str, str]:
    """python -m hubspot_app.ops in this process (same environment as the stack)."""
    import contextlib
    import io

    from hubspot_app.ops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()
