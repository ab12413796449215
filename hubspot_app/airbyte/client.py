"""A small client for the Airbyte public API (v1), on `requests`.

Why not the official `airbyte-api` SDK: it brings httpx and pydantic (about 25 MB unpacked with
its models, a cold-start cost on every provisioner container), and version 1.0.1 cannot parse a
HubSpot source or S3 destination response at all (the configuration lacks the type key its union
needs: airbytehq/airbyte-api-python-sdk#88, #114). The provisioner needs a dozen calls; this
module makes them, classifies failures for the retry logic, and never logs a secret.

Failures:
- `AirbyteTransientError`: 5xx, 429, 409 "try again later", timeouts, connection errors. The
  caller retries later (the SQS message returns with a growing delay).
- `AirbytePermanentError`: other 4xx (bad configuration, bad credentials, forbidden): retrying
  cannot fix them; the message goes to the dead-letter queue.
- `AirbyteNotFound` (a permanent error): 404 on a resource the caller may recreate.
A 429 or 503 is retried a few times in process first (short, jittered waits), since rate
limits are the normal state of a burst of installs, not an incident. The access-token request
(`POST /applications/token`) is retried the same way: it creates nothing, and while no token is
held every call starts with it, so without retries it takes every transient fault Airbyte
answers (bench/storm.py).

A transient error is `ambiguous` when the request may have been carried out although no answer
said so: a read timeout, a connection dropped after the request was sent, or a 5xx (a gateway's
502/504 comes back while the server may still complete the work). A 429, a 409 "try again
later" and a connection that was never established are not, and neither is any failure to get
an access token: the call it was for was never sent. The provisioner looks again before
repeating an ambiguous create.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import requests

from hubspot_app import logs
from hubspot_app.errors import NotFound, Permanent, Transient
from hubspot_app.messaging.rate_limit import RateLimiter
from hubspot_app.messaging.retry import AIRBYTE_HTTP

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # the API's maximum page size


class AirbyteError(RuntimeError):
    def __init__(self, message: str, status: int | None = None, title: str | None = None,
                 ambiguous: bool = False):
        super().__init__(message)
        self.status, self.title = status, title
        self.ambiguous = ambiguous  # the request may have been carried out (see module doc)


class AirbyteTransientError(AirbyteError, Transient):
    """Worth retrying later."""


class AirbytePermanentError(AirbyteError, Permanent):
    """Retrying the same request cannot succeed; someone must fix configuration or data."""


class AirbyteNotFound(AirbytePermanentError, NotFound):
    pass


def _problem_text(resp: requests.Response) -> tuple[str | None, str]:
    """(title, short description) of an Airbyte problem response, without echoing secrets."""
    try:
        body = resp.json()
    except ValueError:
        return None, resp.text[:200]
    if not isinstance(body, dict):
        return None, str(body)[:200]
    title = body.get("title")
    data = body.get("data")
    detail = data.get("message") if isinstance(data, dict) and data.get("message") else (
        json.dumps(data) if data else body.get("detail") or body.get("message") or "")
    return title, logs.redact(str(detail))[:300]


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the connection was never established (nothing reached the server)."""
    import urllib3.exceptions

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            return False
        nested = getattr(cause, "reason", None)
        args = getattr(cause, "args", ())
        cause = nested if isinstance(nested, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else cause.__cause__)
    return True


class AirbyteClient:
    """Airbyte public API at `api_url` (".../v1"). Credentials: a static `api_token`, or an
    application's `client_id`/`client_secret` traded for short-lived access tokens."""

    def __init__(self, api_url: str, *, api_token: str | None = None, client_id: str | None = None,
                 client_secret: str | None = None, timeout: float = 20.0,
                 max_requests_per_second: float = 0.0, in_process_retries: int = AIRBYTE_HTTP.max_attempts,
                 session: requests.Session | None = None):
        if not api_token and not (client_id and client_secret):
            raise AirbytePermanentError("Airbyte credentials missing: set api_token, or "
                                        "client_id and client_secret, in the Airbyte secret")
        self.api_url = api_url.rstrip("/")
        self._api_token, self._client_id, self._client_secret = api_token, client_id, client_secret
        logs.register_secret(api_token)
        logs.register_secret(client_secret)
        self.timeout = timeout
        self.in_process_retries = in_process_retries
        self._session = session or requests.Session()
        self._access_token: str | None = None
        self._access_expires = 0.0
        self._token_lock = threading.Lock()
        self._limiter = RateLimiter(max_requests_per_second)
        self.calls = 0  # requests sent (for tests and the benchmark)

    # -- auth ------------------------------------------------------------------------------
    def _bearer(self, force: bool = False) -> str:
        if self._api_token:
            return self._api_token
        with self._token_lock:
            if force or not self._access_token or time.monotonic() > self._access_expires:
                body = self._fetch_token()
                self._access_token = body["access_token"]
                logs.register_secret(self._access_token)
                # Refresh a minute early (Airbyte's tokens live 3 to 15 minutes).
                self._access_expires = time.monotonic() + max(10, int(body.get("expires_in", 180)) - 60)
            return self._access_token

    def _fetch_token(self) -> dict:
        """The client-credentials grant, retried in process like a GET (it creates nothing).
        Its failures are never ambiguous: the call that needed the token was not sent, so a
        create that fails here cannot have happened (no settle window, no look-up)."""
        attempt = 0
        try:
            while True:
                resp = self._send("POST", "/applications/token", auth=False, json_body={
                    "client_id": self._client_id, "client_secret": self._client_secret,
                    "grant-type": "client_credentials"})
                if resp.status_code == 200:
                    return resp.json()
                if not self._wait_to_retry(resp, attempt, safe=True):
                    raise self._error(resp, "POST /applications/token")
                attempt += 1
        except AirbyteError as exc:
            exc.ambiguous = False
            raise

    # -- transport -------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, auth: bool = True, json_body=None, params=None,
              bearer: str | None = None, timeout: float | None = None) -> requests.Response:
        self._limiter.acquire()
        headers = {"Accept": "application/json", "User-Agent": "hubspot-pipeline-provisioner"}
        if auth:
            headers["Authorization"] = f"Bearer {bearer}"
        self.calls += 1
        try:
            return self._session.request(method, self.api_url + path, json=json_body, params=params,
                                         headers=headers, timeout=timeout or self.timeout)
        except requests.Timeout as exc:
            # ConnectTimeout: never connected, so nothing was sent; ReadTimeout: maybe done.
            raise AirbyteTransientError(f"{method} {path}: timed out after "
                                        f"{timeout or self.timeout}s",
                                        ambiguous=not isinstance(exc, requests.ConnectTimeout)
                                        ) from exc
        except requests.RequestException as exc:
            # Connection refused/reset, or the server dropped the connection mid-response.
            raise AirbyteTransientError(f"{method} {path}: {type(exc).__name__}",
                                        ambiguous=_maybe_sent(exc)) from exc

    def _error(self, resp: requests.Response, what: str) -> AirbyteError:
        title, detail = _problem_text(resp)
        message = f"{what}: HTTP {resp.status_code} {title or ''} {detail}".strip()
        status = resp.status_code
        if status == 429 or status >= 500 or (status == 409 and title == "try-again-later"):
            return AirbyteTransientError(message, status, title, ambiguous=status >= 500)
        if status == 404:
            return AirbyteNotFound(message, status, title)
        return AirbytePermanentError(message, status, title)

    def request(self, method: str, path: str, json_body=None, params=None,
                timeout: float | None = None):
        """One API call; returns the parsed JSON body (None for 204)."""
        what = f"{method} {path.split('?')[0]}"
        refreshed = False
        attempt = 0
        while True:
            resp = self._send(method, path, json_body=json_body, params=params,
                              bearer=self._bearer(), timeout=timeout)
            if resp.status_code == 401 and not self._api_token and not refreshed:
                self._bearer(force=True)  # the short-lived access token expired early
                refreshed = True
                continue
            # A 429 was not processed, so even a create can be repeated; a 5xx on a create may
            # have created it, so that one is left to the caller (which looks it up by name).
            if self._wait_to_retry(resp, attempt, safe=method in ("GET", "PATCH", "DELETE")):
                attempt += 1
                continue
            if resp.status_code >= 400:
                raise self._error(resp, what)
            if resp.status_code == 204 or not resp.content:
                return None
            return resp.json()

    def _wait_to_retry(self, resp: requests.Response, attempt: int, safe: bool) -> bool:
        """After failed try number `attempt` (0 = the first): sleep and say True when the answer
        is worth repeating in process (429; 502/503/504 when `safe` to repeat)."""
        retryable = resp.status_code == 429 or (safe and resp.status_code in (502, 503, 504))
        if not retryable or attempt >= self.in_process_retries:
            return False
        retry_after = resp.headers.get("Retry-After")
        # The one retry policy (hubspot_app.messaging.retry); Retry-After wins, capped too.
        delay = min(AIRBYTE_HTTP.max_seconds, float(retry_after)) \
            if retry_after and retry_after.isdigit() else AIRBYTE_HTTP.delay(attempt + 1)
        time.sleep(delay)
        return True

    def _list(self, collection: str, workspace_id: str | None, include_deleted: bool = False,
              **filters) -> Iterator[dict]:
        offset = 0
        while True:
            params = {"limit": PAGE_LIMIT, "offset": offset, **filters}
            if workspace_id:
                params["workspaceIds"] = workspace_id
            if include_deleted:
                params["includeDeleted"] = "true"
            page = self.request("GET", f"/{collection}", params=params) or {}
            data = page.get("data") or []
            yield from data
            if len(data) < PAGE_LIMIT:
                return
            offset += PAGE_LIMIT

    # -- workspaces ------------------------------------------------------------------------
    def list_workspaces(self) -> Iterator[dict]:
        return self._list("workspaces", None)

    def create_workspace(self, name: str) -> dict:
        return self.request("POST", "/workspaces", {"name": name})

    def get_workspace(self, workspace_id: str) -> dict:
        return self.request("GET", f"/workspaces/{workspace_id}")

    def put_workspace_oauth_credentials(self, workspace_id: str, actor_type: str, name: str,
                                        configuration: dict) -> None:
        """createOrUpdateWorkspaceOAuthCredentials: `PUT /workspaces/{workspaceId}/oauthCredentials`
        with `WorkspaceOAuthCredentialsRequest` {actorType, name, configuration} (airbytehq/
        airbyte-platform, airbyte-api/server-api/src/main/openapi/api.yaml); 200 without body."""
        self.request("PUT", f"/workspaces/{workspace_id}/oauthCredentials",
                     {"actorType": actor_type, "name": name, "configuration": configuration})

    # -- sources ---------------------------------------------------------------------------
    def list_sources(self, workspace_id: str) -> Iterator[dict]:
        return self._list("sources", workspace_id)

    def create_source(self, workspace_id: str, name: str, configuration: dict) -> dict:
        return self.request("POST", "/sources", {"workspaceId": workspace_id, "name": name,
                                                 "configuration": configuration})

    def get_source(self, source_id: str) -> dict:
        return self.request("GET", f"/sources/{source_id}")

    def update_source(self, source_id: str, configuration: dict, name: str | None = None) -> dict:
        body: dict[str, object] = {"configuration": configuration}
        if name:
            body["name"] = name
        return self.request("PATCH", f"/sources/{source_id}", body)

    def delete_source(self, source_id: str) -> None:
        self.request("DELETE", f"/sources/{source_id}")

    # -- destinations ----------------------------------------------------------------------
    def list_destinations(self, workspace_id: str) -> Iterator[dict]:
        return self._list("destinations", workspace_id)

    def create_destination(self, workspace_id: str, name: str, configuration: dict) -> dict:
        return self.request("POST", "/destinations", {"workspaceId": workspace_id, "name": name,
                                                      "configuration": configuration})

    def get_destination(self, destination_id: str) -> dict:
        return self.request("GET", f"/destinations/{destination_id}")

    def update_destination(self, destination_id: str, configuration: dict) -> dict:
        return self.request("PATCH", f"/destinations/{destination_id}",
                            {"configuration": configuration})

    # -- connections -----------------------------------------------------------------------
    def list_connections(self, workspace_id: str) -> Iterator[dict]:
        return self._list("connections", workspace_id)

    def create_connection(self, body: dict) -> dict:
        return self.request("POST", "/connections", body)

    def get_connection(self, connection_id: str) -> dict:
        return self.request("GET", f"/connections/{connection_id}")

    def update_connection(self, connection_id: str, body: dict) -> dict:
        return self.request("PATCH", f"/connections/{connection_id}", body)

    def delete_connection(self, connection_id: str) -> None:
        self.request("DELETE", f"/connections/{connection_id}")

    def get_stream_properties(self, source_id: str, destination_id: str,
                              ignore_cache: bool = False, timeout: float | None = None) -> list:
        """getStreamProperties: `GET /streams?sourceId=&destinationId=&ignoreCache=` answers a
        StreamProperties array; `syncModes` is only filled when the destination is given
        (airbyte-platform StreamsController). Airbyte answers from the source's cached catalog,
        which is keyed on the source's configuration (SchedulerHandler): a new refresh token
        means a new discover; a failed discover answers 500 "Something went wrong in the
        connector"."""
        answer = self.request("GET", "/streams", params={
            "sourceId": source_id, "destinationId": destination_id,
            "ignoreCache": str(ignore_cache).lower()}, timeout=timeout)
        if not isinstance(answer, list):
            raise AirbytePermanentError("GET /streams: the answer is not a StreamProperties array")
        return answer

    # -- jobs ------------------------------------------------------------------------------
    def start_job(self, connection_id: str, job_type: str = "sync") -> dict:
        return self.request("POST", "/jobs", {"connectionId": connection_id, "jobType": job_type})

    def get_job(self, job_id: int | str) -> dict:
        return self.request("GET", f"/jobs/{job_id}")

    def list_jobs(self, connection_id: str, limit: int = 20) -> list[dict]:
        page = self.request("GET", "/jobs", params={"connectionId": connection_id, "limit": limit})
        return (page or {}).get("data") or []


def client_from_secret(settings, secret: dict | None) -> AirbyteClient:
    """The stage's client from its secret's JSON (Services.airbyte reads and keeps it; None:
    the stage names no secret)."""
    from hubspot_app.secrets_store import SecretConfigError

    if not settings.airbyte.secret_name or secret is None:
        raise SecretConfigError("AIRBYTE_SECRET_NAME is not set for this stage")
    if not (secret.get("api_token") or (secret.get("client_id") and secret.get("client_secret"))):
        raise SecretConfigError(
            f"Secret {settings.airbyte.secret_name} must be JSON with 'client_id' and "
            f"'client_secret' (an Airbyte application) or 'api_token'")
    return AirbyteClient(settings.airbyte.api_url, api_token=secret.get("api_token"),
                         client_id=secret.get("client_id"),
                         client_secret=secret.get("client_secret"),
                         timeout=settings.airbyte.timeout_seconds,
                         max_requests_per_second=settings.airbyte.max_requests_per_second)
