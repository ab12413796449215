"""/v1/jobs: start (sync, reset, refresh, clear), get, list, cancel; shapes per JobResponseMapper."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request

from . import problems
from .requests_util import json_body, page, query_list

JOB_TYPES = ("sync", "reset", "refresh", "clear")
JOB_STATUSES = ("pending", "queued", "running", "incomplete", "failed", "succeeded", "cancelled")
TERMINAL = ("failed", "succeeded", "cancelled")


def _java_instant(epoch_s: int) -> str:
    # OffsetDateTime.toString(): seconds are omitted when zero ("2024-05-01T10:00Z").
    dt = datetime.fromtimestamp(int(epoch_s), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M" if dt.second == 0 else "%Y-%m-%dT%H:%M:%S") + "Z"


def _java_duration(seconds: int) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    return out if out != "PT" else "PT0S"


def render(j: dict) -> dict:
    out = {"jobId": j["jobId"], "status": j["status"], "jobType": j["jobType"],
           "startTime": _java_instant(j["createdAt"]), "connectionId": j["connectionId"],
           "bytesSynced": j["bytesSynced"], "rowsSynced": j["rowsSynced"]}
    if j["status"] in TERMINAL:
        out["lastUpdatedAt"] = _java_instant(j["updatedAt"])
    if j["status"] != "pending":
        out["duration"] = _java_duration(int(j["updatedAt"]) - int(j["createdAt"]))
    return out


def _parse_time(name: str):
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return int(raw) / 1000 if raw.isdigit() else \
            datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise problems.bad_request(f"{name}: invalid date-time {raw!r}") from None


def register(bp, emu) -> None:
    store = emu.store

    @bp.post("/jobs")
    def create_job():
        body = json_body({"connectionId": "uuid", "jobType": JOB_TYPES}, ("connectionId", "jobType"))
        with store.lock:
            conn = store.connections.get(body["connectionId"])
            if conn is None:
                raise problems.not_found("connection", body["connectionId"])
            if conn["deleted"]:
                raise problems.state_conflict(f"Connection {conn['connectionId']} is deprecated")
            if store.running_job(conn["connectionId"]):
                raise problems.try_again_later(
                    f"A sync is already running for: {conn['connectionId']}")
            job = emu.start_job(conn, body["jobType"])
            return jsonify(render(job))

    def lookup(job_id: str) -> dict:
        job = store.jobs.get(int(job_id)) if job_id.isdigit() else None
        if job is None:
            raise problems.not_found("job", job_id)
        return job

    @bp.get("/jobs/<job_id>")
    def get_job(job_id):
        with store.lock:
            return jsonify(render(lookup(job_id)))

    @bp.delete("/jobs/<job_id>")
    def cancel_job(job_id):
        with store.lock:
            job = lookup(job_id)
            if job["status"] in TERMINAL:
                raise problems.state_conflict("Job is not currently running")
            emu.cancel_job(job)
            return jsonify(render(job))

    @bp.get("/jobs")
    def list_jobs():
        cid, ids = request.args.get("connectionId"), query_list("workspaceIds")
        jtype, status = request.args.get("jobType"), request.args.get("status")
        if jtype is not None and jtype not in JOB_TYPES:
            raise problems.bad_request(f"jobType: invalid value {jtype!r}")
        if status is not None and status not in JOB_STATUSES:
            raise problems.bad_request(f"status: invalid value {status!r}")
        order = request.args.get("orderBy", "createdAt|DESC")
        field, _, direction = order.partition("|")
        if field not in ("createdAt", "updatedAt") or direction not in ("ASC", "DESC"):
            raise problems.bad_request(f"orderBy: invalid value {order!r}")
        bounds = {k: _parse_time(k) for k in ("createdAtStart", "createdAtEnd",
                                             "updatedAtStart", "updatedAtEnd")}
        with store.lock:
            jobs = [j for j in store.jobs.values()
                    if (not cid or j["connectionId"] == cid)
                    and (not ids or j["workspaceId"] in ids)
                    and (not jtype or j["jobType"] == jtype)
                    and (not status or j["status"] == status)
                    and all(_in_bounds(j, k, v) for k, v in bounds.items() if v is not None)]
            jobs.sort(key=lambda j: (j[field], j["jobId"]), reverse=direction == "DESC")
            extra = {k: v for k, v in (("connectionId", cid), ("jobType", jtype)) if v}
            if ids:
                extra["workspaceIds"] = ",".join(ids)
            return jsonify(page(jobs, render, "/jobs", extra))


def _in_bounds(job: dict, key: str, value: float) -> bool:
    field = "createdAt" if key.startswith("created") else "updatedAt"
    return job[field] >= value if key.endswith("Start") else job[field] <= value
