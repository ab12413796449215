"""The local stack: moto (AWS), the HubSpot sandbox and the Chalice app on one machine.

Everything runs in this process on 127.0.0.1: moto's threaded server, the sandbox's werkzeug
server and Chalice's own local dev server. The app reads the same environment variables as in
Lambda, taken from the stage's `.chalice/config.json`, with only the local endpoints replaced
by the ports actually used.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLIENT_ID = "local-hubspot-app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int = 0):
    """A moto server on 127.0.0.1 holding nothing yet. moto keeps its state per process, not
    per server, so it is reset: a server never sees what an earlier one in this process (a
    test module, say) left behind. Returns the server (`.stop()`, `.get_host_and_port()`)."""
    import requests
    from moto.server import ThreadedMotoServer

    _serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    requests.post(f"http://{host}:{bound}/moto-api/reset", timeout=10).raise_for_status()
    return server


_DYNAMODB_LOCK = threading.RLock()


def _serialize_dynamodb_writes() -> None:
    """DynamoDB applies each write atomically (an `ADD` never loses an increment, a condition is
    checked against the item as it is written); moto's backend takes no lock, so concurrent
    requests on its threaded server can interleave read-modify-write. One lock for the writes
    makes the stand-in as strict as the real service. Idempotent."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_writes_serialized", False):
        return
    def serialized(method):
        def locked(self, *args, **kwargs):
            with _DYNAMODB_LOCK:
                return method(self, *args, **kwargs)
        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, serialized(getattr(DynamoDBBackend, name)))
    DynamoDBBackend._writes_serialized = True


def stage_environment(stage: str = "local") -> dict[str, str]:
    """The environment variables Chalice gives the functions of `stage`."""
    from hubspot_app.config import stage_environment as chalice_stage_environment

    return chalice_stage_environment(stage, json.loads((ROOT / ".chalice" / "config.json").read_text()))


@dataclass
class Ports:
    aws: int = 5100
    hubspot: int = 5101
    airbyte: int = 5102
    app: int = 8000

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class LocalStack:
    ports: Ports = field(default_factory=Ports.free)
    accounts: int = 3
    seed: int = 7
    records_per_object: int = 50
    stage: str = "local"
    access_log: bool = False
    env: dict = field(default_factory=dict)
    # stage variables changed for this stack, e.g. {"AIRBYTE_STREAMS": "contacts,deals"}
    overrides: dict = field(default_factory=dict)
    # AirbyteEmulator keyword arguments, e.g. {"rate_limit_per_s": 20, "sync_runner": fake}
    airbyte_options: dict = field(default_factory=dict)
    # e.g. "/api": the app is served under that path, as API Gateway serves a stage
    # (local_stack/stage_front.py); app_url and the redirect URI then include it.
    path_prefix: str = ""

    def __post_init__(self):
        self._servers: list = []
        self.client_secret = secrets.token_urlsafe(24)  # made per run: no secret in the repo
        self.sandbox = None

    # -- URLs ---------------------------------------------------------------------------
    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.aws}"

    @property
    def hubspot_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.hubspot}"

    @property
    def airbyte_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.airbyte}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.app}{self.path_prefix}"

    def _environment(self) -> dict[str, str]:
        env = stage_environment(self.stage)
        env.update({
            "AWS_ENDPOINT_URL": self.aws_url,
            "HUBSPOT_AUTHORIZE_URL": f"{self.hubspot_url}/oauth/authorize",
            "HUBSPOT_API_URL": self.hubspot_url,
            "HUBSPOT_REDIRECT_URI": f"{self.app_url}/oauth/callback",
            "AIRBYTE_API_URL": f"{self.airbyte_url}/v1",
        })
        env.update(self.overrides)
        return env

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalStack:
        self.env = self._environment()
        # Put back on stop: a later test in the same process must not reach a stopped moto.
        self._saved_environ = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        from hubspot_app.config import get_settings, reset_settings
        from hubspot_app.models import bind_tables
        from hubspot_app.runtime import forget_services
        reset_settings()
        bind_tables(get_settings().accounts_table, get_settings().states_table, reconnect=True)
        forget_services()  # its clients, secrets and queue URLs were another stack's
        self._start_moto()
        from . import resources
        self.resources = resources.create_all(self.env, LOCAL_CLIENT_ID, self.client_secret)
        self._start_sandbox()
        self._start_airbyte()
        self._start_glue()
        self._start_app()
        return self

    def _start_glue(self) -> None:
        """Glue's API on HTTP, running the job on local PySpark over a mirror of the lake.

        Runs queue rather than fail when one is going, as JobRunQueuingEnabled does on AWS."""
        import tempfile

        import boto3

        from .glue_runner import LocalGlue
        from .glue_service import GlueService

        # HUBSPOT_GLUE_MIRROR (./dev main): a fixed mirror, emptied at start and kept at stop,
        # so `./dev query` can read the curated tables afterwards (local_stack/lake_query.py).
        kept = os.environ.get("HUBSPOT_GLUE_MIRROR")
        if kept:
            import shutil
            shutil.rmtree(kept, ignore_errors=True)
            os.makedirs(kept)
        self._keep_mirror = bool(kept)
        self.glue_mirror = kept or tempfile.mkdtemp(prefix="hubspot-glue-mirror-")
        self.glue = LocalGlue(self.glue_mirror, self.env["LAKE_BUCKET"], s3=boto3.client("s3"),
                              queuing=True)
        service = GlueService(self.glue).start()
        self._servers.append(service)
        self.env["AWS_ENDPOINT_URL_GLUE"] = service.url
        os.environ["AWS_ENDPOINT_URL_GLUE"] = service.url

    def _start_moto(self) -> None:
        self._servers.append(start_moto(self.ports.aws))

    def _start_sandbox(self) -> None:
        from .hubspot_sandbox import RegisteredApp, SandboxServer

        app = RegisteredApp(client_id=LOCAL_CLIENT_ID, client_secret=self.client_secret,
                            redirect_uris=[self.env["HUBSPOT_REDIRECT_URI"]],
                            webhook_url=f"{self.app_url}/webhooks/hubspot")
        self.sandbox = SandboxServer(port=self.ports.hubspot, seed=self.seed, accounts=self.accounts,
                                     apps=[app], records_per_object=self.records_per_object)
        self.sandbox.start()
        self._servers.append(self.sandbox)

    def _start_airbyte(self) -> None:
        """The Airbyte API emulator; its application credentials go into the stage's secret."""
        from hubspot_app.models import bind_shared_table
        from hubspot_app.runtime import forget_services

        from .airbyte_emulator import AirbyteEmulator
        from .resources import put_airbyte_secret

        client_id, client_secret = "local-airbyte-app", secrets.token_urlsafe(24)
        self.airbyte = AirbyteEmulator(
            port=self.ports.airbyte, s3_endpoint_url=self.aws_url,
            hubspot_sandbox_url=self.hubspot_url, api_token=None, client_id=client_id,
            client_secret=client_secret, **self.airbyte_options).start()
        self._servers.append(self.airbyte)
        put_airbyte_secret(self.env, client_id, client_secret)
        forget_services()  # the Airbyte client and shared ids were another emulator's
        bind_shared_table(self.env["AIRBYTE_RESOURCES_TABLE"], reconnect=True)

    def _start_app(self) -> None:
        from chalice import local as chalice_local
        from chalice.cli.factory import CLIFactory

        import app as chalice_app_module

        config = CLIFactory(str(ROOT), environ=os.environ).create_config_obj(
            chalice_stage_name=self.stage)
        port = free_port() if self.path_prefix else self.ports.app
        if not self.access_log:
            chalice_local.ChaliceRequestHandler.log_message = lambda *args: None
        app_obj = chalice_app_module.app
        if isinstance(app_obj, chalice_local.LocalChalice):  # a second stack in this process
            server = chalice_local.LocalDevServer(app_obj, config, "127.0.0.1", port)
        else:
            server = chalice_local.create_local_server(app_obj, config, "127.0.0.1", port)
        thread = threading.Thread(target=server.server.serve_forever, name="chalice-local",
                                  daemon=True)
        thread.start()
        self._servers.append(_StoppableServer(server, thread))
        if self.path_prefix:
            from .stage_front import StageFront

            self._servers.append(StageFront(self.path_prefix, port, self.ports.app))

    def chalice_client(self, **env_overrides: str):
        """A `chalice.test.Client` whose functions see this stack's environment (thread-safe:
        local_stack/lambda_client.py).

        The client sets each function's environment from `.chalice/config.json` on every call;
        the stage file holds the fixed local ports, so the ports in use are merged in on top.
        It generates the same SQS, S3 and schedule events Lambda delivers.
        """
        from chalice.cli.factory import CLIFactory

        import app as chalice_app_module

        from .lambda_client import ThreadSafeClient

        client = ThreadSafeClient(chalice_app_module.app, stage_name=self.stage, project_dir=str(ROOT))
        client._chalice_config_obj = CLIFactory(str(ROOT)).create_config_obj(
            chalice_stage_name=self.stage,
            user_provided_params={"environment_variables": {**self.env, **env_overrides}})
        return client

    def stop(self) -> None:
        while self._servers:
            try:
                self._servers.pop().stop()
            except Exception:  # noqa: BLE001 - stop the rest even if one is already down
                pass
        if getattr(self, "glue_mirror", None):
            import shutil
            if not getattr(self, "_keep_mirror", False):
                shutil.rmtree(self.glue_mirror, ignore_errors=True)
            os.environ.pop("AWS_ENDPOINT_URL_GLUE", None)
        for key, value in getattr(self, "_saved_environ", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ = {}

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _StoppableServer:
    def __init__(self, server, thread):
        self.server, self.thread = server, thread

    def stop(self) -> None:
        self.server.server.shutdown()
        self.server.server.server_close()
        self.thread.join(timeout=5)
