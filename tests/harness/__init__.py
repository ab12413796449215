"""The test suites' one shared harness (area conftests only pick from it):

- here: `fake_sync`, `wait_for`, `run_cli`, `env_vars`, `moto_server`, `local_stack`, `s3_event`;
- `tests.harness.stack`: the local-stack harnesses (`ProvisioningHarness`, `LifecycleHarness`)
  and the module fixtures built on them (`harness`, `configured`, `hs`);
- `tests.harness.install_flow`: the install flow's steps over real HTTP;
- `tests.harness.sandbox_oauth`: the sandbox's consent page driven the way a browser would;
- `tests.harness.fault_proxy`: an HTTP proxy in front of the sandbox that injects faults.

Everything that starts a server lives behind a function or fixture here, so importing the
harness starts nothing (tests/unit may use `run_cli`, `env_vars`, `wait_for` and `s3_event`)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Iterator, Mapping


def fake_sync(ctx):
    """An Airbyte sync that writes nothing: syncs are the emulator's business
    (tests/integration/airbyte_emulator); suites that use this never wait on one."""
    from local_stack.airbyte_emulator.sync import SyncResult

    return SyncResult(rows_by_stream={s["name"]: 0 for s in ctx.connection["streams"]})


def s3_event(bucket: str, key: str) -> str:
    """The body S3 puts on SQS for an object-created notification (keys URL-encoded)."""
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                    "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": bucket},
                                           "object": {"key": key.replace(" ", "+"), "size": 1}}}]})


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1):
    """The predicate's first truthy value within `timeout` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def run_cli(*argv) -> tuple[int, str, str]:
    """python -m hubspot_app.ops in this process (same environment as the stack)."""
    from hubspot_app.ops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def env_vars(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `env` set; the keys it set are put back (or removed) on exit."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def moto_server(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1, with boto3 pointed at it through
    os.environ (region and test credentials, then `env`, then AWS_ENDPOINT_URL) until exit; yields
    its URL. moto keeps state per server: nothing reaches another module's stack."""
    from local_stack.stack import free_port, start_moto

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    try:
        with env_vars({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", **(env or {}), "AWS_ENDPOINT_URL": url}):
            yield url
    finally:
        server.stop()


def local_stack(**options):
    """A module fixture's body: `yield from local_stack(accounts=3, seed=11)` runs one
    LocalStack (moto, sandbox, Airbyte emulator, the Chalice app) with its tables bound, settings
    read afresh before and after."""
    from hubspot_app.config import get_settings, reset_settings
    from hubspot_app.models import bind_tables
    from local_stack.stack import LocalStack

    with LocalStack(**options) as running:
        settings = get_settings()
        bind_tables(settings.accounts_table, settings.states_table)
        reset_settings()
        yield running
        reset_settings()
