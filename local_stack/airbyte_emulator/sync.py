"""One job's work: discover + read with the official HubSpot connector, Parquet into S3.

Like Airbyte: the schema is refreshed (discover) before reading, so each account's per-property
JSON schema shapes its Parquet; incremental streams get the connection's saved state and full
refresh streams none; state is committed only when the whole sync succeeds; a full-refresh
overwrite stream gets a new generation and older generations are deleted after the new files
are complete. Records are buffered per stream and flushed every `rows_per_file` rows (Airbyte
rolls files at ~200 MB) and at the end.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from .destination import StreamFiles, now_ms, s3_client

ROWS_PER_FILE = 5000


@dataclass
class SyncContext:
    job_id: int
    job_type: str  # sync | reset | refresh | clear
    connection: dict
    source: dict
    destination: dict
    state: dict  # stream name -> AirbyteStateMessage (dict)
    generations: dict  # stream name -> generation id
    cancelled: threading.Event
    s3_endpoint_url: str | None
    sandbox_url: str | None
    aws_region: str
    rows_per_file: int = ROWS_PER_FILE
    on_schema_change: object = None  # callable(connection): the refreshed streams, stored


@dataclass
class SyncResult:
    rows_by_stream: dict = field(default_factory=dict)
    files_by_stream: dict = field(default_factory=dict)
    bytes_synced: int = 0
    state: dict = field(default_factory=dict)
    generations: dict = field(default_factory=dict)


class SyncFailed(RuntimeError):
    pass


def namespace_of(conn: dict) -> str | None:
    if conn["namespaceDefinition"] == "custom_format":
        # HubSpot streams have no source namespace, so ${SOURCE_NAMESPACE} becomes "".
        return (conn.get("namespaceFormat") or "").replace("${SOURCE_NAMESPACE}", "") or None
    return None  # "destination": S3 has no default namespace; "source": HubSpot has none


def configured_catalog(conn: dict, discovered: dict, generations: dict, sync_id: int) -> dict:
    streams = []
    for s in conn["streams"]:
        disc = discovered.get(s["name"])
        if disc is None:
            continue  # not granted to this account (missing scope): Airbyte skips it too
        mode = s["syncMode"]
        streams.append({
            "stream": disc,
            "sync_mode": "incremental" if mode.startswith("incremental") else "full_refresh",
            "destination_sync_mode": "overwrite" if mode == "full_refresh_overwrite" else "append",
            "cursor_field": s.get("cursorField") or disc.get("default_cursor_field") or [],
            "primary_key": s.get("primaryKey") or disc.get("source_defined_primary_key") or [],
            "generation_id": generations[s["name"]],
            "minimum_generation_id": generations[s["name"]] if mode == "full_refresh_overwrite" else 0,
            "sync_id": sync_id,
        })
    return {"streams": streams}


def next_generations(ctx: SyncContext) -> dict:
    out = {}
    for s in ctx.connection["streams"]:
        gen = ctx.generations.get(s["name"], 0)
        # Overwrite syncs, refreshes and clears start a new generation; appends keep theirs.
        bump = ctx.job_type != "sync" or s["syncMode"] == "full_refresh_overwrite"
        out[s["name"]] = gen + 1 if bump and s["name"] in ctx.generations else gen
    return out


def run_job(ctx: SyncContext) -> SyncResult:
    from . import connector_adapter

    conn, dest_cfg = ctx.connection, ctx.destination["configuration"]
    generations = next_generations(ctx)
    s3 = s3_client(dest_cfg, ctx.s3_endpoint_url, ctx.aws_region)
    sync_ms, ns = now_ms(), namespace_of(conn)
    prefix = conn.get("prefix") or ""
    files = {s["name"]: StreamFiles(s3, dest_cfg, ns, prefix + s["name"], sync_ms)
             for s in conn["streams"]}
    if ctx.job_type in ("reset", "clear"):
        for f in files.values():
            f.delete_older(None)
        return SyncResult(rows_by_stream={k: 0 for k in files}, files_by_stream={k: [] for k in files},
                          state={}, generations=generations)
    if not ctx.sandbox_url:
        raise SyncFailed("the emulator was started without hubspot_sandbox_url")

    config = ctx.source["configuration"]
    discovered = connector_adapter.discover(config, ctx.sandbox_url, cancel=ctx.cancelled)
    from .discovery import propagate

    if propagate(conn, discovered) and callable(ctx.on_schema_change):
        ctx.on_schema_change(conn)  # applied before the read, kept even if the sync fails
        for s in conn["streams"]:
            if s["name"] not in files:
                files[s["name"]] = StreamFiles(s3, dest_cfg, ns, prefix + s["name"], sync_ms)
                generations.setdefault(s["name"], 0)
    catalog = configured_catalog(conn, discovered, generations, ctx.job_id)
    incremental = {c["stream"]["name"] for c in catalog["streams"] if c["sync_mode"] == "incremental"}
    state_in = [] if ctx.job_type == "refresh" else \
        [m for name, m in ctx.state.items() if name in incremental]
    schemas = {c["stream"]["name"]: c["stream"]["json_schema"] for c in catalog["streams"]}
    result = SyncResult(state={} if ctx.job_type == "refresh" else
                        {k: v for k, v in ctx.state.items() if k in incremental},
                        generations=generations)
    buffers: dict[str, list] = {name: [] for name in schemas}
    first_emitted: dict[str, int] = {}

    def flush(name: str) -> None:
        if buffers[name]:
            files[name].write(buffers[name], schemas[name], first_emitted.pop(name),
                              generations[name], ctx.job_id)
            buffers[name] = []

    errors = []
    try:
        _consume(connector_adapter.read(config, catalog, state_in or None, ctx.sandbox_url,
                                        cancel=ctx.cancelled),
                 ctx, buffers, first_emitted, result, flush, errors)
    except Exception as exc:  # noqa: BLE001 - a non-zero exit: keep the TRACE messages already collected
        errors.append(f"{type(exc).__name__}: {exc}")
    for name in buffers:
        flush(name)
    if errors:
        raise SyncFailed("; ".join(errors)[:2000])
    for name, c in ((c["stream"]["name"], c) for c in catalog["streams"]):
        if c["destination_sync_mode"] == "overwrite":
            files[name].delete_older(generations[name])
    for name, f in files.items():
        result.rows_by_stream.setdefault(name, 0)
        result.files_by_stream[name] = list(f.keys)
    return result


def _consume(messages, ctx, buffers, first_emitted, result, flush, errors) -> None:
    for msg in messages:
        if ctx.cancelled.is_set():
            break
        kind = msg.get("type")
        if kind == "RECORD":
            rec = msg["record"]
            name = rec["stream"]
            if name not in buffers:
                continue
            buffers[name].append(rec["data"])
            first_emitted.setdefault(name, int(rec.get("emitted_at") or now_ms()))
            result.rows_by_stream[name] = result.rows_by_stream.get(name, 0) + 1
            result.bytes_synced += len(json.dumps(rec["data"], separators=(",", ":")))
            if len(buffers[name]) >= ctx.rows_per_file:
                flush(name)
        elif kind == "STATE":
            # Held until the sync succeeds (then every record before it is in S3); flushing
            # per state message would write one tiny file per page.
            result.state[_state_key(msg["state"])] = msg["state"]
        elif kind == "TRACE" and msg["trace"].get("type") == "ERROR":
            errors.append(msg["trace"]["error"].get("message", "connector error"))


def _state_key(state: dict) -> str:
    if state.get("type") == "STREAM":
        return state["stream"]["stream_descriptor"]["name"]
    return "__" + str(state.get("type", "LEGACY")).lower() + "__"
