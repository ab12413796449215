"""Reconcile: compare every account with what Airbyte has, and queue repairs for the drift.

Reads the whole accounts table and, per workspace, Airbyte's source and connection lists
(a few paginated calls, not one per account), then decides per account:

- active account whose connection or source is gone, or whose settings differ from the stage's
  (streams, sync modes, schedule, namespace, status; source start date and options), or whose
  refresh token changed since it was pushed (re-install) -> a `provision` message with
  `verify: true` (the provisioner checks and patches everything);
- uninstalled account that still has a connection or source -> a `deprovision` message
  (delete, or pause with RECONCILE_UNINSTALLED_ACTION=pause);
- account stuck in `installed`/`provisioning` (no provision message ever arrived, or it was
  lost) for longer than RECONCILE_STUCK_AFTER_SECONDS -> a `provision` message;
- `provisioning_failed` accounts are reported, not retried: their message is in the DLQ and an
  operator redrives it after the fix;
- our resources in Airbyte that no account points at (orphans) are reported;
- an active account with more than one source or connection of its name (a create that
  completed after the provisioner gave up, and showed up after its settle window) -> a
  `provision` message with `verify: true`: the provisioner keeps one (the recorded id, else the
  oldest), deletes the others, records it in the account's history and alerts.

Repairs go through the provision queue, so they get the provisioner's retries, DLQ and history.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hubspot_app import logs
from hubspot_app.airbyte.client import AirbyteClient
from hubspot_app.airbyte.spec import (
    config_hash,
    connection_drift,
    connection_settings,
    prefix,
    source_drift,
    source_name,
    source_public_config,
    token_fingerprint,
    workspace_name,
)
from hubspot_app.messaging.queues import provision_message
from hubspot_app.models import Account, AccountStatus, utcnow

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

log = logging.getLogger(__name__)


@dataclass
class Finding:
    hub_id: int | None
    problem: str
    action: str          # provision, deprovision, report
    detail: str = ""


@dataclass
class Report:
    accounts: int = 0
    findings: list[Finding] = field(default_factory=list)
    queued: int = 0
    by_status: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"accounts": self.accounts, "queued": self.queued, "by_status": self.by_status,
                "findings": [asdict(f) for f in self.findings]}


def _live(items) -> dict:
    return {i.get("connectionId") or i.get("sourceId"): i for i in items
            if i.get("status") != "deprecated"}


def plan(svc: Services, client: AirbyteClient | None = None) -> Report:
    settings = svc.settings
    client = client or svc.airbyte()
    creds = svc.app_credentials()
    accounts = list(Account.scan())
    report = Report(accounts=len(accounts))
    for a in accounts:
        report.by_status[a.status] = report.by_status.get(a.status, 0) + 1
    # Airbyte's side, listed once per workspace the accounts use.
    workspaces = {a.airbyte_workspace_id for a in accounts if a.airbyte_workspace_id}
    if settings.airbyte.workspace_id:
        workspaces.add(settings.airbyte.workspace_id)
    sources, connections = {}, {}
    for ws in sorted(workspaces):
        sources.update(_live(client.list_sources(ws)))
        connections.update(_live(client.list_connections(ws)))
    named_sources = Counter(s.get("name") for s in sources.values())
    named_connections = Counter(c.get("name") for c in connections.values())
    duplicated: set[str] = set()  # names reported as duplicates (not orphans)
    now = utcnow()
    stuck_before = now - timedelta(seconds=settings.provisioning.reconcile_stuck_after_seconds)
    public = source_public_config(settings, creds)
    referenced_sources, referenced_connections = set(), set()
    for a in accounts:
        hub_id = int(a.hub_id)
        referenced_sources.add(a.airbyte_source_id)
        referenced_connections.add(a.airbyte_connection_id)
        conn = connections.get(a.airbyte_connection_id) if a.airbyte_connection_id else None
        src = sources.get(a.airbyte_source_id) if a.airbyte_source_id else None
        lease_active = a.provision_lease_until is not None and a.provision_lease_until > now
        def add(problem, action, detail="", hub_id=hub_id):
            report.findings.append(Finding(hub_id, problem, action, detail))
        if a.status == AccountStatus.UNINSTALLED:
            pause = settings.provisioning.reconcile_uninstalled_action == "pause"
            if conn is not None and (not pause or conn.get("status") == "active"):
                add("uninstalled account still has a connection", "deprovision",
                    a.airbyte_connection_id)
            elif src is not None and not pause:
                add("uninstalled account still has a source", "deprovision", a.airbyte_source_id)
            continue
        if a.status == AccountStatus.NEEDS_REAUTH:
            continue  # the token-health check owns these (connection paused until re-install)
        if a.status == AccountStatus.PROVISIONING_FAILED:
            add("provisioning failed; message in the DLQ", "report", a.provision_error or "")
            continue
        if a.status in (AccountStatus.INSTALLED, AccountStatus.PROVISIONING):
            since = a.updated_at or a.installed_at
            if not lease_active and since and since < stuck_before:
                add(f"stuck in {a.status}", "provision",
                    f"since {since.isoformat(timespec='seconds')}")
            continue
        # Active accounts: compare with Airbyte.
        problems = []
        if conn is None:
            problems.append("connection missing in Airbyte")
        if src is None:
            problems.append("source missing in Airbyte")
        if conn is not None and src is not None:
            # Streams: against those recorded at provisioning (no discover per account here);
            # the repair (provision with verify) compares them with Airbyte's discovery.
            drift = connection_drift(conn, connection_settings(settings, hub_id),
                                     a.airbyte_source_id, conn.get("destinationId"),
                                     [str(i) for i in a.airbyte_streams or []])
            if drift:
                problems.append("connection settings differ: " + ", ".join(drift))
        if src is not None:
            drift = source_drift(src, public)
            if drift:
                problems.append("source settings differ: " + ", ".join(drift))
        for kind, name, named in (
                ("sources", source_name(settings, hub_id), named_sources),
                ("connections", connection_settings(settings, hub_id)["name"], named_connections)):
            if named[name] > 1:
                problems.append(f"{named[name]} {kind} named {name} in Airbyte (duplicates)")
                duplicated.add(name)
        if a.airbyte_token_fingerprint != token_fingerprint(a, creds):
            problems.append("refresh token changed since it was pushed")
        if a.airbyte_config_hash != config_hash(settings, creds, hub_id):
            problems.append("stage settings changed since provisioning")
        if problems and not lease_active:
            add("; ".join(problems), "provision")
    # Resources with our names that no account points at (e.g. made by hand, or left over).
    ours = prefix(settings) + "-hub-"
    for sid, s in sources.items():
        if s.get("name", "").startswith(ours) and sid not in referenced_sources \
                and s["name"] not in duplicated:
            report.findings.append(Finding(_hub_of(s["name"], ours), "orphan source in Airbyte",
                                           "report", sid))
    for cid, c in connections.items():
        if c.get("name", "").startswith(ours) and cid not in referenced_connections \
                and c["name"] not in duplicated:
            report.findings.append(Finding(_hub_of(c["name"], ours),
                                           "orphan connection in Airbyte", "report", cid))
    return report


def _hub_of(name: str, ours: str) -> int | None:
    digits = name[len(ours):].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def queue_repairs(svc: Services, report: Report) -> int:
    """Send one message per actionable finding (batches of 10)."""
    sqs = svc.sqs
    url = svc.queue_url(svc.settings.provisioning.queue_name)
    day = utcnow().strftime("%Y%m%dT%H")
    entries: list[dict] = []
    for f in report.findings:
        if f.action not in ("provision", "deprovision") or f.hub_id is None:
            continue
        body = provision_message(f.hub_id, f"reconcile:{f.hub_id}:{day}",
                                 f"reconcile: {f.problem}"[:300])
        body.update(type=f.action, verify=True)
        entries.append({"Id": str(len(entries)), "MessageBody": json.dumps(body),
                        "MessageAttributes": {"hub_id": {"DataType": "Number",
                                                         "StringValue": str(f.hub_id)}}})
    sent = 0
    for start in range(0, len(entries), 10):
        chunk = [{**e, "Id": str(i)} for i, e in enumerate(entries[start:start + 10])]
        result = sqs.send_message_batch(QueueUrl=url, Entries=chunk)
        sent += len(result.get("Successful", []))
        for failed in result.get("Failed", []):
            logs.log_event(log, "reconcile could not queue a repair", logging.ERROR,
                           code=failed.get("Code"))
    report.queued = sent
    return sent


def run(svc: Services, apply: bool = True, client: AirbyteClient | None = None) -> Report:
    report = plan(svc, client)
    if apply:
        queue_repairs(svc, report)
    for f in report.findings:
        with logs.hub_context(f.hub_id):
            logs.log_event(log, "reconcile finding", logging.WARNING, problem=f.problem,
                           action=f.action, detail=f.detail, queued=apply)
    logs.log_event(log, "reconcile done", accounts=report.accounts,
                   findings=len(report.findings), queued=report.queued, by_status=report.by_status)
    return report


def run_scheduled(svc: Services) -> dict:
    report = run(svc, apply=True)
    return {"accounts": report.accounts, "findings": len(report.findings),
            "queued": report.queued}


__all__ = ["Finding", "Report", "plan", "queue_repairs", "run", "run_scheduled", "workspace_name"]
