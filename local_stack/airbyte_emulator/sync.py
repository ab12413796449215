"""Placeholder; the real sync lands next."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class SyncContext:
    job_id: int
    job_type: str
    connection: dict
    source: dict
    destination: dict
    state: dict
    generations: dict
    cancelled: threading.Event
    s3_endpoint_url: str | None
    sandbox_url: str | None
    aws_region: str


@dataclass
class SyncResult:
    rows_by_stream: dict = field(default_factory=dict)
    files_by_stream: dict = field(default_factory=dict)
    bytes_synced: int = 0
    state: dict = field(default_factory=dict)
    generations: dict = field(default_factory=dict)


def run_job(ctx: SyncContext) -> SyncResult:
    raise RuntimeError("sync not implemented yet")
