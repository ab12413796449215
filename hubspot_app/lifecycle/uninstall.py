"""Offboarding an account: what happens when it uninstalls the app.

Triggered by an APP_UNINSTALL event in HubSpot's webhooks journal (hubspot_app.lifecycle.journal, through
the lifecycle queue), by the health check (refused refresh tokens, after
`TOKEN_BROKEN_UNINSTALL_AFTER_DAYS`), or by an operator
(`python -m hubspot_app.ops health uninstall <hub_id>`). In order, each step safe to repeat
(a failed run is retried from the top and skips what is already done):

1. the account is marked `uninstalled` first, so every later message for it is refused
   (token checks skip it; the provisioner must too);
2. its Airbyte connection, then its source, are deleted (already gone counts as done) by the
   provisioner's `deprovision`, under the account's lease: a provisioning run in flight is
   waited for (the message comes back when its lease ends); that run cannot write `active`
   over the uninstall, and what it created is deleted here once it let go
   (tests/integration/provisioning/test_offboarding_race.py);
3. its refresh token is revoked at HubSpot (best effort: after a real uninstall HubSpot has
   already revoked it) and deleted from the item, with the personal data (user e-mail, user id,
   hub domain, scopes) and the Airbyte ids;
4. if `UNINSTALL_PURGE_S3` is on, `raw/<hub_id>/` is deleted from the lake bucket and, with
   `GLUE_JOB_NAME` set, a curate job run `--purge_hub_ids <hub_id>` is started: the curated
   Apache Iceberg tables change only by commits, so the job deletes the account's rows (one
   commit per table) and expires the snapshots that still hold them (glue/curate_job.py);
   deleting their data files from here would break every account's reads;
5. an audit record remains: hub_id, time, source, reason, steps done, objects purged. No e-mail,
   no domain, no token.

What stays on the account item is a tombstone (hub_id, status, times, install count). A
re-install goes through the normal callback, which sets user, token and status `installed`
again, and the provisioner starts from no Airbyte ids: a fresh start. An uninstall event that
occurred before the account's latest install is ignored (HubSpot can deliver late).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hubspot_app import logs
from hubspot_app.metrics import emit_metric

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

log = logging.getLogger(__name__)

SOURCES = ("journal", "webhook", "health_check", "operator")


@dataclass
class UninstallReport:
    hub_id: int
    done: bool
    steps: list[str] = field(default_factory=list)
    purged_objects: int = 0


def lake_prefixes(hub_id: int, raw_prefix: str = "raw") -> str:
    """The raw prefix of one account. hub_id must be a positive int: no path can be smuggled in."""
    if isinstance(hub_id, bool) or not isinstance(hub_id, int) or hub_id <= 0:
        raise ValueError("hub_id must be a positive integer")
    return f"{raw_prefix.strip('/')}/{hub_id}/"


def purge_lake(s3, bucket: str, hub_id: int, raw_prefix: str = "raw",
               curated_prefix: str = "curated") -> int:
    """Delete the account's raw folder and its curated partitions; returns objects deleted."""
    prefixes = [lake_prefixes(hub_id, raw_prefix)]
    paginator = s3.get_paginator("list_objects_v2")
    curated = curated_prefix.strip("/") + "/"
    for page in paginator.paginate(Bucket=bucket, Prefix=curated, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            prefixes.append(f"{common['Prefix']}hub_id={hub_id}/")
    deleted = 0
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])
                    if o["Key"].startswith(prefix)]
            for start in range(0, len(keys), 1000):
                chunk = keys[start:start + 1000]
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                if answer.get("Errors"):
                    raise RuntimeError(f"{len(answer['Errors'])} objects not deleted under {prefix}")
                deleted += len(chunk)
    return deleted


class Uninstaller:
    """Offboards accounts with the container's Services (settings, tables, clients; the
    lifecycle worker wires it: hubspot_app.handlers.lifecycle). `airbyte_client` None: this
    stage has no Airbyte; `oauth` None: nothing is revoked at HubSpot."""

    def __init__(self, svc: Services, airbyte_client=None, oauth=None, *, s3=None, glue=None,
                 kms=None, alert=None, now=None):
        self.services = svc
        self.settings, self.health, self.oauth = svc.settings, svc.settings.lifecycle, oauth
        self.airbyte_client = airbyte_client  # hubspot_app.airbyte.client.AirbyteClient
        # Created at their first call: most uninstalls purge nothing.
        self.s3 = s3 or svc.lazy_client("s3")
        self.glue = glue or svc.lazy_client("glue")
        self.kms = kms or svc.lazy_client("kms")
        self._alert = alert or svc.alert
        self.now = now or (lambda: datetime.now(UTC))

    def from_message(self, message: dict) -> UninstallReport:
        from hubspot_app.hub_ids import parse_hub_id

        return self.uninstall(parse_hub_id(message["hub_id"]), source=message.get("source", "journal"),
                              reason=message.get("reason", ""),
                              occurred_at_ms=message.get("occurred_at_ms"),
                              purge=message.get("purge"))

    def uninstall(self, hub_id: int, source: str, reason: str = "",
                  occurred_at_ms: int | None = None, purge: bool | None = None) -> UninstallReport:
        from pynamodb.exceptions import DoesNotExist

        from hubspot_app.models import Account, AccountStatus

        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")
        lake_prefixes(hub_id)  # validates hub_id
        report = UninstallReport(hub_id, done=False)
        with logs.hub_context(hub_id):
            try:
                account = Account.get(hub_id)
            except DoesNotExist:
                logs.log_event(log, "uninstall for an unknown account ignored", source=source)
                report.steps.append("no_account")
                return report
            if occurred_at_ms is not None and account.installed_at is not None and \
                    account.installed_at.timestamp() * 1000 > occurred_at_ms:
                logs.log_event(log, "uninstall event older than the latest install ignored",
                               source=source)
                report.steps.append("stale_event_ignored")
                return report
            if account.status == AccountStatus.UNINSTALLED and self._already_done(account):
                logs.log_event(log, "account already offboarded", source=source)
                report.steps.append("already_uninstalled")
                report.done = True
                return report
            now = self.now()
            if account.status != AccountStatus.UNINSTALLED:
                # First, so that everything else refuses work for this account from now on.
                account.update(actions=[Account.status.set(AccountStatus.UNINSTALLED),
                                        Account.uninstalled_at.set(now), Account.updated_at.set(now)])
                report.steps.append("marked_uninstalled")
            self._deprovision(account, report)
            if source == "operator":
                self._uninstall_in_hubspot(account, report)
            self._revoke_and_forget(account, report)
            if self.health.purge_s3_on_uninstall if purge is None else purge:
                report.purged_objects = self._purge(hub_id)
                report.steps.append("lake_purged")
            self._audit(hub_id, source, reason, report, now)
            report.done = True
        self._alert("uninstalled", hub_id, "info", f"Account offboarded ({source})",
                    "Nothing to do. A re-install starts from scratch; the audit record is in "
                    f"{self.health.audit_table}.", steps=",".join(report.steps),
                    purged_objects=report.purged_objects, reason=reason or None)
        emit_metric("Uninstalls", 1, "Count", Source=source)
        logs.log_event(log, "account uninstalled", hub_id=hub_id, source=source, steps=report.steps,
                       purged_objects=report.purged_objects)
        return report

    @staticmethod
    def _already_done(account) -> bool:
        """The audit record is written last: one since this uninstall began means all is done."""
        from hubspot_app.models import UninstallAudit

        if account.uninstalled_at is None:
            return False
        since = account.uninstalled_at.isoformat(timespec="milliseconds")
        return any(True for _ in UninstallAudit.query(account.hub_id, UninstallAudit.at >= since,
                                                      limit=1))

    def _deprovision(self, account, report: UninstallReport) -> None:
        """The provisioner's lease-protected deprovision (one offboarding for every path):
        while a provisioning run holds the account this raises Busy, a Transient, and the
        message comes back when the lease ends; that run cannot write `active` back."""
        from hubspot_app.lifecycle.provisioner import deprovision

        if self.airbyte_client is None:
            if account.airbyte_connection_id or account.airbyte_source_id or \
                    account.provision_lease_owner:
                raise RuntimeError("Airbyte is not configured, cannot delete the account's "
                                   "connection and source; set AIRBYTE_SECRET_NAME")
            return
        outcome = deprovision(self.services, account.hub_id, action="delete",
                              owner=f"uninstall-{uuid.uuid4().hex[:12]}",
                              client=self.airbyte_client)
        # "connection deleted" -> connection_deleted, "source already gone" -> ...
        report.steps += [change.replace(" ", "_") for change in outcome.changes]

    def _uninstall_in_hubspot(self, account, report: UninstallReport) -> None:
        """An operator's offboarding also uninstalls the app in HubSpot, so both agree:
        DELETE /appinstalls/2026-03/external-install with the account's access token
        (HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/CRM/App Uninstalls/Rollouts/
        209039/2026-03/appUninstalls.json). A refused refresh token means HubSpot has already
        uninstalled it; HubSpot being unreachable fails the run, which is safe to repeat."""
        from hubspot_app.hubspot_oauth import InvalidGrant
        from hubspot_app.token_crypto import TokenDecryptError, decrypt_token

        if not account.refresh_token_encrypted or self.oauth is None:
            return
        try:
            token = decrypt_token(account.refresh_token_encrypted, account.hub_id, kms=self.kms)
        except TokenDecryptError:
            report.steps.append("hubspot_uninstall_skipped")
            return
        logs.register_secret(token)
        try:
            access = self.oauth.refresh(token).access_token
            logs.register_secret(access)
            self.oauth.uninstall_app(access)
            report.steps.append("hubspot_uninstalled")
        except InvalidGrant:
            report.steps.append("hubspot_already_uninstalled")

    def _revoke_and_forget(self, account, report: UninstallReport) -> None:
        from hubspot_app.hubspot_oauth import HubSpotOAuthError
        from hubspot_app.models import Account
        from hubspot_app.token_crypto import TokenDecryptError, decrypt_token

        if account.refresh_token_encrypted:
            if self.oauth is not None:
                try:
                    token = decrypt_token(account.refresh_token_encrypted, account.hub_id, kms=self.kms)
                    logs.register_secret(token)
                    self.oauth.revoke(token)
                    report.steps.append("token_revoked")
                except (TokenDecryptError, HubSpotOAuthError) as exc:
                    # Already revoked by HubSpot's uninstall, or not ours to revoke: deleting it is what counts.
                    report.steps.append("token_revoke_skipped")
                    logs.log_event(log, "refresh token not revoked", logging.INFO,
                                   error=type(exc).__name__)
            report.steps.append("token_deleted")
        # Personal data and credentials go; the tombstone keeps hub_id, status and times.
        account.update(actions=[
            Account.refresh_token_encrypted.remove(), Account.user.remove(), Account.user_id.remove(),
            Account.hub_domain.remove(), Account.scopes.remove(), Account.airbyte_connection_id.remove(),
            Account.airbyte_source_id.remove(), Account.open_alerts.remove(),
            Account.paused_by_health.remove(), Account.token_health.set("revoked"),
            Account.token_error.remove(), Account.token_broken_at.remove()])

    def _purge(self, hub_id: int) -> int:
        lake = self.settings.lake
        if not lake.bucket:
            raise RuntimeError("UNINSTALL_PURGE_S3 is on but LAKE_BUCKET is not set")
        n = purge_lake(self.s3, lake.bucket, hub_id, lake.raw_prefix, lake.curated_prefix)
        job = self.settings.glue.job_name
        if job:  # queued behind a running curate run (JobRunQueuingEnabled in the template)
            run = self.glue.start_job_run(JobName=job, Arguments={"--purge_hub_ids": str(hub_id)})
            logs.log_event(log, "curated purge run started", hub_id=hub_id,
                           job_run_id=run.get("JobRunId"))
        return n

    def _audit(self, hub_id: int, source: str, reason: str, report: UninstallReport, now) -> None:
        from hubspot_app.models import UninstallAudit

        UninstallAudit(hub_id=hub_id, at=now.isoformat(timespec="milliseconds"), source=source,
                       reason=(logs.redact(reason)[:200] or None), steps=list(report.steps),
                       purged_objects=report.purged_objects, stage=self.settings.stage).save()
