"""A source's discovered catalog, as Airbyte keeps it: the connector's `discover` run for the
source's configuration (as its connector receives it, OAuth override injected), cached per
source and configuration (airbyte-platform SchedulerHandler.discoverSchemaForSourceFromSourceId
keys its cache on the source id, the connector version and the configuration's MD5: a new
refresh token means a new discover; `ignoreCache` forces one).

The connector itself honours the granted scopes: it introspects its access token and leaves out
every stream none of whose scopes were granted (source_hubspot/source.py `scopes`), and finds the
account's custom objects through the schemas API. Mode "static" (API-only tests whose tokens
the sandbox does not know) answers the fixed catalog of catalog.py instead.
"""
from __future__ import annotations

import hashlib
import json
import threading

from . import problems
from .catalog import StreamInfo, hubspot_catalog

# destination-s3's supported sync modes (S3V2SpecificationExtension: OVERWRITE, APPEND).
S3_DESTINATION_SYNC_MODES = ("overwrite", "append")


def static_streams(extra: dict | None = None) -> dict[str, dict]:
    """The fixed catalog as discovered AirbyteStream dicts."""
    out = {}
    for name, info in hubspot_catalog(extra).items():
        out[name] = {"name": name, "json_schema": {"type": "object", "properties": {}},
                     "supported_sync_modes": ["full_refresh"]
                     + (["incremental"] if info["incremental"] else []),
                     "source_defined_cursor": bool(info["cursorField"]),
                     "default_cursor_field": list(info["cursorField"]),
                     "source_defined_primary_key": [list(k) for k in info["primaryKey"]]}
    return out


def stream_info(stream: dict) -> StreamInfo:
    """What connection validation needs of a discovered stream."""
    return StreamInfo(name=stream["name"],
                      incremental="incremental" in (stream.get("supported_sync_modes") or []),
                      primaryKey=[list(k) for k in stream.get("source_defined_primary_key") or []],
                      cursorField=list(stream.get("default_cursor_field") or []),
                      sourceDefinedCursor=bool(stream.get("source_defined_cursor")))


def valid_sync_modes(stream: dict, destination_modes) -> list[str] | None:
    """StreamsController.getValidSyncModes: None without a destination; else the connection
    modes both ends support, in Airbyte's order."""
    if not destination_modes:
        return None
    source = stream.get("supported_sync_modes") or []
    out = []
    if "full_refresh" in source:
        out += [m for m, d in (("full_refresh_append", "append"),
                               ("full_refresh_overwrite", "overwrite"),
                               ("full_refresh_update", "update"),
                               ("full_refresh_soft_delete", "soft_delete"))
                if d in destination_modes]
    if "incremental" in source:
        out += [m for m, d in (("incremental_append", "append"),
                               ("incremental_deduped_history", "append_dedup"),
                               ("incremental_update", "update"),
                               ("incremental_soft_delete", "soft_delete"))
                if d in destination_modes]
    return out


def property_fields(schema: dict | None) -> list[list[str]]:
    """StreamsController.getStreamFields: every property path, nested ones too."""
    out: list[list[str]] = []
    for name, sub in ((schema or {}).get("properties") or {}).items():
        out.append([name])
        out += [[name, *path] for path in property_fields(sub if isinstance(sub, dict) else {})]
    return out


def stream_properties(stream: dict, destination_modes) -> dict:
    out = {"streamName": stream["name"]}
    modes = valid_sync_modes(stream, destination_modes)
    if modes is not None:
        out["syncModes"] = modes
    if stream.get("namespace"):
        out["streamnamespace"] = stream["namespace"]
    out.update(defaultCursorField=list(stream.get("default_cursor_field") or []),
               sourceDefinedCursorField=bool(stream.get("source_defined_cursor")),
               sourceDefinedPrimaryKey=[list(k) for k in
                                        stream.get("source_defined_primary_key") or []],
               propertyFields=property_fields(stream.get("json_schema")))
    return out


def propagate(conn: dict, discovered: dict) -> list[str]:
    """Airbyte's schema refresh before a sync, for a connection with nonBreakingSchemaUpdates
    `propagate_fully` (ApplySchemaChangeHelper): streams new since the connection's catalog
    was stored are added with CatalogConverter's defaults (source-defined cursor and primary
    key: incremental append_dedup, which destination-s3 lacks, so ensureCompatible falls back
    to full_refresh_overwrite), removed ones dropped. Other settings: the catalog is only
    recorded. Mutates `conn`; returns what changed."""
    known = set(conn.get("catalogStreams") or [])
    changes: list[str] = []
    if conn.get("nonBreakingSchemaUpdatesBehavior") == "propagate_fully" and known:
        for name in sorted(set(discovered) - known):
            info = stream_info(discovered[name])
            conn["streams"].append({"name": name, "syncMode": "full_refresh_overwrite",
                                    "cursorField": list(info["cursorField"]),
                                    "primaryKey": [list(k) for k in info["primaryKey"]]})
            changes.append(f"added {name}")
        gone = known - set(discovered)
        conn["streams"] = [s for s in conn["streams"] if s["name"] not in gone]
        changes += [f"removed {n}" for n in sorted(gone)]
    conn["catalogStreams"] = sorted(discovered)
    return changes


class Discovery:
    """Per-source discovered catalogs. `mode`: "connector" or "static"."""

    def __init__(self, emu, mode: str, extra_streams: dict | None = None):
        if mode not in ("connector", "static"):
            raise ValueError("discovery mode must be 'connector' or 'static'")
        self.emu, self.mode, self.extra = emu, mode, extra_streams
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], dict] = {}
        self._running: dict[tuple[str, str], threading.Lock] = {}
        self.runs = 0  # discovers actually run (tests check the cache with it)

    def catalog(self, source: dict, ignore_cache: bool = False) -> dict[str, dict]:
        """Stream name -> discovered AirbyteStream for the source (call outside store.lock:
        a discover takes seconds)."""
        if self.mode == "static":
            return static_streams(self.extra)
        cfg = self.emu.source_as_run(source)["configuration"]
        key = (source["sourceId"], hashlib.md5(json.dumps(cfg, sort_keys=True).encode(),
                                               usedforsecurity=False).hexdigest())
        with self._lock:
            running = self._running.setdefault(key, threading.Lock())
        with running:  # one discover per source and configuration at a time
            with self._lock:
                if not ignore_cache and key in self._cache:
                    return self._cache[key]
            if not self.emu.hubspot_sandbox_url:
                raise problems.unexpected("Something went wrong in the connector. logs:the "
                                          "emulator was started without hubspot_sandbox_url")
            from . import connector_adapter

            try:
                streams = connector_adapter.discover(cfg, self.emu.hubspot_sandbox_url)
            except RuntimeError as exc:
                raise problems.unexpected(f"Something went wrong in the connector. logs:{exc}"
                                          ) from None
            with self._lock:
                self.runs += 1
                self._cache = {k: v for k, v in self._cache.items() if k[0] != key[0]}
                self._cache[key] = streams
            return streams

    def infos(self, source: dict) -> dict[str, StreamInfo]:
        return {n: stream_info(s) for n, s in self.catalog(source).items()}


__all__ = ["Discovery", "S3_DESTINATION_SYNC_MODES", "stream_properties"]
