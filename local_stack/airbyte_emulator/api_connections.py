"""/v1/connections: create/list/get/patch/delete with Airbyte's defaults and checks.

Behaviours kept from Airbyte because a client can trip on them:
- the response's cron expression carries the time zone ("0 0 * * * ? UTC");
- without `configurations` every stream is selected as full_refresh_overwrite;
- a deleted connection still answers GET, with status "deprecated", and is left out of lists
  unless includeDeleted=true.
"""
from __future__ import annotations

import re

from flask import jsonify, request

from . import problems
from .api_actors import get_or_404
from .catalog import valid_sync_modes
from .discovery import S3_DESTINATION_SYNC_MODES, stream_properties
from .requests_util import check, is_uuid, json_body, page, query_bool, query_list

SYNC_MODES = ("full_refresh_overwrite", "full_refresh_overwrite_deduped", "full_refresh_append",
              "full_refresh_update", "full_refresh_soft_delete", "incremental_append",
              "incremental_deduped_history", "incremental_update", "incremental_soft_delete")
_NS = ("source", "destination", "custom_format")
_NB = ("ignore", "disable_connection", "propagate_columns", "propagate_fully")
_STATUS = ("active", "inactive", "deprecated")
_BODY = {"name": "str", "configurations": "obj", "schedule": "obj", "dataResidency": "str",
         "namespaceDefinition": _NS, "namespaceFormat": "str", "prefix": "str",
         "nonBreakingSchemaUpdatesBehavior": _NB, "status": _STATUS, "tags": "list"}
_QUARTZ_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#LW]+$")


def validate_schedule(schedule: dict) -> dict:
    check(schedule, {"scheduleType": ("manual", "cron"), "cronExpression": "str"},
          ("scheduleType",), "schedule.")
    if schedule["scheduleType"] == "manual":
        return {"scheduleType": "manual"}
    expr = schedule.get("cronExpression")
    if expr is None:
        raise problems.bad_request("Missing cron expression in the schedule.")
    norm = expr[:-3].strip() if expr.endswith("UTC") else expr.strip()
    fields = norm.split()
    # Quartz: sec min hour day-of-month month day-of-week [year]; one of the day fields is "?".
    if len(fields) not in (6, 7) or not all(_QUARTZ_FIELD.match(f) for f in fields) \
            or "?" not in (fields[3], fields[5]):
        raise problems.bad_request(
            f"The cron expression {expr} is not valid. Error: Cron expression contains "
            f"{len(fields)} parts but we expect one of [6, 7]. Please check the cron expression "
            "format at https://www.quartz-scheduler.org/documentation/quartz-2.3.0/tutorials/crontrigger.html")
    # Airbyte's "at most hourly" rule: seconds (and minutes, in 7-part form) must be numbers.
    if not fields[0].isdigit() or (len(fields) == 7 and not fields[1].isdigit()):
        raise problems.bad_request(
            f"The cron expression {expr} is not valid or is less than the one hour minimum. "
            "The seconds and minutes values cannot be `*`.")
    return {"scheduleType": "cron", "cronExpression": norm}


def resolve_streams(catalog: dict, configurations: dict | None) -> list[dict]:
    wanted = (configurations or {}).get("streams") or []
    if not isinstance(wanted, list):
        raise problems.bad_request("configurations.streams: must be an array")
    if not wanted:
        return [_stream(info, {}) for info in catalog.values()]
    seen, out = set(), []
    for s in wanted:
        if not isinstance(s, dict):
            raise problems.bad_request("configurations.streams[]: must be objects")
        check(s, {"name": "str", "namespace": "str", "syncMode": SYNC_MODES, "cursorField": "list",
                  "primaryKey": "list", "selectedFields": "list", "mappers": "list"},
              ("name",), "configurations.streams[].")
        info = catalog.get(s["name"])
        if info is None:
            raise problems.bad_request(
                f"No streams found with name [{s['name']}] and namespace [{s.get('namespace')}]. "
                "Please call the https://reference.airbyte.com/reference/getstreamproperties "
                "endpoint to see the valid stream name and namespace combinations.")
        mode = s.get("syncMode") or "full_refresh_overwrite"
        valid = valid_sync_modes(info)
        if mode not in valid:
            raise problems.bad_request(f"Cannot set sync mode to {mode} for stream {s['name']}. "
                                       f"Valid sync modes are: [{', '.join(valid)}]")
        cursor = s.get("cursorField")
        if cursor and info.get("sourceDefinedCursor") and mode.startswith("incremental") \
                and set(cursor) != set(info["cursorField"]):
            # AirbyteCatalogHelper.validateCursorField (airbyte-server public API helpers).
            raise problems.bad_request(
                f"Cursor Field [{', '.join(map(str, cursor))}] is already defined by source for "
                f"stream: {s['name']}. Do not include a cursor field configuration for this "
                "stream.")
        if s["name"] in seen:
            raise problems.bad_request(f"Duplicate stream found in configuration for stream name "
                                       f"[{s['name']}] in namespace [{s.get('namespace')}].")
        seen.add(s["name"])
        out.append(_stream(info, s))
    return out


def _stream(info: dict, s: dict) -> dict:
    return {"name": info["name"], "syncMode": s.get("syncMode") or "full_refresh_overwrite",
            "cursorField": s.get("cursorField") or list(info["cursorField"]),
            "primaryKey": s.get("primaryKey") or [list(k) for k in info["primaryKey"]]}


def render(c: dict) -> dict:
    sched = {"scheduleType": c["schedule"]["scheduleType"]}
    if sched["scheduleType"] == "cron":
        sched["cronExpression"] = f"{c['schedule']['cronExpression']} UTC"
    out = {"connectionId": c["connectionId"], "name": c["name"], "sourceId": c["sourceId"],
           "destinationId": c["destinationId"], "workspaceId": c["workspaceId"],
           "status": c["status"], "schedule": sched,
           "nonBreakingSchemaUpdatesBehavior": c["nonBreakingSchemaUpdatesBehavior"],
           "namespaceDefinition": c["namespaceDefinition"], "prefix": c["prefix"],
           "configurations": {"streams": c["streams"]}, "createdAt": c["createdAt"],
           "tags": c["tags"]}
    if c.get("namespaceFormat") is not None:
        out["namespaceFormat"] = c["namespaceFormat"]
    return out


def register(bp, emu) -> None:
    store = emu.store

    @bp.post("/connections")
    def create_connection():
        body = json_body({**_BODY, "sourceId": "uuid", "destinationId": "uuid"},
                         ("sourceId", "destinationId"))
        schedule = validate_schedule(body["schedule"]) if body.get("schedule") else \
            {"scheduleType": "manual"}
        with store.lock:
            get_or_404(store, store.destinations, body["destinationId"], "destination")
            src = dict(get_or_404(store, store.sources, body["sourceId"], "source"))
        catalog = emu.discovery.infos(src)  # outside the lock: a discover takes seconds
        with store.lock:
            dest = get_or_404(store, store.destinations, body["destinationId"], "destination")
            src = get_or_404(store, store.sources, body["sourceId"], "source")
            streams = resolve_streams(catalog, body.get("configurations"))
            rec = store.stamp({
                "connectionId": store.new_id(),
                "name": body.get("name") or f"{src['name']} → {dest['name']}",
                "sourceId": src["sourceId"], "destinationId": dest["destinationId"],
                "workspaceId": dest["workspaceId"], "status": body.get("status") or "active",
                "schedule": schedule, "streams": streams, "tags": body.get("tags") or [],
                "namespaceDefinition": body.get("namespaceDefinition") or "destination",
                "namespaceFormat": body.get("namespaceFormat"), "prefix": body.get("prefix") or "",
                "nonBreakingSchemaUpdatesBehavior":
                    body.get("nonBreakingSchemaUpdatesBehavior") or "ignore",
                # Airbyte keeps the whole discovered catalog, unselected streams too: a schema
                # refresh tells new streams from deselected ones by it (discovery.propagate).
                "catalogStreams": sorted(catalog)})
            store.connections[rec["connectionId"]] = rec
            emu.note_create("connection", rec)
            return jsonify(render(rec))

    @bp.get("/connections")
    def list_connections():
        ids, tag_ids = query_list("workspaceIds"), query_list("tagIds")
        inc = query_bool("includeDeleted")
        with store.lock:
            recs = sorted(
                (c for c in store.connections.values()
                 if (inc or not c["deleted"]) and (not ids or c["workspaceId"] in ids)
                 and store.listed(c)
                 and (not tag_ids or any(t.get("tagId") in tag_ids for t in c["tags"]))),
                key=lambda r: r["_seq"])
        extra = {"includeDeleted": str(inc).lower(), **({"workspaceIds": ",".join(ids)} if ids else {})}
        return jsonify(page(recs, render, "/connections", extra))

    def lookup(cid: str) -> dict:
        rec = store.connections.get(cid) if is_uuid(cid) else None
        if rec is None:
            raise problems.not_found("connection", cid)
        return rec

    @bp.get("/connections/<cid>")
    def get_connection(cid):
        with store.lock:
            return jsonify(render(lookup(cid)))

    @bp.patch("/connections/<cid>")
    def patch_connection(cid):
        body = json_body(_BODY)
        schedule = validate_schedule(body["schedule"]) if body.get("schedule") else None
        catalog = None
        if body.get("configurations") is not None:
            with store.lock:
                src = dict(get_or_404(store, store.sources, lookup(cid)["sourceId"], "source"))
            catalog = emu.discovery.infos(src)
        with store.lock:
            rec = lookup(cid)
            if rec["deleted"]:
                raise problems.state_conflict(f"Connection {cid} is deprecated (deleted)")
            if catalog is not None:
                rec["streams"] = resolve_streams(catalog, body["configurations"])
                rec["catalogStreams"] = sorted(catalog)
            if schedule:
                rec["schedule"] = schedule
            for k in ("name", "namespaceDefinition", "namespaceFormat", "prefix", "status",
                      "nonBreakingSchemaUpdatesBehavior", "tags"):
                if body.get(k) is not None:
                    rec[k] = body[k]
            if rec["status"] == "deprecated":
                rec["deleted"] = True
            return jsonify(render(rec))

    @bp.get("/streams")
    def get_stream_properties():
        # getStreamProperties: GET /v1/streams?sourceId=&destinationId=&ignoreCache= (the
        # source's discovered catalog; syncModes only when the destination is named).
        sid, did = request.args.get("sourceId"), request.args.get("destinationId")
        if not sid:
            raise problems.bad_request("sourceId: required query parameter")
        with store.lock:
            src = dict(get_or_404(store, store.sources, sid, "source"))
            if did:
                get_or_404(store, store.destinations, did, "destination")
        streams = emu.discovery.catalog(src, ignore_cache=query_bool("ignoreCache"))
        modes = S3_DESTINATION_SYNC_MODES if did else None
        return jsonify([stream_properties(s, modes) for s in streams.values()])

    @bp.delete("/connections/<cid>")
    def delete_connection(cid):
        with store.lock:
            rec = lookup(cid)
            if rec["deleted"]:
                raise problems.not_found("connection", cid)
            rec["deleted"], rec["status"] = True, "deprecated"
        return "", 204
