"""In-memory state of the emulator, guarded by one re-entrant lock.

One lock (rather than per-table locks) keeps check-then-act sequences such as "create a
connection if its source exists" atomic; the API is I/O bound, so contention does not matter.
Deleted resources are kept as tombstones (`deleted=True`), as Airbyte does, so `includeDeleted`
and the admin counts can see them.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter


def now_s() -> int:
    return int(time.time())


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.workspaces: dict[str, dict] = {}
        self.sources: dict[str, dict] = {}
        self.destinations: dict[str, dict] = {}
        self.connections: dict[str, dict] = {}
        self.jobs: dict[int, dict] = {}
        # Workspace OAuth overrides: (workspaceId, actorType, definition name) -> flat params.
        self.oauth_params: dict[tuple, dict] = {}
        self.next_job_id = 1
        # Per connection: the connector state (stream name -> AirbyteStateMessage dict) and the
        # generation id, which a refresh/clear bumps (full refresh overwrite uses it).
        self.connection_state: dict[str, dict] = {}
        self.generation: dict[str, int] = {}
        self.requests = Counter()  # "METHOD /v1/<collection>" -> count, for the benchmark
        self.rejected = Counter()  # "429", "5xx", "dropped", ... -> count
        self._seq = 0

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def stamp(self, record: dict) -> dict:
        # createdAt has second resolution in Airbyte; a sequence number keeps list order stable.
        with self.lock:
            self._seq += 1
            record.setdefault("createdAt", now_s())
            record["_seq"] = self._seq
            record.setdefault("deleted", False)
        return record

    @staticmethod
    def listed(rec: dict) -> bool:
        """Whether lists show the record yet (a late_create fault hides it for a while)."""
        until = rec.get("hidden_until")
        return until is None or until <= time.time()

    def live(self, table: dict, key: str, kind: str):
        """The live record or None (tombstones count as missing, as in Airbyte's get)."""
        rec = table.get(key)
        return rec if rec is not None and not rec["deleted"] else None

    def running_job(self, connection_id: str) -> dict | None:
        for job in self.jobs.values():
            if job["connectionId"] == connection_id and job["status"] in ("pending", "running"):
                return job
        return None

    def counts_by_name(self, table: dict) -> dict:
        live, deleted = Counter(), Counter()
        for rec in table.values():
            (deleted if rec["deleted"] else live)[rec["name"]] += 1
        return {"live": dict(live), "deleted": dict(deleted)}

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "workspaces": self.counts_by_name(self.workspaces),
                "sources": self.counts_by_name(self.sources),
                "destinations": self.counts_by_name(self.destinations),
                "connections": self.counts_by_name(self.connections),
                "totals": {
                    "workspaces": sum(not r["deleted"] for r in self.workspaces.values()),
                    "sources": sum(not r["deleted"] for r in self.sources.values()),
                    "destinations": sum(not r["deleted"] for r in self.destinations.values()),
                    "connections": sum(not r["deleted"] for r in self.connections.values()),
                    "jobs": len(self.jobs),
                },
                "duplicates": {
                    kind: sorted(n for n, c in self.counts_by_name(t)["live"].items() if c > 1)
                    for kind, t in (("sources", self.sources), ("connections", self.connections),
                                    ("destinations", self.destinations))
                },
                "jobs_by_status": dict(Counter(j["status"] for j in self.jobs.values())),
                "requests": dict(self.requests),
                "rejected": dict(self.rejected),
            }
