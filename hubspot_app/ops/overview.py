"""`ops account list`: every account on one screen, the view an operator opens first.

Status and token health come from the accounts table; dead letters from the three DLQs (peeked,
then released); the last curated run from the Glue job's per-account ledger object in the lake
(its LastModified is when the job last committed that account's files).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

COLUMNS = ("hub_id", "hub_domain", "status", "token_health", "last_sync_at", "last_curated_at",
           "dead_letters")


def dead_letters_by_hub() -> tuple[Counter, list[str]]:
    """{hub_id: messages in any DLQ}, and the DLQs that could not be read (with why)."""
    import boto3

    from .dlq import QUEUE_NAMES, peek, route

    counts: Counter = Counter()
    unread = []
    sqs = boto3.client("sqs")
    for name in QUEUE_NAMES:
        try:
            r = route(name)
            if not r.dlq:
                continue
            for letter in peek(sqs, r.dlq):
                counts.update(set(letter["hub_ids"]))
        except Exception as exc:  # noqa: BLE001 - the overview shows the rest and says which DLQ
            unread.append(f"{name}: {type(exc).__name__}")
    return counts, unread


def curated_at_by_hub(bucket: str, curated_prefix: str) -> dict[int, datetime]:
    """When the Glue job last committed each account's files (its ledger object's LastModified)."""
    import boto3

    prefix = f"{curated_prefix}/_state/ledger/"
    out: dict[int, datetime] = {}
    for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                              Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix):].removesuffix(".json")
            if name.isdigit():
                out[int(name)] = obj["LastModified"]
    return out


def account_rows(status: str | None = None) -> tuple[list[dict], list[str]]:
    """One row per account (COLUMNS), oldest install first, and warnings about missing sources."""
    from hubspot_app.config import get_health_settings
    from hubspot_app.models import Account

    health = get_health_settings()
    warnings: list[str] = []
    letters, unread = dead_letters_by_hub()
    warnings += [f"DLQ not read ({u})" for u in unread]
    curated: dict[int, datetime] = {}
    if health.lake_bucket:
        try:
            curated = curated_at_by_hub(health.lake_bucket, health.curated_prefix)
        except Exception as exc:  # noqa: BLE001 - the lake may be unreachable; the rest still helps
            warnings.append(f"last curated run not read from s3://{health.lake_bucket} "
                            f"({type(exc).__name__})")
    else:
        warnings.append("LAKE_BUCKET is not set: last curated run unknown")
    condition = Account.status == status if status else None
    rows = []
    for a in Account.scan(condition):
        hub = int(a.hub_id)
        rows.append({"hub_id": hub, "hub_domain": a.hub_domain, "status": a.status,
                     "token_health": a.token_health, "last_sync_at": a.last_sync_at,
                     "last_curated_at": curated.get(hub), "dead_letters": letters.get(hub, 0),
                     "installed_at": a.installed_at})
    rows.sort(key=lambda r: (r["installed_at"], r["hub_id"]))
    return rows, warnings


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def render(rows: list[dict]) -> str:
    head = (f"{'HUB ID':>10}  {'DOMAIN':<28} {'STATUS':<20} {'TOKEN':<12} {'LAST SYNC':<16}  "
            f"{'LAST CURATED':<16}  {'DLQ':>3}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['hub_id']:>10}  {(r['hub_domain'] or '-')[:28]:<28} {r['status']:<20} "
                     f"{(r['token_health'] or '-'):<12} {_when(r['last_sync_at']):<16}  "
                     f"{_when(r['last_curated_at']):<16}  {r['dead_letters']:>3}")
    by_status = Counter(r["status"] for r in rows)
    lines.append(f"{len(rows)} account(s): " + (", ".join(
        f"{n} {s}" for s, n in sorted(by_status.items())) or "none"))
    return "\n".join(lines)
