"""Background job runner: pending -> running -> succeeded | failed | cancelled.

The HTTP handler only records a pending job and hands it to a small thread pool, so `POST /v1/jobs`
answers at once as Airbyte does; the sync itself (connector read + Parquet to S3) lives in
`sync.py` and can be replaced by a fake runner in API tests.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, emu, max_workers: int, runner=None):
        self.emu = emu
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_workers),
                                        thread_name_prefix="airbyte-emulator-job")
        self._cancel: dict[int, threading.Event] = {}

    def start(self, connection: dict, job_type: str) -> dict:
        store = self.emu.store
        with store.lock:
            job_id = store.next_job_id
            store.next_job_id += 1
            now = time.time()
            job = {"jobId": job_id, "connectionId": connection["connectionId"],
                   "workspaceId": connection["workspaceId"], "jobType": job_type,
                   "status": "pending", "createdAt": now, "updatedAt": now,
                   "bytesSynced": 0, "rowsSynced": 0, "streams": {}, "files": {}, "error": None}
            store.jobs[job_id] = job
            self._cancel[job_id] = threading.Event()
        self._pool.submit(self._run, job_id)
        return job

    def cancel(self, job: dict) -> None:
        # A pending job never starts; a running one stops at the next record batch.
        self._cancel[job["jobId"]].set()
        if job["status"] == "pending":
            self._finish(job["jobId"], "cancelled", None)

    def shutdown(self) -> None:
        for ev in self._cancel.values():
            ev.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, job_id: int, status: str, error: str | None, result=None) -> None:
        store = self.emu.store
        with store.lock:
            job = store.jobs[job_id]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return
            job.update(status=status, error=error, updatedAt=time.time())
            if result is not None:
                job.update(streams=result.rows_by_stream, files=result.files_by_stream,
                           rowsSynced=sum(result.rows_by_stream.values()),
                           bytesSynced=result.bytes_synced)

    def _schema_changed(self, conn: dict) -> None:
        store = self.emu.store
        with store.lock:
            rec = store.connections.get(conn["connectionId"])
            if rec is not None and not rec["deleted"]:
                rec["streams"] = copy.deepcopy(conn["streams"])
                rec["catalogStreams"] = list(conn["catalogStreams"])

    def _run(self, job_id: int) -> None:
        from .sync import SyncContext, run_job  # late import: sync pulls in boto3/pyarrow

        store, cancelled = self.emu.store, self._cancel[job_id]
        with store.lock:
            job = store.jobs[job_id]
            if job["status"] != "pending" or cancelled.is_set():
                return
            conn = copy.deepcopy(store.connections[job["connectionId"]])
            ctx = SyncContext(
                job_id=job_id, job_type=job["jobType"], connection=conn,
                source=self.emu.source_as_run(store.sources[conn["sourceId"]]),
                destination=copy.deepcopy(store.destinations[conn["destinationId"]]),
                state=copy.deepcopy(store.connection_state.get(conn["connectionId"], {})),
                generations=dict(store.generation.get(conn["connectionId"], {})),
                cancelled=cancelled, s3_endpoint_url=self.emu.s3_endpoint_url,
                sandbox_url=self.emu.hubspot_sandbox_url, aws_region=self.emu.aws_region,
                rows_per_file=self.emu.rows_per_file, on_schema_change=self._schema_changed)
            job.update(status="running", updatedAt=time.time())
        try:
            result = (self.runner or run_job)(ctx)
        except Exception as exc:  # a failed sync is a job status, never a crashed thread
            if cancelled.is_set():    # the connector was terminated because of the cancel
                self._finish(job_id, "cancelled", None)
                return
            log.exception("job %s failed", job_id)
            self._finish(job_id, "failed", f"{type(exc).__name__}: {exc}")
            return
        if cancelled.is_set():
            self._finish(job_id, "cancelled", None, result)
            return
        with store.lock:
            # State and generations are committed only for a successful sync, as Airbyte does.
            store.connection_state[conn["connectionId"]] = result.state
            store.generation[conn["connectionId"]] = result.generations
        self._finish(job_id, "succeeded", None, result)
