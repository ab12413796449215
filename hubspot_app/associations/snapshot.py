"""One account's association-label snapshot: gzip JSON Lines chunks, then the manifest.

The raw contract (glue/README.md, "Association labels"), under the lake's raw prefix:
- chunks:   raw/<hub_id>/association_labels/<snapshot_id>/<from>__<to>/<NNNNN>.jsonl.gz, one
  line per (from id, to id, association type); NNNNN counts the pair's non-empty chunks, and a
  chunk holds the associations of one slice of `ids_per_chunk` from-ids (listed in HubSpot's
  order from a cursor the state carries), so a redelivered step writes the same keys again;
- manifest: raw/<hub_id>/association_labels/<snapshot_id>.manifest.json, written last, once:
  S3's conditional write (`If-None-Match: *`: "Conditional writes",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html) makes the
  first manifest of a snapshot the only one; a duplicate chain of steps gets 412 and stops.

The work is done in steps (`read_step`): each reads chunk after chunk while `has_time()` says
so, and returns the state to continue from (the queue's continuation message). A step begins by
looking for the manifest: a snapshot already complete is not written again.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hubspot_app import logs
from hubspot_app.associations.crm import BATCH_READ_MAX, LIST_PAGE_MAX, HubSpotCrm, MissingScopes
from hubspot_app.associations.pairs import pair_name
from hubspot_app.errors import Transient, malformed

log = logging.getLogger(__name__)

FORMAT = "association_labels/v1"
STREAM = "association_labels"
MESSAGE_TYPE = "association_labels"
COMPLETE, CONTINUE, ALREADY_COMPLETE = "complete", "continue", "already_complete"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def snapshot_id(hub_id: int, at: datetime, salt: str = "") -> str:
    """`<UTC timestamp>-<8 hex>`: sorts by time; the hex is derived from the hub, the time and
    `salt` (the schedule event's id), so a redelivered schedule names the same snapshot."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{int(hub_id)}:{stamp}:{salt}".encode()).hexdigest()[:8]
    return f"{stamp}-{digest}"


@dataclass(frozen=True)
class Layout:
    """Where a snapshot's files go: the lake bucket's raw prefix (LakeSettings)."""
    bucket: str
    raw_prefix: str = "raw"

    def folder(self, hub_id: int) -> str:
        return f"{self.raw_prefix.strip('/')}/{int(hub_id)}/{STREAM}"

    def chunk_key(self, hub_id: int, snapshot: str, from_type: str, to_type: str, n: int) -> str:
        return f"{self.folder(hub_id)}/{snapshot}/{pair_name(from_type, to_type)}/{n:05d}.jsonl.gz"

    def manifest_key(self, hub_id: int, snapshot: str) -> str:
        return f"{self.folder(hub_id)}/{snapshot}.manifest.json"


@dataclass
class SnapshotState:
    """Everything a step needs to go on; it travels in the queue's message (small: counts, not
    keys; at most 23 pairs)."""
    hub_id: int
    snapshot_id: str
    started_at: str
    pairs: list[list[str]]                                   # still covered, in order
    skipped: list[list[str]] = field(default_factory=list)   # for want of scopes
    counts: dict[str, list[int]] = field(default_factory=dict)  # pair -> [chunks, records]
    pair: int = 0                                            # index into pairs
    after: str | None = None                                 # list cursor within that pair
    step: int = 0

    def message(self) -> dict:
        return {"type": MESSAGE_TYPE, "hub_id": self.hub_id, "snapshot_id": self.snapshot_id,
                "started_at": self.started_at, "pairs": self.pairs, "skipped": self.skipped,
                "counts": self.counts, "pair": self.pair, "after": self.after, "step": self.step}

    @classmethod
    def from_message(cls, m: dict) -> SnapshotState:
        try:
            state = cls(hub_id=int(m["hub_id"]), snapshot_id=str(m["snapshot_id"]),
                        started_at=str(m["started_at"]),
                        pairs=[[str(a), str(b)] for a, b in m["pairs"]],
                        skipped=[[str(a), str(b)] for a, b in m.get("skipped") or []],
                        counts={str(k): [int(v[0]), int(v[1])]
                                for k, v in (m.get("counts") or {}).items()},
                        pair=int(m.get("pair") or 0),
                        after=str(m["after"]) if m.get("after") else None,
                        step=int(m.get("step") or 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(f"an association_labels continuation needs {exc}") from None
        if not 0 <= state.pair <= len(state.pairs):
            raise malformed("an association_labels continuation's pair is out of range")
        return state


def lines_of(from_type: str, to_type: str, found: list[tuple[str, dict]]) -> list[bytes]:
    """One JSON line per (from id, to id, association type), the contract's keys in order."""
    out = []
    for from_id, to in found:
        for kind in to.get("associationTypes") or []:
            out.append(json.dumps({
                "from_object_type": from_type, "from_id": str(from_id),
                "to_object_type": to_type, "to_id": str(to.get("toObjectId")),
                "category": kind.get("category"), "type_id": int(kind["typeId"]),
                "label": kind.get("label")}, separators=(",", ":")).encode())
    return out


def gzip_lines(lines: list[bytes]) -> bytes:
    """gzip with no timestamp: the same lines give the same bytes (and ETag) on a rewrite."""
    return gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0)


def manifest_exists(s3: Any, layout: Layout, state: SnapshotState) -> bool:
    """Listed rather than HEAD-ed: without s3:ListBucket a HEAD of a missing key answers 403,
    not 404 (S3 API Reference, HeadObject, Permissions); ListBucket is granted for the
    association_labels prefixes only."""
    key = layout.manifest_key(state.hub_id, state.snapshot_id)
    answer = s3.list_objects_v2(Bucket=layout.bucket, Prefix=key, MaxKeys=1)
    return any(o.get("Key") == key for o in answer.get("Contents") or [])


def manifest(layout: Layout, state: SnapshotState, completed_at: datetime) -> dict:
    pairs = []
    for from_type, to_type in state.pairs:
        chunks, records = state.counts.get(pair_name(from_type, to_type), [0, 0])
        pairs.append({"from": from_type, "to": to_type, "records": records, "chunks": [
            layout.chunk_key(state.hub_id, state.snapshot_id, from_type, to_type, n)
            for n in range(chunks)]})
    return {"format": FORMAT, "hub_id": str(state.hub_id), "snapshot_id": state.snapshot_id,
            "started_at": state.started_at, "completed_at": iso(completed_at), "pairs": pairs}


def write_manifest(s3: Any, layout: Layout, state: SnapshotState, completed_at: datetime) -> bool:
    """True when this call wrote it; False when the snapshot's manifest already existed."""
    from botocore.exceptions import ClientError

    body = json.dumps(manifest(layout, state, completed_at), indent=1).encode()
    try:
        s3.put_object(Bucket=layout.bucket, Key=layout.manifest_key(state.hub_id, state.snapshot_id),
                      Body=body, ContentType="application/json", IfNoneMatch="*")
        return True
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("PreconditionFailed", "412"):
            return False
        if code in ("ConditionalRequestConflict", "409"):  # a concurrent write: try again later
            raise Transient("the manifest was being written concurrently") from None
        raise


@dataclass
class StepReport:
    outcome: str                  # complete | continue | already_complete
    chunks: int = 0               # written in this step
    records: int = 0
    calls: int = 0
    newly_skipped: list[str] = field(default_factory=list)


def read_step(state: SnapshotState, crm: HubSpotCrm, s3: Any, layout: Layout, *,
              has_time: Callable[[], bool], ids_per_chunk: int = BATCH_READ_MAX,
              now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> StepReport:
    """Reads chunks from `state` on (mutating it) while `has_time()`; at least one chunk per
    step, so a continuation always moves on. Writes the manifest when every pair is done."""
    report = StepReport(CONTINUE)
    if manifest_exists(s3, layout, state):
        report.outcome = ALREADY_COMPLETE
        return report
    size = max(1, min(ids_per_chunk, BATCH_READ_MAX))
    did_any = False
    while state.pair < len(state.pairs):
        if did_any and not has_time():
            report.calls = crm.calls
            return report
        from_type, to_type = state.pairs[state.pair]
        name = pair_name(from_type, to_type)
        try:
            ids, cursor = _slice(crm, from_type, state.after, size)
            found = crm.batch_read(from_type, to_type, ids) if ids else []
        except MissingScopes:
            # The token cannot read one of the pair's types (scopes changed since the install):
            # the pair is left out of the snapshot and its manifest.
            logs.log_event(log, "pair skipped: missing scopes", logging.WARNING, pair=name)
            state.skipped.append(state.pairs.pop(state.pair))
            state.counts.pop(name, None)
            state.after = None
            report.newly_skipped.append(name)
            did_any = True
            continue
        lines = lines_of(from_type, to_type, found)
        chunks, records = state.counts.get(name, [0, 0])
        if lines:
            key = layout.chunk_key(state.hub_id, state.snapshot_id, from_type, to_type, chunks)
            s3.put_object(Bucket=layout.bucket, Key=key, Body=gzip_lines(lines),
                          ContentType="application/gzip",
                          Metadata={"records": str(len(lines)), "snapshot-id": state.snapshot_id})
            chunks, records = chunks + 1, records + len(lines)
            report.chunks += 1
            report.records += len(lines)
        state.counts[name] = [chunks, records]
        state.after = cursor
        if cursor is None:
            state.pair += 1
        did_any = True
    report.calls = crm.calls
    report.outcome = COMPLETE if write_manifest(s3, layout, state, now()) else ALREADY_COMPLETE
    return report


def _slice(crm: HubSpotCrm, object_type: str, after: str | None, size: int
           ) -> tuple[list[str], str | None]:
    """Up to `size` ids from `after` on, and the cursor after them (None: none left)."""
    ids: list[str] = []
    cursor = after
    while len(ids) < size:
        page, cursor = crm.list_ids(object_type, cursor, limit=min(LIST_PAGE_MAX, size - len(ids)))
        ids += page
        if cursor is None:
            break
    return ids, cursor
