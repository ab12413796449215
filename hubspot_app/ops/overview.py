"""`ops account list`: every account on one screen, the view an operator opens first.

Status and token health come from the accounts table; dead letters from the three DLQs (peeked,
then released); the last curated run from the Glue job's run history (GetJobRuns: the last
SUCCEEDED curate run whose --hub_ids named the account or ALL). The job keeps its processed
files in an Iceberg table (glue/README.md, Bookkeeping), which Lambda and this CLI cannot read
without a query engine; Glue's run history answers "when was this account last curated".
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

COLUMNS = ("hub_id", "hub_domain", "status", "token_health", "last_sync_at", "last_curated_at",
           "dead_letters")


def dead_letters_by_hub(svc: Services) -> tuple[Counter, list[str]]:
    """{hub_id: messages in any DLQ}, and the DLQs that could not be read (with why)."""
    from hubspot_app.ops.dlq import QUEUE_NAMES, peek, route

    counts: Counter = Counter()
    unread = []
    for name in QUEUE_NAMES:
        try:
            r = route(name, svc)
            if not r.dlq:
                continue
            for letter in peek(svc.sqs, r.dlq):
                counts.update(set(letter["hub_ids"]))
        except Exception as exc:  # noqa: BLE001 - the overview shows the rest and says which DLQ
            unread.append(f"{name}: {type(exc).__name__}")
    return counts, unread


def curated_at_by_hub(glue, job_name: str, max_pages: int = 5) -> dict[object, datetime]:
    """{hub_id or "ALL": when the last SUCCEEDED curate run covering it completed}, from the
    job's most recent runs (GetJobRuns answers newest first; ``max_pages`` bounds the calls).
    Purge and maintenance runs curate nothing and do not count."""
    out: dict[object, datetime] = {}
    pages = glue.get_paginator("get_job_runs").paginate(JobName=job_name,
                                                         PaginationConfig={"MaxItems": 200 * max_pages})
    for page in pages:
        for run in page.get("JobRuns", []):
            args, done = run.get("Arguments") or {}, run.get("CompletedOn")
            if run.get("JobRunState") != "SUCCEEDED" or done is None or "--purge_hub_ids" in args \
                    or args.get("--mode", "curate") != "curate":
                continue
            named = args.get("--hub_ids", "ALL")
            for h in (["ALL"] if named in ("", "ALL", "*") else named.split(",")):
                key: object = "ALL" if h == "ALL" else int(h) if h.strip().isdigit() else None
                if key is not None and (key not in out or done > out[key]):
                    out[key] = done
    return out


def account_rows(svc: Services, status: str | None = None) -> tuple[list[dict], list[str]]:
    """One row per account (COLUMNS), oldest install first, and warnings about missing sources."""
    from hubspot_app.models import Account

    warnings: list[str] = []
    letters, unread = dead_letters_by_hub(svc)
    warnings += [f"DLQ not read ({u})" for u in unread]
    curated: dict[object, datetime] = {}
    job = svc.settings.glue.job_name
    if job:
        try:
            curated = curated_at_by_hub(svc.glue, job)
        except Exception as exc:  # noqa: BLE001 - Glue may be unreachable; the rest still helps
            warnings.append(f"last curated run not read from Glue job {job} "
                            f"({type(exc).__name__})")
    else:
        warnings.append("GLUE_JOB_NAME is not set: last curated run unknown")
    condition = Account.status == status if status else None
    rows = []
    for a in Account.scan(condition):
        hub = int(a.hub_id)
        rows.append({"hub_id": hub, "hub_domain": a.hub_domain, "status": a.status,
                     "token_health": a.token_health, "last_sync_at": a.last_sync_at,
                     "last_curated_at": max((t for t in (curated.get(hub), curated.get("ALL"))
                                             if t is not None), default=None),
                     "dead_letters": letters.get(hub, 0),
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
