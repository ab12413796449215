"""AirbyteEmulator: owns the store, auth, faults, the job runner and the HTTP server thread."""
from __future__ import annotations

import time

from ..http import BackgroundServer
from . import problems
from .app import create_app
from .auth import Auth
from .catalog import hubspot_catalog
from .discovery import Discovery
from .faults import Faults, RateLimiter
from .jobs import JobRunner
from .store import Store

DEFAULT_TOKEN = "airbyte-emulator-token"
DEFAULT_CLIENT_ID = "airbyte-emulator-client"
DEFAULT_CLIENT_SECRET = "airbyte-emulator-secret"
# "Airbyte's own" HubSpot OAuth app, which Cloud injects when a workspace has no override. The
# sandbox does not know it, so a refresh with it fails as it would at HubSpot (the account's
# refresh token was issued to our app).
AIRBYTE_OWN_HUBSPOT_APP = {"client_id": "airbyte-cloud-hubspot-app",
                           "client_secret": "airbyte-cloud-hubspot-secret"}


class AirbyteEmulator:
    """HTTP emulator of Airbyte's public API (v1). SDK: `AirbyteAPI(server_url=emu.api_url, ...)`.

    s3_endpoint_url / hubspot_sandbox_url: where syncs write (moto) and what the connector reads.
    rate_limit_per_s: None = unlimited; above it requests get Airbyte's 429.
    sync_runner: callable(SyncContext) -> SyncResult replacing the real connector run (tests).
    discovery: "connector" (run the connector's discover per source, cached), "static" (the
    fixed catalog: for API-only tests), "auto" = connector when there is a sandbox and syncs
    are real.
    rows_per_file: records per Parquet part file (Airbyte rolls files at ~200 MB instead).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, s3_endpoint_url: str | None = None,
                 hubspot_sandbox_url: str | None = None, rate_limit_per_s: float | None = None,
                 rate_limit_burst: float | None = None, api_token: str | None = DEFAULT_TOKEN,
                 client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 token_ttl_s: float = 180.0, auth_required: bool = True,
                 workspace_name: str = "Default Workspace", aws_region: str = "us-east-1",
                 max_concurrent_syncs: int = 2, sync_runner=None, extra_streams: dict | None = None,
                 rows_per_file: int = 5000, discovery: str = "auto"):
        self.host, self._port = host, port
        self.s3_endpoint_url, self.hubspot_sandbox_url = s3_endpoint_url, hubspot_sandbox_url
        self.aws_region, self.rows_per_file = aws_region, rows_per_file
        self.store = Store()
        self.auth = Auth([api_token] if api_token else [], {client_id: client_secret},
                         token_ttl_s, auth_required)
        self.api_token, self.client_id, self.client_secret = api_token, client_id, client_secret
        self.faults = Faults()
        self.rate_limiter = RateLimiter(rate_limit_per_s, rate_limit_burst)
        self.catalog = hubspot_catalog(extra_streams)  # the fixed catalog (static discovery)
        if discovery == "auto":
            discovery = "connector" if hubspot_sandbox_url and sync_runner is None else "static"
        self.discovery = Discovery(self, discovery, extra_streams)
        self.jobs = JobRunner(self, max_concurrent_syncs, sync_runner)
        self.default_workspace_id = self.add_workspace(workspace_name)["workspaceId"]
        self._server = None
        self.started_at = None

    # ---- lifecycle
    def start(self) -> AirbyteEmulator:
        self._server = BackgroundServer(create_app(self), self.host, self._port, "airbyte-emulator")
        self.started_at = time.time()
        return self

    def stop(self) -> None:
        self.jobs.shutdown()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port if self._server else self._port

    @property
    def url(self) -> str:
        """Base URL (no path). The SDK's server_url is `api_url` = url + "/v1"."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    # ---- used by the API modules
    def add_workspace(self, name: str, notifications: dict | None = None) -> dict:
        with self.store.lock:
            rec = self.store.stamp({"workspaceId": self.store.new_id(), "name": name,
                                    "notifications": notifications})
            self.store.workspaces[rec["workspaceId"]] = rec
            return rec

    def source_as_run(self, source: dict) -> dict:
        """The source as its connector receives it: Airbyte injects the workspace's OAuth
        override, or its own app's credentials when there is none (OAuthConfigSupplier)."""
        import copy

        from . import specs

        rec = copy.deepcopy(source)
        params = self.store.oauth_params.get((source["workspaceId"], "source", source["type"]),
                                             AIRBYTE_OWN_HUBSPOT_APP)
        rec["configuration"] = specs.inject_oauth(source["type"], source["configuration"], params)
        return rec

    def note_create(self, kind: str, rec: dict) -> None:
        self.store.requests[f"created {kind}"] += 1
        from flask import g, has_request_context

        late = g.get("late_create") if has_request_context() else None
        if late and late["visible_after_s"] > 0:
            rec["hidden_until"] = time.time() + late["visible_after_s"]  # lists lag behind

    def reveal_late_creates(self) -> int:
        """Show every resource a late_create fault still hides from lists; how many there were."""
        with self.store.lock:
            hidden = [r for t in (self.store.workspaces, self.store.sources,
                                  self.store.destinations, self.store.connections)
                      for r in t.values() if r.get("hidden_until")]
            still = sum(not self.store.listed(r) for r in hidden)
            for r in hidden:
                r.pop("hidden_until")
        return still

    def start_job(self, connection: dict, job_type: str) -> dict:
        return self.jobs.start(connection, job_type)

    def cancel_job(self, job: dict) -> None:
        self.jobs.cancel(job)

    def job_detail(self, job_id: int) -> dict:
        with self.store.lock:
            job = self.store.jobs.get(job_id)
            if job is None:
                raise problems.not_found("job", str(job_id))
            return {k: v for k, v in job.items() if not k.startswith("_")}

    def state(self) -> dict:
        snap = self.store.snapshot()
        snap["rate_limit_per_s"] = self.rate_limiter.per_s
        snap["default_workspace_id"] = self.default_workspace_id
        return snap

    def wait_for_job(self, job_id: int, timeout_s: float = 300.0) -> dict:
        """Block until the job is terminal; returns the job detail (for tests and the main job)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            detail = self.job_detail(job_id)
            if detail["status"] in ("succeeded", "failed", "cancelled"):
                return detail
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still {detail['status']} after {timeout_s}s")
