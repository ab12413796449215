"""Association-label snapshots as the reader lands them (glue/README.md, "Association labels":
the contract between the reader Lambda and this job), without Spark: their keys, the
manifest's checks, and which manifests a run curates.

The Airbyte connector keeps only associated ids (it drops HubSpot's ``associationTypes``), so
our own reader lands, per account, gzip'd JSON Lines chunks and, LAST, a manifest:

    raw/<hub_id>/association_labels/<snapshot_id>/<from>__<to>/<chunk>.jsonl.gz
    raw/<hub_id>/association_labels/<snapshot_id>.manifest.json

Chunks without a manifest are a snapshot still being written: never curated, never reported.
A manifest's identity is its key + ETag, as for the Parquet files (processed_files)."""
from __future__ import annotations

import re

STREAM = "association_labels"  # the folder's name; the connector has no stream of that name
FORMAT = "association_labels/v1"
# The 23 pairs the reader reads (from -> to, HubSpot's v3/v4 object type names).
ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
PAIRS = frozenset({("contacts", "companies"), ("deals", "contacts"), ("deals", "companies"),
                   *((e, t) for e in ENGAGEMENTS
                     for t in ("contacts", "companies", "deals", "tickets"))})
_SNAPSHOT = r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}"  # UTC timestamp first: sorts by time
_MANIFEST = re.compile(rf"^raw/(?P<hub>[0-9]+)/{STREAM}/(?P<snap>{_SNAPSHOT})\.manifest\.json$")
_CHUNK = re.compile(rf"^raw/(?P<hub>[0-9]+)/{STREAM}/(?P<snap>{_SNAPSHOT})/"
                    r"(?P<from>[a-z_]+)__(?P<to>[a-z_]+)/[A-Za-z0-9_.-]+\.jsonl\.gz$")


def manifest_key(key: str) -> tuple[str, str] | None:
    """raw/<hub>/association_labels/<snapshot_id>.manifest.json -> (hub, snapshot_id)."""
    m = _MANIFEST.match(key)
    return (m["hub"], m["snap"]) if m else None


def chunk_key(key: str) -> tuple[str, str, str, str] | None:
    """A chunk's key -> (hub, snapshot_id, from, to)."""
    m = _CHUNK.match(key)
    return (m["hub"], m["snap"], m["from"], m["to"]) if m and ".." not in key else None


def in_folder(key: str) -> bool:
    parts = key.split("/")
    return len(parts) > 3 and parts[0] == "raw" and parts[2] == STREAM


def problems(manifest, key: str, listing: dict[str, tuple[int, str]]) -> str | None:
    """Why the manifest at ``key`` cannot be curated (None: it can, its line counts still to
    be checked): its format, its hub_id and snapshot_id against its key (a manifest in one
    account's folder must never write another's rows), every pair one of the 23 at most once,
    each chunk a key of that pair's folder of this snapshot that exists (``listing``: the
    folder's keys), ``records`` a count."""
    hub, snap = manifest_key(key) or (None, None)
    if not isinstance(manifest, dict):
        return "manifest is not a JSON object"
    if manifest.get("format") != FORMAT:
        return f"format is {manifest.get('format')!r}, not {FORMAT!r}"
    if str(manifest.get("hub_id")) != hub:
        return f"hub_id {manifest.get('hub_id')!r} is not the folder's {hub}"
    if manifest.get("snapshot_id") != snap:
        return f"snapshot_id {manifest.get('snapshot_id')!r} is not the key's {snap}"
    pairs = manifest.get("pairs")
    if not isinstance(pairs, list):
        return "pairs is not a list"
    seen = set()
    for p in pairs:
        if not isinstance(p, dict):
            return "a pair is not an object"
        pair = (p.get("from"), p.get("to"))
        if pair not in PAIRS:
            return f"pair {pair[0]!r} -> {pair[1]!r} is not one the reader reads"
        if pair in seen:
            return f"pair {pair[0]} -> {pair[1]} listed twice"
        seen.add(pair)
        records, chunks = p.get("records"), p.get("chunks")
        if not isinstance(records, int) or isinstance(records, bool) or records < 0:
            return f"records of {pair[0]} -> {pair[1]} is not a count: {records!r}"
        if not isinstance(chunks, list) or len(set(map(str, chunks))) != len(chunks):
            return f"chunks of {pair[0]} -> {pair[1]} is not a list of distinct keys"
        for c in chunks:
            if not isinstance(c, str) or chunk_key(c) != (hub, snap, *pair):
                return f"chunk {c!r} is not in {pair[0]}__{pair[1]}/ of this snapshot"
            if c not in listing:
                return f"chunk {c} does not exist"
        if records and not chunks:
            return f"{pair[0]} -> {pair[1]} has {records} records and no chunks"
    return None


def choose(listing: dict[str, tuple[int, str]], processed: set[tuple[str, str]],
           held: dict[str, dict]) -> tuple[list[str], list[tuple[str, str]]]:
    """One account's manifests a run looks at: (new ones to curate, oldest first; [(key,
    newest curated snapshot_id)] of new ones older than the newest already curated, skipped).
    New: (key, ETag) not in ``processed`` and not quarantined at that ETag (``held``: the
    account's quarantine record's files)."""
    done = [manifest_key(k)[1] for k, _ in processed if manifest_key(k)]
    newest = max(done, default="")
    fresh, skipped = [], []
    for k in sorted(listing, key=lambda k: manifest_key(k)[1] if manifest_key(k) else ""):
        etag = listing[k][1]
        if not manifest_key(k) or (k, etag) in processed or held.get(k, {}).get("etag") == etag:
            continue
        if manifest_key(k)[1] < newest:
            skipped.append((k, newest))
        else:
            fresh.append(k)
    return fresh, skipped
