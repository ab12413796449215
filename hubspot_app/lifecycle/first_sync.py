"""The first sync of a newly provisioned connection starts at once (Airbyte `POST /jobs`), so
what the install success page says about when data arrives holds (hubspot_app/data_page.py:
the first sync starts at the end of provisioning); the connection's cron schedule
(AIRBYTE_SCHEDULE_CRON) takes over after it.

Airbyte public API (airbyte-platform, airbyte-api/server-api/src/main/openapi/api.yaml):
- `GET /jobs?connectionId=&jobType=sync&limit=1` answers `JobsResponse` (`data`: JobResponse
  list, newest first by default `orderBy=createdAt|DESC`);
- `POST /jobs` with `JobCreateRequest` `{connectionId, jobType: "sync"}` answers 200 with a
  `JobResponse` (`jobId`, `status`, `jobType`, `startTime`, `connectionId`). While a sync of the
  connection runs, the server refuses with 409: `try-again-later` (JobServiceImpl maps
  "A sync is already running for: <id>" to TryAgainLaterConflictProblem) or `state-conflict`
  (the same message as an IllegalStateException; JobServiceTest covers both).

Idempotent: a re-delivered provision message (or a retry after a lost answer) first asks for the
connection's sync jobs; any job, running or finished, means the first sync happened.
"""
from __future__ import annotations

import logging

from hubspot_app import logs
from hubspot_app.airbyte.client import AirbyteClient, AirbyteError, AirbytePermanentError, AirbyteTransientError
from hubspot_app.tracing import subsegment

log = logging.getLogger(__name__)


def _already_running(exc: AirbyteError) -> bool:
    if exc.status != 409:
        return False
    return exc.title == "try-again-later" or "already running" in str(exc)


def start_first_sync(client: AirbyteClient, connection_id: str, hub_id: int, *,
                     last_try: bool) -> str:
    """Start the connection's first sync unless one exists; returns the account history line.

    A transient failure raises (the provision message returns and the retry looks again),
    except on the message's last allowed receive: the account is provisioned all the same and
    the schedule runs the first sync. A permanent refusal never fails the provisioning."""
    try:
        with subsegment("airbyte.first_sync", hub_id=hub_id):
            page = client.request("GET", "/jobs", params={
                "connectionId": connection_id, "jobType": "sync", "limit": 1}) or {}
            existing = page.get("data") or []
            if existing:
                job = existing[0]
                return f"first sync already started (job {job.get('jobId')}, {job.get('status')})"
            job = client.request("POST", "/jobs", {"connectionId": connection_id,
                                                   "jobType": "sync"}) or {}
    except AirbyteError as exc:
        if _already_running(exc):
            return "first sync already running (Airbyte: a sync is already running)"
        if isinstance(exc, AirbyteTransientError) and not last_try:
            raise
        level = logging.ERROR if isinstance(exc, AirbytePermanentError) else logging.WARNING
        logs.log_event(log, "first sync not started", level, connection_id=connection_id,
                       error=str(exc)[:300])
        return f"first sync not started ({str(exc)[:160]}); the schedule runs it"
    logs.log_event(log, "first sync started", connection_id=connection_id,
                   job_id=job.get("jobId"), status=job.get("status"))
    return f"first sync started (job {job.get('jobId')})"
